/**
 * Every Cal.com trigger this service acts on, in one table: which body shape it has, which Job
 * event kind it becomes, which time orders it, and what it must carry. Adding a trigger is one
 * entry here; what its kind does to a Job is one entry in `domain/job.ts`. A signed trigger that
 * is not listed is stored as `ignored`.
 */
import type { JobEventKind } from "../domain/job.ts";

/** Which time of the body orders the event among the Job's others. */
export type OrderedBy = "created_at" | "start_time" | "end_time";

export interface TriggerRule {
  kind: JobEventKind;
  /** `booking`: the usual booking payload; `no_show`: `{bookingUid, attendees: [{email, noShow}]}`. */
  shape: "booking" | "no_show";
  orderedBy: OrderedBy;
  /** Brings a new appointment time: without a start time and a booker the body is unusable. */
  needsTimeAndBooker: boolean;
}

const booking = (kind: JobEventKind, needsTimeAndBooker = false): TriggerRule => ({
  kind,
  shape: "booking",
  orderedBy: "created_at",
  needsTimeAndBooker,
});

export const TRIGGERS: Readonly<Record<string, TriggerRule>> = {
  BOOKING_REQUESTED: booking("requested", true),
  BOOKING_CREATED: booking("created", true),
  BOOKING_RESCHEDULED: booking("rescheduled", true),
  BOOKING_CANCELLED: booking("cancelled"),
  BOOKING_REJECTED: booking("rejected"),
  BOOKING_PAYMENT_INITIATED: booking("payment_initiated"),
  BOOKING_PAID: booking("paid"),
  // Hosted Cal.com only (documented, not in the open-source code): a new organizer or host set,
  // and a new location, on the same booking.
  BOOKING_REASSIGNED: booking("reassigned"),
  BOOKING_LOCATION_UPDATED: booking("location_updated"),
  BOOKING_NO_SHOW_UPDATED: {
    kind: "no_show",
    shape: "no_show",
    orderedBy: "created_at",
    needsTimeAndBooker: false,
  },
  // Flat bodies whose `createdAt` is the booking's: ordered by the meeting's own times.
  MEETING_STARTED: { ...booking("meeting_started"), orderedBy: "start_time" },
  MEETING_ENDED: { ...booking("meeting_ended"), orderedBy: "end_time" },
};

/** Cal.com's "Ping test". */
export const PING_TRIGGER = "PING";

export function triggerRule(trigger: string): TriggerRule | null {
  return Object.hasOwn(TRIGGERS, trigger) ? TRIGGERS[trigger] : null;
}
