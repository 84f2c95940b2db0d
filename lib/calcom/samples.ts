/**
 * Realistic Cal.com webhook bodies for `deno task send`: every trigger the service handles, in the
 * shapes Cal.com's own code builds (see docs/calcom/webhooks.md, Shapes: the wrapped envelope, the
 * cancel path's `+00:00` times and `null` prices, the flat MEETING_* bodies, no-show's
 * `bookingUid`), and whole stories like `stripe trigger`. Pure: the caller signs and sends.
 */
import { isoUtc } from "../time.ts";

export interface SampleOptions {
  uid: string;
  email: string;
  name: string;
  /** The appointment's start (ISO). */
  start: string;
  /**
   * When Cal.com built the body (ISO), normally now: a story's last step is stamped with it and the
   * earlier ones a little before, so nothing claims to come from the future.
   */
  at: string;
}

export interface SampleStep {
  trigger: string;
  body: string;
  /** The booking uid whose Job the step ends on. */
  uid: string;
}

export const SAMPLE_TRIGGERS = [
  "BOOKING_CREATED",
  "BOOKING_REQUESTED",
  "BOOKING_RESCHEDULED",
  "BOOKING_CANCELLED",
  "BOOKING_REJECTED",
  "BOOKING_PAYMENT_INITIATED",
  "BOOKING_PAID",
  "BOOKING_NO_SHOW_UPDATED",
  "BOOKING_REASSIGNED",
  "BOOKING_LOCATION_UPDATED",
  "MEETING_STARTED",
  "MEETING_ENDED",
  "PING",
] as const;
export type SampleTrigger = typeof SAMPLE_TRIGGERS[number];

export const SCENARIOS = ["create-reschedule-cancel", "seated", "recurring", "paid"] as const;
export type Scenario = typeof SCENARIOS[number];

const ORGANIZER = {
  id: 4821,
  name: "Dana Whitfield",
  email: "dana@northpeak-plumbing.example",
  username: "dana-northpeak",
  timeZone: "America/Denver",
  language: { locale: "en" },
  timeFormat: "h:mma",
  utcOffset: -360,
};

const plusMinutes = (iso: string, minutes: number) => isoUtc(Date.parse(iso) + minutes * 60_000);
/** Cal.com's `dayjs.utc().format()`: no milliseconds, `Z`. */
const calTime = (iso: string) => iso.replace(/\.\d{3}Z$/, "Z");
/** The cancel path's `dayjs().format()`: `+00:00`. */
const cancelTime = (iso: string) => calTime(iso).replace(/Z$/, "+00:00");

function attendee(o: SampleOptions) {
  const [firstName, ...rest] = o.name.split(" ");
  return {
    email: o.email,
    name: o.name,
    firstName,
    lastName: rest.join(" "),
    timeZone: "America/Denver",
    language: { locale: "en" },
    utcOffset: -360,
  };
}

function bookingPayload(o: SampleOptions, extra: Record<string, unknown> = {}) {
  return {
    bookerUrl: "https://cal.com",
    type: "on-site-estimate",
    title: `On-site Estimate between ${ORGANIZER.name} and ${o.name}`,
    description: "Free on-site estimate for plumbing repairs and installs.",
    additionalNotes: "Water heater is leaking from the base.",
    customInputs: {},
    startTime: calTime(o.start),
    endTime: calTime(plusMinutes(o.start, 60)),
    eventTypeId: 73104,
    seatsPerTimeSlot: null,
    organizer: ORGANIZER,
    attendees: [attendee(o)],
    responses: {
      name: { label: "your_name", value: o.name, isHidden: false },
      email: { label: "email_address", value: o.email, isHidden: false },
      notes: { label: "additional_notes", value: "Water heater is leaking from the base.", isHidden: false },
      "job-type": {
        label: "What do you need help with?",
        value: "Water heater repair/replacement",
        isHidden: false,
      },
    },
    userFieldsResponses: {
      "job-type": {
        label: "What do you need help with?",
        value: "Water heater repair/replacement",
        isHidden: false,
      },
    },
    location: "1287 Juniper Ridge Rd, Boulder, CO 80302",
    iCalUID: `${o.uid}@Cal.com`,
    iCalSequence: 0,
    uid: o.uid,
    bookingId: 100_000 + (hash(o.uid) % 900_000),
    metadata: {},
    status: "ACCEPTED",
    price: 0,
    currency: "usd",
    length: 60,
    ...extra,
  };
}

function hash(text: string): number {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h;
}

const envelope = (trigger: string, at: string, payload: Record<string, unknown>) =>
  JSON.stringify({ triggerEvent: trigger, createdAt: at, payload });

