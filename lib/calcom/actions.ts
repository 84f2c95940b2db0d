/**
 * Write-back in Cal.com's words (API v2, 2024-08-13), pure: the request each action is
 * (`POST /v2/bookings/{uid}/cancel`, `/reschedule`, `/mark-absent`, `/confirm`, `/decline`), what a
 * refusal says, and whether a booking as Cal.com shows it already carries an action's effect (how a
 * retry after a crash tells "done" from "never sent" without acting twice).
 */
import type { ApiBooking } from "./api.ts";
import type { WriteBackAction } from "../domain/job.ts";

export interface ActionInput {
  reason: string | null;
  start: string | null;
  attendees: string[] | null;
  host: boolean | null;
  /** Who it is done for, as Cal.com's `rescheduledBy` (an email), when known. */
  by_email: string | null;
}

/** The path under `/v2/bookings/{uid}/` and the JSON body of an action. */
export function actionRequest(action: WriteBackAction, input: ActionInput): { path: string; body: unknown } {
  switch (action) {
    case "cancel":
      return { path: "cancel", body: input.reason ? { cancellationReason: input.reason } : {} };
    case "reschedule":
      return {
        path: "reschedule",
        body: {
          start: input.start,
          ...(input.reason ? { reschedulingReason: input.reason } : {}),
          ...(input.by_email ? { rescheduledBy: input.by_email } : {}),
        },
      };
    case "no_show":
      return {
        path: "mark-absent",
        body: {
          ...(input.host ? { host: true } : {}),
          ...(input.attendees?.length
            ? { attendees: input.attendees.map((email) => ({ email, absent: true })) }
            : {}),
        },
      };
    case "confirm":
      return { path: "confirm", body: {} };
    case "decline":
      return { path: "decline", body: input.reason ? { reason: input.reason } : {} };
  }
}

/** Whether Cal.com's booking already shows the action done. */
export function showsEffect(action: WriteBackAction, booking: ApiBooking, input: ActionInput): boolean {
  const status = booking.status.toLowerCase();
  switch (action) {
    case "cancel":
      return status === "cancelled" && !booking.rescheduledToUid;
    case "decline":
      return status === "rejected";
    case "confirm":
      return status === "accepted";
    case "reschedule":
      return Boolean(booking.rescheduledToUid);
    case "no_show": {
      const absent = new Set(
        (booking.attendees ?? []).filter((a) => a.absent === true).map((a) => a.email?.toLowerCase()),
      );
      return (input.attendees ?? []).every((email) => absent.has(email.toLowerCase())) &&
        (input.attendees?.length ?? 0) > 0;
    }
  }
}

/** Cal.com's refusal message (`{error: {message}}` or `{message}`), trimmed. */
export function refusalMessage(body: unknown): string {
  const b = body as { error?: { message?: unknown }; message?: unknown } | null;
  const message = b?.error?.message ?? b?.message;
  return typeof message === "string" ? message.slice(0, 300) : "";
}
