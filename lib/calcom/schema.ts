/**
 * Zod schemas for the Cal.com bodies this service acts on. They are deliberately loose: Cal.com
 * adds fields freely, sends `null` where a value is "unset", and varies shapes between delivery
 * paths (see docs/calcom/webhooks.md, Shapes), so only the fields we use are described and unknown
 * keys pass through.
 */
import { z } from "zod";

const optionalString = z.string().nullish();
const isoDateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "is not a date-time");

export const attendeeSchema = z.looseObject({
  email: z.string().nullish(),
  name: z.string().nullish(),
  firstName: optionalString,
  lastName: optionalString,
  timeZone: optionalString,
  phoneNumber: optionalString,
  noShow: z.boolean().nullish(),
});

const responseValue = z.looseObject({ label: z.unknown().optional(), value: z.unknown().optional() });

export const bookingPayloadSchema = z.looseObject({
  uid: z.string().trim().min(1, "booking uid is empty"),
  title: optionalString,
  startTime: isoDateTime.nullish(),
  endTime: isoDateTime.nullish(),
  attendees: z.array(attendeeSchema).nullish(),
  organizer: z.looseObject({ email: optionalString }).nullish(),
  user: z.looseObject({ email: optionalString }).nullish(),
  responses: z.record(z.string(), responseValue.nullish()).nullish(),
  userFieldsResponses: z.record(z.string(), responseValue.nullish()).nullish(),
  location: z.unknown().optional(),
  rescheduleUid: optionalString,
  rootBookingUid: optionalString,
  requestReschedule: z.boolean().nullish(),
  cancellationReason: optionalString,
  rejectionReason: optionalString,
  seatsPerTimeSlot: z.number().nullish(),
  paymentId: z.union([z.number(), z.string()]).nullish(),
  smsReminderNumber: optionalString,
  status: optionalString,
  /** `{freq, count, interval}`; on a cancellation it means "this and every remaining occurrence". */
  recurringEvent: z.unknown().optional(),
});
export type BookingPayload = z.infer<typeof bookingPayloadSchema>;

export const noShowPayloadSchema = z.looseObject({
  bookingUid: z.string().trim().min(1, "bookingUid is empty"),
  attendees: z.array(z.looseObject({ email: z.string(), noShow: z.boolean() })),
});
export type NoShowPayload = z.infer<typeof noShowPayloadSchema>;

/** The outer shape shared by every body: wrapped `{triggerEvent, createdAt, payload}` or flat MEETING_*. */
export const envelopeSchema = z.looseObject({
  triggerEvent: z.string().min(1, "triggerEvent is empty"),
  createdAt: z.unknown().optional(),
  payload: z.unknown().optional(),
});
