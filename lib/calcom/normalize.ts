/**
 * Turns a verified Cal.com body (the exact text) into what the service acts on: the normalised
 * submission fields of the seed spec plus the Job events it implies. Pure; knows every Cal.com
 * quirk this service copes with (flat MEETING_* bodies, `{firstName,lastName}` names, HTML-escaped
 * template values, seated bookings, reschedule chains, mixed time formats).
 */
import type { z } from "zod";
import {
  type attendeeSchema,
  type BookingPayload,
  bookingPayloadSchema,
  envelopeSchema,
  noShowPayloadSchema,
} from "./schema.ts";
import { PING_TRIGGER, type TriggerRule, triggerRule } from "./triggers.ts";
import type { DraftJobEvent, EventAttendee } from "../domain/job.ts";
import { normalizeEmail } from "../domain/contact.ts";
import { emptyFields, type Interpretation } from "../domain/submission.ts";
import { isoUtc } from "../time.ts";

type Attendee = z.infer<typeof attendeeSchema>;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Cal.com's bodies nest a few levels deep; far deeper JSON cannot be one (and cannot be stored). */
const MAX_JSON_DEPTH = 32;
/** Longest array accepted anywhere in a body (attendees of the largest seated events included). */
const MAX_JSON_ARRAY = 5000;
/** Booking uids are short (Cal.com's are ~22 characters); a longer one cannot be one, nor a KV key. */
const MAX_UID_LENGTH = 256;

/** Interprets the raw bytes: anything that is not UTF-8 text cannot be Cal.com JSON. */
export function interpretBytes(body: Uint8Array, fallbackAt: string): Interpretation {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return invalid("Body is not valid UTF-8 text, so it cannot be Cal.com JSON.");
  }
  return interpretBody(text, fallbackAt);
}

/**
 * Interprets a body. `fallbackAt` orders events whose body has no usable `createdAt` (the time we
 * received it).
 */
export function interpretBody(text: string, fallbackAt: string): Interpretation {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Cal.com's own bodies are always JSON: a signed body that is not was made by a template.
    return templated(
      looksFormEncoded(text) ? "The body is form-encoded, not JSON" : "The body is not JSON",
    );
  }
  const shape = shapeProblem(json);
  if (shape) return invalid(shape);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    const what = json === null
      ? "null"
      : Array.isArray(json)
      ? "an array"
      : `the literal ${JSON.stringify(json)}`;
    // A JSON template whose rendered text is not JSON makes Cal.com send the literal `false`.
    return templated(`The body is JSON ${what}, not an object`);
  }
  const envelope = envelopeSchema.safeParse(json);
  if (!envelope.success) return templated('The body has no "triggerEvent"');
  const trigger = envelope.data.triggerEvent;
  const wrapped = isPlainObject(envelope.data.payload);
  const rule = triggerRule(trigger);
  // Every body Cal.com builds itself wraps its fields in `payload`, except the flat MEETING_* ones.
  if (!wrapped && (trigger === PING_TRIGGER || (rule && !FLAT_TRIGGERS.has(trigger)))) {
    return templated(`The ${trigger} body has no "payload" object`);
  }
  if (trigger === PING_TRIGGER) return { kind: "ping" };

  const createdAt = isoOrNull(envelope.data.createdAt);
  const payload = wrapped ? envelope.data.payload : json;

  if (!rule) return { kind: "ignored", fields: { ...emptyFields(trigger), created_at: createdAt } };
  if (rule.shape === "no_show") return interpretNoShow(trigger, payload, createdAt ?? fallbackAt);
  return interpretBooking(trigger, rule, payload, createdAt, fallbackAt);
}