/** One body of `trigger` for the booking described by `o`. */
export function sampleBody(trigger: SampleTrigger, o: SampleOptions): SampleStep {
  const step = (body: string, uid = o.uid): SampleStep => ({ trigger, body, uid });
  switch (trigger) {
    case "BOOKING_CREATED":
      return step(envelope(trigger, o.at, bookingPayload(o)));
    case "BOOKING_REQUESTED":
      return step(
        envelope(trigger, o.at, bookingPayload(o, { status: "PENDING", requiresConfirmation: true })),
      );
    case "BOOKING_RESCHEDULED": {
      const moved = { ...o, uid: `${o.uid}-r`, start: plusMinutes(o.start, 24 * 60) };
      return step(
        envelope(
          trigger,
          o.at,
          bookingPayload(moved, {
            rescheduleUid: o.uid,
            rescheduleStartTime: calTime(o.start),
            rescheduleEndTime: calTime(plusMinutes(o.start, 60)),
            rescheduledBy: o.email,
          }),
        ),
        moved.uid,
      );
    }
    case "BOOKING_CANCELLED":
      return step(envelope(trigger, o.at, {
        ...bookingPayload(o, { status: "CANCELLED", price: null, length: null }),
        startTime: cancelTime(o.start),
        endTime: cancelTime(plusMinutes(o.start, 60)),
        cancellationReason: "Fixed it myself, thanks!",
        cancelledBy: o.email,
        requestReschedule: false,
        iCalSequence: 1,
      }));
    case "BOOKING_REJECTED":
      return step(
        envelope(
          trigger,
          o.at,
          bookingPayload(o, { status: "REJECTED", rejectionReason: "Outside our area" }),
        ),
      );
    case "BOOKING_PAYMENT_INITIATED":
      return step(envelope(trigger, o.at, bookingPayload(o, { price: 4900, paymentId: 7781 })));
    case "BOOKING_PAID":
      return step(envelope(
        trigger,
        o.at,
        bookingPayload(o, {
          price: 4900,
          paymentId: 7781,
          metadata: { identifier: "cal.com", bookingId: 1, eventTypeId: 73104, externalId: "pi_3Q_sample" },
        }),
      ));
    case "BOOKING_NO_SHOW_UPDATED":
      return step(envelope(trigger, o.at, {
        message: `${o.email} marked as no-show`,
        attendees: [{ email: o.email, noShow: true }],
        bookingUid: o.uid,
        bookingId: 1,
      }));
    case "BOOKING_REASSIGNED":
      return step(envelope(
        trigger,
        o.at,
        bookingPayload(o, {
          organizer: { ...ORGANIZER, id: 4822, name: "Sam Rivera", email: "sam@northpeak-plumbing.example" },
          addedHostUserIds: [4822],
          removedHostUserIds: [4821],
        }),
      ));
    case "BOOKING_LOCATION_UPDATED":
      return step(
        envelope(trigger, o.at, bookingPayload(o, { location: "https://cal.com/video/sample-room" })),
      );
    case "MEETING_STARTED":
    case "MEETING_ENDED":
      // Flat: the booking row, whose `createdAt` is the booking's own.
      return step(JSON.stringify({
        triggerEvent: trigger,
        id: 1,
        uid: o.uid,
        title: `On-site Estimate between ${ORGANIZER.name} and ${o.name}`,
        startTime: o.start,
        endTime: plusMinutes(o.start, 60),
        createdAt: o.at,
        status: "ACCEPTED",
        user: { email: ORGANIZER.email, name: ORGANIZER.name },
        attendees: [{ email: o.email, name: o.name, timeZone: "America/Denver" }],
      }));
    case "PING":
      return step(envelope(trigger, o.at, {
        type: "Test",
        title: "Test trigger event",
        startTime: o.at,
        endTime: o.at,
        attendees: [{
          email: "jdoe@example.com",
          name: "John Doe",
          timeZone: "Europe/London",
          language: { locale: "en" },
        }],
        organizer: {
          name: "Cal",
          email: "no-reply@cal.com",
          timeZone: "Europe/London",
          language: { locale: "en" },
        },
      }));
  }
}

/** The bodies of a whole story, in the order Cal.com sends them. */
export function scenario(name: Scenario, o: SampleOptions): SampleStep[] {
  /** `seconds` before `o.at`: the steps keep their order and spacing and end at `o.at`. */
  const ago = (seconds: number) => plusMinutes(o.at, -seconds / 60);
  switch (name) {
    case "create-reschedule-cancel": {
      const created = sampleBody("BOOKING_CREATED", { ...o, at: ago(120) });
      const moved = sampleBody("BOOKING_RESCHEDULED", { ...o, at: ago(60) });
      const cancelled = sampleBody("BOOKING_CANCELLED", {
        ...o,
        uid: moved.uid,
        start: plusMinutes(o.start, 24 * 60),
      });
      return [created, moved, cancelled];
    }
    case "seated": {
      const seated = (trigger: string, who: { email: string; name: string }, seconds: number) => ({
        trigger,
        uid: o.uid,
        body: envelope(trigger, ago(seconds), {
          ...bookingPayload({ ...o, ...who }, trigger === "BOOKING_CANCELLED" ? { status: "CANCELLED" } : {}),
          seatsPerTimeSlot: 10,
          seatsShowAttendees: false,
          attendeeSeatId: `seat-${hash(who.email)}`,
        }),
      });
      const guest = { email: `second.${o.email}`, name: "Riley Second" };
      return [
        seated("BOOKING_CREATED", o, 60),
        seated("BOOKING_CREATED", guest, 30),
        seated("BOOKING_CANCELLED", guest, 0),
      ];
    }
    case "recurring": {
      const recurringEvent = { freq: 2, count: 3, interval: 1 };
      const occurrences = [0, 1, 2].map((week) =>
        sampleBody("BOOKING_CREATED", {
          ...o,
          uid: `${o.uid}-${week + 1}`,
          start: plusMinutes(o.start, week * 7 * 24 * 60),
          at: ago(60),
        })
      ).map((s) => ({ ...s, body: withPayload(s.body, { recurringEvent }) }));
      const cancelAll = sampleBody("BOOKING_CANCELLED", { ...o, uid: `${o.uid}-1` });
      return [...occurrences, { ...cancelAll, body: withPayload(cancelAll.body, { recurringEvent }) }];
    }
    case "paid":
      return [
        sampleBody("BOOKING_PAYMENT_INITIATED", { ...o, at: ago(91) }),
        sampleBody("BOOKING_PAID", { ...o, at: ago(1) }),
        sampleBody("BOOKING_CREATED", o),
      ];
  }
}

function withPayload(body: string, extra: Record<string, unknown>): string {
  const parsed = JSON.parse(body);
  return JSON.stringify({ ...parsed, payload: { ...parsed.payload, ...extra } });
}
