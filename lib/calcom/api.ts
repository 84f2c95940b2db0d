/**
 * Cal.com's API v2 bookings (`cal-api-version: 2024-08-13`, see docs/calcom/api-v2-bookings.md):
 * the request shapes reconciliation sends and the answers it reads. A booking the API shows
 * becomes one `snapshot` Job event, so it goes through the same derivation as a webhook. Pure.
 */
import { z } from "zod";
import type { DraftJobEvent, EventAttendee, SnapshotStatus } from "../domain/job.ts";
import { normalizeEmail } from "../domain/contact.ts";
import type { Interpretation } from "../domain/submission.ts";
import { isoOrNull, nonEmpty, RESCHEDULE_REQUEST_REASON } from "./normalize.ts";

/**
 * Pinned: an absent or unknown version is silently routed to the 2024-04-15 handler, whose answer
 * has another shape altogether.
 */
export const API_VERSION = "2024-08-13";
export const DEFAULT_API_URL = "https://api.cal.com/v2";
/** Page size asked for (Cal.com allows 1–250). */
export const PAGE_SIZE = 100;

const nullableString = z.string().nullish();

const apiAttendee = z.looseObject({
  name: nullableString,
  email: nullableString,
  timeZone: nullableString,
  phoneNumber: nullableString,
  absent: z.boolean().nullish(),
  seatUid: nullableString,
});

export const apiBookingSchema = z.looseObject({
  uid: z.string().trim().min(1).max(256),
  title: nullableString,
  status: z.string(),
  start: z.string(),
  end: nullableString,
  hosts: z.array(z.looseObject({ email: nullableString })).nullish(),
  attendees: z.array(apiAttendee).nullish(),
  location: nullableString,
  cancellationReason: nullableString,
  rescheduledFromUid: nullableString,
  rescheduledToUid: nullableString,
  rootBookingUid: nullableString,
  recurringBookingUid: nullableString,
  createdAt: nullableString,
  updatedAt: nullableString,
  bookingFieldsResponses: z.record(z.string(), z.unknown()).nullish(),
});
export type ApiBooking = z.infer<typeof apiBookingSchema>;

/** `GET /v2/bookings`: offset paging; `totalItems`/`hasNextPage` are advisory (Cal.com's count may be estimated). */
export const bookingListSchema = z.looseObject({
  status: z.literal("success"),
  data: z.array(z.unknown()),
  pagination: z.looseObject({ hasNextPage: z.boolean().nullish(), totalItems: z.number().nullish() })
    .nullish(),
});

/** `GET /v2/bookings/{uid}`: one booking, or every occurrence when the uid is a recurring series'. */
export const bookingReadSchema = z.looseObject({
  status: z.literal("success"),
  data: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]),
});

/** The list query of one page: every status (no filter hides nothing), oldest change first. */
export function listQuery(window: { after: string | null; before: string }, skip: number): URLSearchParams {
  const q = new URLSearchParams();
  if (window.after) q.set("afterUpdatedAt", window.after);
  q.set("beforeUpdatedAt", window.before);
  q.set("sortUpdatedAt", "asc");
  q.set("take", String(PAGE_SIZE));
  q.set("skip", String(skip));
  return q;
}

/** The headers Cal.com's API needs on every call. */
export function apiHeaders(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, "cal-api-version": API_VERSION, accept: "application/json" };
}

/** When a booking last changed (Cal.com's `updatedAt` may be null on old rows: then its creation). */
export function changedAt(b: ApiBooking): string | null {
  return isoOrNull(b.updatedAt) ?? isoOrNull(b.createdAt);
}

const KNOWN_STATUSES: readonly SnapshotStatus[] = [
  "accepted",
  "pending",
  "cancelled",
  "rejected",
  "awaiting_host",
];

/** Fields of `bookingFieldsResponses` that are not the booking form's custom answers. */
const SYSTEM_FIELDS = new Set([
  "name",
  "email",
  "guests",
  "location",
  "notes",
  "title",
  "attendeePhoneNumber",
  "rescheduledReason",
  "rescheduleReason",
  "displayEmail",
  "displayGuests",
]);

/** What an API booking (the stored snapshot text) means: one `snapshot` event of its Job. */
export function interpretSnapshot(text: string, fallbackAt: string): Interpretation {
  let parsed: ReturnType<typeof apiBookingSchema.safeParse>;
  try {
    parsed = apiBookingSchema.safeParse(JSON.parse(text));
  } catch {
    return { kind: "invalid", reason: "The stored API booking is not JSON." };
  }
  if (!parsed.success) {
    return {
      kind: "invalid",
      reason: `Cal.com's API answered a booking this service cannot read: ${parsed.error.message}`,
    };
  }
  const b = parsed.data;
  const uid = b.uid.trim();
  const status = b.status.toLowerCase() as SnapshotStatus;
  const attendees = apiAttendees(b);
  const seated = (b.attendees ?? []).some((a) => !!a.seatUid);
  const at = changedAt(b) ?? fallbackAt;
  const reason = nonEmpty(b.cancellationReason);
  const replacedBy = status === "cancelled" ? nonEmpty(b.rescheduledToUid) : null;
  const links = seated ? [] : [nonEmpty(b.rescheduledFromUid), nonEmpty(b.rootBookingUid)]
    .filter((id): id is string => id !== null && id !== uid);
  const event: DraftJobEvent = {
    kind: "snapshot",
    uid,
    at,
    links: [...new Set(links)],
    replaced_by: replacedBy && replacedBy !== uid ? replacedBy : null,
    snapshot_status: KNOWN_STATUSES.includes(status) ? status : null,
    seated,
    attendees,
    title: nonEmpty(b.title),
    start_time: isoOrNull(b.start),
    end_time: isoOrNull(b.end),
    location: nonEmpty(b.location),
    organizer_email: normalizeEmail(b.hosts?.[0]?.email ?? null),
    responses: customAnswers(b.bookingFieldsResponses ?? {}),
    request_reschedule: status === "cancelled" && !replacedBy && RESCHEDULE_REQUEST_REASON.test(reason ?? ""),
    cancellation_reason: status === "cancelled" ? reason : null,
  };
  const booker = attendees[0] ?? null;
  return {
    kind: "booking",
    fields: {
      event_type: "API_SNAPSHOT",
      booking_uid: uid,
      title: event.title ?? null,
      start_time: event.start_time ?? null,
      end_time: event.end_time ?? null,
      attendee_name: booker?.name ?? null,
      attendee_email: booker?.email ?? null,
      attendee_time_zone: booker?.time_zone ?? null,
      organizer_email: event.organizer_email ?? null,
      rescheduled_from_uid: nonEmpty(b.rescheduledFromUid),
      cancellation_reason: event.cancellation_reason ?? null,
      created_at: at,
    },
    events: [event],
  };
}

function apiAttendees(b: ApiBooking): EventAttendee[] {
  const out: EventAttendee[] = [];
  const seen = new Set<string>();
  for (const a of b.attendees ?? []) {
    const email = normalizeEmail(a.email ?? null);
    if (!email || seen.has(email)) continue;
    seen.add(email);
    const asSent = nonEmpty(a.email);
    out.push({
      email,
      email_as_sent: asSent === email ? null : asSent,
      name: nonEmpty(a.name),
      time_zone: nonEmpty(a.timeZone),
      phone: nonEmpty(a.phoneNumber),
      no_show: a.absent === true,
    });
  }
  return out;
}

function customAnswers(responses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(responses).filter(([k, v]) => !SYSTEM_FIELDS.has(k) && v !== undefined),
  );
}