function interpretBooking(
  trigger: string,
  rule: TriggerRule,
  payload: unknown,
  createdAt: string | null,
  fallbackAt: string,
): Interpretation {
  const parsed = bookingPayloadSchema.safeParse(payload);
  if (!parsed.success) return invalid(`${trigger} payload is unusable: ${describeIssues(parsed.error)}`);
  const p = parsed.data;
  const kind = rule.kind;
  const uid = p.uid.trim();
  for (
    const [field, value] of [["uid", uid], ["rescheduleUid", p.rescheduleUid], [
      "rootBookingUid",
      p.rootBookingUid,
    ]]
  ) {
    if (typeof value === "string" && value.length > MAX_UID_LENGTH) {
      return invalid(
        `${trigger} payload is unusable: "${field}" is longer than ${MAX_UID_LENGTH} characters, so it cannot be a Cal.com booking uid.`,
      );
    }
  }
  const startTime = isoOrNull(p.startTime);
  const endTime = isoOrNull(p.endTime);
  const attendees = bookingAttendees(p);

  if (rule.needsTimeAndBooker) {
    if (!startTime) return invalid(`${trigger} payload is unusable: "startTime" is missing.`);
    if (attendees.length === 0) {
      return invalid(`${trigger} payload is unusable: no attendee has a valid email address.`);
    }
  }

  const orderTime = { created_at: createdAt, start_time: startTime, end_time: endTime }[rule.orderedBy];
  const at = orderTime ?? createdAt ?? fallbackAt;
  const seated = (p.seatsPerTimeSlot ?? 0) > 0;
  const rescheduleUid = nonEmpty(p.rescheduleUid);
  const booker = attendees[0] ?? null;

  const event: DraftJobEvent = {
    kind,
    uid,
    at,
    links: seated ? [] : unique([rescheduleUid, nonEmpty(p.rootBookingUid)]).filter((id) => id !== uid),
    seated,
    attendees,
    title: nonEmpty(p.title),
    start_time: startTime,
    end_time: endTime,
    location: locationText(p.location),
    organizer_email: normalizeEmail(
      p.organizer?.email ?? p.user?.email ?? payloadString(p, "userPrimaryEmail"),
    ),
    responses: customResponses(p),
    request_reschedule: isRescheduleRequest(p),
    cancellation_reason: nonEmpty(p.cancellationReason),
    rejection_reason: nonEmpty(p.rejectionReason),
    payment_id: p.paymentId === null || p.paymentId === undefined ? null : String(p.paymentId),
  };
  const events: DraftJobEvent[] = [event];
  if (seated && rescheduleUid && rescheduleUid !== uid) {
    // A seat moved to another slot: the attendee joins the new booking and leaves the old one;
    // the two bookings stay separate Jobs.
    if (kind === "rescheduled") event.kind = "created";
    events.push({ kind: "cancelled", uid: rescheduleUid, at, links: [], seated, attendees });
  }

  return {
    kind: "booking",
    fields: {
      event_type: trigger,
      booking_uid: uid,
      title: event.title ?? null,
      start_time: startTime,
      end_time: endTime,
      attendee_name: booker?.name ?? null,
      attendee_email: booker?.email ?? null,
      attendee_time_zone: booker?.time_zone ?? null,
      organizer_email: event.organizer_email ?? null,
      rescheduled_from_uid: rescheduleUid,
      cancellation_reason: event.cancellation_reason ?? null,
      created_at: createdAt,
    },
    events,
    // Cancelling "all remaining" occurrences sends one webhook for the one clicked; Cal.com's
    // database cancels the others without a webhook naming them.
    follow_up: kind === "cancelled" && isPlainObject(p.recurringEvent) && !seated
      ? { uid, reason: "recurring_cancellation" }
      : null,
  };
}

/**
 * A host's "request reschedule": current Cal.com says `requestReschedule: true`; versions before
 * January 2026 (still common self-hosted) send no such field, and the reason text, which Cal.com
 * starts with "Please reschedule.", is the only sign.
 */
function isRescheduleRequest(p: BookingPayload): boolean {
  if (typeof p.requestReschedule === "boolean") return p.requestReschedule;
  return RESCHEDULE_REQUEST_REASON.test(p.cancellationReason ?? "");
}

/** How Cal.com begins the cancellation reason of a host's reschedule request. */
export const RESCHEDULE_REQUEST_REASON = /^\s*Please reschedule\./;

function interpretNoShow(trigger: string, payload: unknown, at: string): Interpretation {
  const parsed = noShowPayloadSchema.safeParse(payload);
  if (!parsed.success) {
    return invalid(`${trigger} payload is unusable: ${describeIssues(parsed.error)}`);
  }
  const uid = parsed.data.bookingUid.trim();
  const attendees: EventAttendee[] = [];
  for (const a of parsed.data.attendees) {
    const email = normalizeEmail(a.email);
    if (email) attendees.push({ email, name: null, time_zone: null, phone: null, no_show: a.noShow });
  }
  return {
    kind: "booking",
    fields: {
      ...emptyFields(trigger),
      booking_uid: uid,
      attendee_email: attendees[0]?.email ?? null,
      created_at: at,
    },
    events: [{ kind: "no_show", uid, at, links: [], seated: false, attendees }],
  };
}

/** Attendees with a valid email, booker first, each email once. */
function bookingAttendees(p: BookingPayload): EventAttendee[] {
  const out: EventAttendee[] = [];
  const seen = new Set<string>();
  const list = p.attendees ?? [];
  const responseEmail = responseValue(p, "email");
  const candidates: Attendee[] = list.length > 0
    ? list
    : responseEmail
    ? [{ email: String(responseEmail) }]
    : [];
  candidates.forEach((attendee, index) => {
    const fromAttendee = normalizeEmail(attendee.email);
    const email = fromAttendee ?? (index === 0 ? normalizeEmail(responseEmail) : null);
    if (!email || seen.has(email)) return;
    const asSent = nonEmpty(fromAttendee ? attendee.email : responseEmail);
    seen.add(email);
    const phone = index === 0
      ? nonEmpty(asString(responseValue(p, "attendeePhoneNumber"))) ?? nonEmpty(attendee.phoneNumber) ??
        nonEmpty(p.smsReminderNumber)
      : nonEmpty(attendee.phoneNumber);
    out.push({
      email,
      email_as_sent: asSent === email ? null : asSent,
      name: attendeeName(attendee, index === 0 ? responseValue(p, "name") : undefined),
      time_zone: nonEmpty(attendee.timeZone),
      phone,
    });
  });
  return out;
}

