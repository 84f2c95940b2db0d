/**
 * How large, repetitive values are stored: deflated against a preset dictionary of their shape.
 * KV bills a write unit per KiB written, and a Cal.com body or a Job is mostly field names that
 * every one of them repeats; with the names in the dictionary, what is left is the data. Each
 * encoding is named and kept forever (what was stored with it must stay readable); a value
 * stored before encodings existed has none and is read as it is.
 */
// fflate, not node:zlib: Deno's node:zlib ignores the `dictionary` option.
import { deflateSync, inflateSync } from "fflate";
import { CALCOM_BODY_DICTIONARY_V1 } from "../calcom/body_dictionary.ts";

/** The shape of a Job (`domain/job.ts`) and its events, field names only. */
const JOB_SHAPE = {
  id: "",
  version: 0,
  client: "",
  calcom_event_id: "",
  previous_event_ids: [],
  status: "scheduled",
  title: "",
  start_time: "",
  end_time: "",
  location: "",
  organizer_email: "",
  responses: {},
  booker_email: "",
  booker_time_zone: "",
  attendees: [{ email: "", name: "", no_show: false, contact_id: "" }],
  cancellation_reason: null,
  rejection_reason: null,
  payment_status: null,
  payment_id: null,
  seated: false,
  contact_id: "",
  created_at: "",
  updated_at: "",
};

const eventShape = (kind: string) => ({
  kind,
  uid: "",
  at: "",
  links: [],
  seated: false,
  attendees: [{ email: "", email_as_sent: null, name: "", time_zone: "", phone: null }],
  title: "",
  start_time: "",
  end_time: "",
  location: "",
  organizer_email: "",
  responses: {},
  request_reschedule: false,
  cancellation_reason: null,
  rejection_reason: null,
  payment_id: null,
  key: "",
  submission_id: "",
});

/** A change-log entry (`domain/changes.ts`): the Job as the API shows it, and what changed. */
const CHANGE_SHAPE = {
  id: "chg_",
  type: "job.created",
  job_id: "",
  job_version: 0,
  occurred_at: "",
  business_at: "",
  data: {
    job: {
      ...JOB_SHAPE,
      events: [{ submission_id: "", kind: "created", source: "webhook", uid: "", at: "" }],
    },
    job_trimmed: false,
    job_url: "/api/v1/clients/",
    changes: { status: ["scheduled", "cancelled"], start_time: ["", ""] },
    previous_calcom_event_id: "",
    calcom_event_id: "",
  },
};

/** Jobs and change-log entries (most common last: deflate reaches what is near more cheaply). */
const JOB_DICTIONARY_V1 = [
  JSON.stringify(CHANGE_SHAPE),
  ...["cancelled", "rescheduled", "created"].map((kind) => JSON.stringify(eventShape(kind))),
  JSON.stringify(JOB_SHAPE),
].join(",");

const utf8 = new TextEncoder();

/** Every encoding a stored value may name, with its dictionary. Add; never change or remove one. */
export const DICTIONARIES = {
  "deflate-calcom-1": utf8.encode(CALCOM_BODY_DICTIONARY_V1),
  "deflate-job-1": utf8.encode(JOB_DICTIONARY_V1),
} as const;

export type Encoding = keyof typeof DICTIONARIES;

/** The bytes as `encoding` stores them. */
export function pack(bytes: Uint8Array, encoding: Encoding): Uint8Array {
  return deflateSync(bytes, { dictionary: DICTIONARIES[encoding] });
}

/** The bytes `pack` was given (a value stored with no encoding is returned as it is). */
export function unpack(bytes: Uint8Array, encoding: Encoding | null | undefined): Uint8Array {
  if (!encoding) return bytes;
  const dictionary = DICTIONARIES[encoding];
  if (!dictionary) throw new Error(`Unknown storage encoding "${encoding}": written by a newer version?`);
  return inflateSync(bytes, { dictionary });
}
