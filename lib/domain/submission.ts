/**
 * The Submission: one accepted webhook delivery, kept with its raw body so it can be audited and
 * replayed, and its lifecycle (`pending` → `processed` | `ignored` | `failed` | `quarantined`).
 * Also the vocabulary for what a body means (`Interpretation`), which `calcom/` produces and the
 * rest of the service consumes without knowing Cal.com's shapes.
 */
import { sha256Hex } from "./ids.ts";
import type { DraftJobEvent } from "./job.ts";

/** Where a body came from: a webhook delivery, or a booking reconciliation read from Cal.com's API. */
export type SubmissionChannel = "calcom" | "calcom_api";

export type SubmissionStatus = "pending" | "processed" | "ignored" | "failed" | "quarantined";
export const SUBMISSION_STATUSES: readonly SubmissionStatus[] = [
  "pending",
  "processed",
  "ignored",
  "failed",
  "quarantined",
];

/** The normalised submission (channel `calcom`) fields of the seed spec. */
export interface SubmissionFields {
  event_type: string;
  booking_uid: string | null;
  title: string | null;
  start_time: string | null;
  end_time: string | null;
  attendee_name: string | null;
  attendee_email: string | null;
  attendee_time_zone: string | null;
  organizer_email: string | null;
  rescheduled_from_uid: string | null;
  cancellation_reason: string | null;
  /** The sender's `createdAt` (for MEETING_* this is the booking's creation time). */
  created_at: string | null;
}

/** What a verified body means. */
export type Interpretation =
  /** `cause` says when the sender's configuration, not the body, is at fault (a payload template). */
  | { kind: "invalid"; reason: string; cause?: "payload_template" }
  | { kind: "ping" }
  | { kind: "ignored"; fields: SubmissionFields }
  | {
    kind: "booking";
    fields: SubmissionFields;
    events: DraftJobEvent[];
    /** A booking only Cal.com's API can complete (e.g. the other occurrences of a cancelled series). */
    follow_up?: { uid: string; reason: string } | null;
  };

/**
 * The one place a submission's status follows from what its body means: on receipt a booking
 * waits (`pending`) to be applied; once applied it is `processed`. Everything else is settled at
 * once and the same at both stages.
 */
export function statusFor(interpretation: Interpretation, stage: "received" | "applied"): SubmissionStatus {
  switch (interpretation.kind) {
    case "invalid":
      return "quarantined";
    case "ping":
    case "ignored":
      return "ignored";
    case "booking":
      return stage === "received" ? "pending" : "processed";
  }
}

/** The submission fields an interpretation carries (only the trigger name for pings and invalid bodies). */
export function fieldsOf(interpretation: Interpretation): SubmissionFields {
  switch (interpretation.kind) {
    case "invalid":
      return emptyFields("");
    case "ping":
      return emptyFields("PING");
    default:
      return interpretation.fields;
  }
}

/** Submission fields that only name the trigger (pings, triggers we do not act on). */
export function emptyFields(trigger: string): SubmissionFields {
  return {
    event_type: trigger,
    booking_uid: null,
    title: null,
    start_time: null,
    end_time: null,
    attendee_name: null,
    attendee_email: null,
    attendee_time_zone: null,
    organizer_email: null,
    rescheduled_from_uid: null,
    cancellation_reason: null,
    created_at: null,
  };
}

export interface Submission extends SubmissionFields {
  id: string;
  client: string;
  channel: SubmissionChannel;
  status: SubmissionStatus;
  error: string | null;
  received_at: string;
  processed_at: string | null;
  /** Which of the client's secrets verified the signature. */
  secret_id: string;
  body_sha256: string;
  body_bytes: number;
  /** The raw body bytes when they fit in the record; otherwise they are stored in `body_chunks` chunk keys. */
  body: Uint8Array | null;
  body_chunks: number;
  /** How the stored body bytes are encoded (`store/packed.ts`); absent: as received. */
  body_encoding?: string | null;
  /** The batch that carried it (pending submissions are swept by batch). */
  batch_id: string | null;
  job_ids: string[];
  attempts: number;
  /** When a person's data was scrubbed out of the raw body (erase): it can no longer be replayed. */
  body_scrubbed_at?: string | null;
  /** When the raw body was dropped (`RAW_BODY_RETENTION_DAYS`): it can no longer be replayed. */
  body_dropped_at?: string | null;
}

/**
 * Whether replay may apply the submission again: not once a settled one's raw body was scrubbed by
 * an erase or dropped by retention (it no longer is what Cal.com sent).
 */
export function isReplayable(s: Submission): boolean {
  return s.status === "pending" || !(s.body_scrubbed_at || s.body_dropped_at);
}

/** What the admin API shows: everything but the raw body (it can hold secrets like `oneTimePassword`). */
export function submissionView(s: Submission): Omit<Submission, "body" | "body_chunks"> {
  const { body: _body, body_chunks: _chunks, ...view } = s;
  return view;
}

/** Hex SHA-256 of a body: the dedupe identity of a delivery (synchronous: it is on the request path). */
export function bodySha256(body: Uint8Array): string {
  return sha256Hex(body);
}

/**
 * A submission's id comes from its body alone: the sender's `createdAt` (ms, 13 digits; zeros when
 * the body has none) and the body's SHA-256. The same body always gets the same id, so the
 * submission's key is also its dedupe key (one KV entry per delivery), and ids sort by the time
 * they were sent, so new keys land next to each other in the KV B-tree.
 */
export function submissionIdFor(createdAt: string | null, sha256: string): string {
  const ms = createdAt === null ? NaN : Date.parse(createdAt);
  const time = Number.isFinite(ms) && ms >= 0 && ms < 1e13 ? String(ms).padStart(13, "0") : "0".repeat(13);
  return `${time}-${sha256.slice(0, 32)}`;
}

/** A new submission as received: its status and fields follow from the interpretation. */
export function createSubmission(input: {
  slug: string;
  body: Uint8Array;
  secretId: string;
  receivedAt: string;
  interpretation: Interpretation;
  channel?: SubmissionChannel;
}): Submission {
  const { interpretation: meaning } = input;
  const f = fieldsOf(meaning);
  const sha = bodySha256(input.body);
  const status = statusFor(meaning, "received");
  return {
    ...f,
    id: submissionIdFor(f.created_at, sha),
    client: input.slug,
    channel: input.channel ?? "calcom",
    status,
    error: meaning.kind === "invalid" ? meaning.reason : null,
    received_at: input.receivedAt,
    processed_at: status === "pending" ? null : input.receivedAt,
    secret_id: input.secretId,
    body_sha256: sha,
    body_bytes: input.body.length,
    body: input.body,
    body_chunks: 0,
    batch_id: null,
    job_ids: [],
    attempts: 0,
  };
}