function attendeeName(
  a: { name?: string | null; firstName?: string | null; lastName?: string | null },
  responseName: unknown,
): string | null {
  const direct = nonEmpty(a.name);
  if (direct) return decodeHtmlEntities(direct);
  const fromResponse = typeof responseName === "string"
    ? nonEmpty(responseName)
    : isPlainObject(responseName)
    ? joinName(responseName.firstName, responseName.lastName)
    : null;
  const name = fromResponse ?? joinName(a.firstName, a.lastName);
  return name ? decodeHtmlEntities(name) : null;
}

function joinName(first: unknown, last: unknown): string | null {
  return nonEmpty([first, last].filter((s) => typeof s === "string" && s.trim()).join(" "));
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Undoes the HTML escaping Handlebars payload templates apply (`O&#x27;Brien` → `O'Brien`). */
export function decodeHtmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, code: string) => {
    if (code[0] === "#") {
      const n = code[1] === "x" || code[1] === "X"
        ? parseInt(code.slice(2), 16)
        : parseInt(code.slice(1), 10);
      return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : whole;
    }
    return NAMED_ENTITIES[code.toLowerCase()] ?? whole;
  });
}

const SYSTEM_RESPONSE_FIELDS = new Set([
  "name",
  "email",
  "attendeePhoneNumber",
  "location",
  "title",
  "notes",
  "guests",
  "rescheduleReason",
]);

/** Custom booking-form answers by field name (`userFieldsResponses`, else the non-system `responses`). */
function customResponses(p: BookingPayload): Record<string, unknown> {
  const source = p.userFieldsResponses ??
    Object.fromEntries(Object.entries(p.responses ?? {}).filter(([k]) => !SYSTEM_RESPONSE_FIELDS.has(k)));
  const out: Record<string, unknown> = {};
  for (const [name, answer] of Object.entries(source)) {
    if (answer && answer.value !== undefined) out[name] = answer.value;
  }
  return out;
}

function locationText(location: unknown): string | null {
  return typeof location === "string" ? nonEmpty(location) : null;
}

function responseValue(p: BookingPayload, field: string): unknown {
  return p.responses?.[field]?.value;
}

function payloadString(p: BookingPayload, field: string): string | null {
  const v = (p as Record<string, unknown>)[field];
  return typeof v === "string" ? v : null;
}

/** Any ISO-8601 form Cal.com uses (`Z`, `+00:00`, `.000Z`) as canonical UTC, or null. */
export function isoOrNull(value: unknown): string | null {
  if (typeof value !== "string" || value.trim() === "") return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : isoUtc(ms);
}

/** The trimmed string, or null for anything else or blank. */
export function nonEmpty(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

function asString(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function unique(values: (string | null)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== null))];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function looksFormEncoded(text: string): boolean {
  return /^[^{[\s"][^=&\s]*=[^&]*(&[^=&]+=[^&]*)*$/.test(text.trim());
}

/** Zod's issues in a person's words ("is missing" rather than "received undefined"). */
function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => {
    const missing = /expected (\w+), received undefined$/.exec(i.message);
    const what = missing ? `is missing (expected ${missing[1]})` : i.message;
    return `${i.path.length ? `"${i.path.join(".")}" ` : ""}${what}`;
  }).join("; ");
}

/** Why parsed JSON is too deep or has too large an array to be a Cal.com body, or null. */
function shapeProblem(json: unknown): string | null {
  const stack: [unknown, number][] = [[json, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > MAX_JSON_DEPTH) {
      return `Body nests deeper than ${MAX_JSON_DEPTH} levels; Cal.com bodies are a few levels deep. Check the sender.`;
    }
    const children = Array.isArray(value) ? value : Object.values(value);
    if (Array.isArray(value) && value.length > MAX_JSON_ARRAY) {
      return `Body has an array of ${value.length} items (at most ${MAX_JSON_ARRAY} are accepted). Check the sender.`;
    }
    for (const child of children) stack.push([child, depth + 1]);
  }
  return null;
}

function invalid(reason: string): Interpretation {
  return { kind: "invalid", reason };
}

/** Triggers whose bodies Cal.com sends flat (no `payload` wrapper; templates never apply to them). */
const FLAT_TRIGGERS = new Set(["MEETING_STARTED", "MEETING_ENDED"]);

/** What the operator must do when a webhook has a payload template (the exact fix). */
export const PAYLOAD_TEMPLATE_FIX = "Clear the payload template of the webhook in Cal.com " +
  "(Settings → Developer → Webhooks → edit the webhook → empty the Custom payload template), so Cal.com sends its default JSON body.";

/** A signed body Cal.com's default format cannot produce: the webhook has a custom payload template. */
function templated(what: string): Interpretation {
  return {
    kind: "invalid",
    cause: "payload_template",
    reason:
      `${what}: this Cal.com webhook has a custom payload template, so its bodies cannot be read as bookings. ${PAYLOAD_TEMPLATE_FIX}`,
  };
}
