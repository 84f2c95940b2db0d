/**
 * The Submission: one accepted webhook delivery, kept with its raw body so it can be audited and
 * replayed, and its lifecycle (`pending` → `processed` | `ignored` | `failed` | `quarantined`).
 */
import type { SubmissionFields } from "../calcom/normalize.ts";

export type SubmissionStatus = "pending" | "processed" | "ignored" | "failed" | "quarantined";
export const SUBMISSION_STATUSES: readonly SubmissionStatus[] = [
  "pending",
  "processed",
  "ignored",
  "failed",
  "quarantined",
];

export interface Submission extends SubmissionFields {
  id: string;
  client: string;
  channel: "calcom";
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
  /** The queue batch that carried it (pending submissions are swept by batch). */
  batch_id: string | null;
  job_ids: string[];
  attempts: number;
}

/** What the admin API shows: everything but the raw body (it can hold secrets like `oneTimePassword`). */
export function submissionView(s: Submission): Omit<Submission, "body" | "body_chunks"> {
  const { body: _body, body_chunks: _chunks, ...view } = s;
  return view;
}

/**
 * A submission's id comes from its body alone: Cal.com's `createdAt` (ms, 13 digits; zeros when the
 * body has none) and the body's SHA-256. The same body always gets the same id, so the submission's
 * key is also its dedupe key (one KV entry per delivery), and ids sort by the time Cal.com sent
 * them, so new keys land next to each other in the KV B-tree.
 */
export function submissionIdFor(createdAt: string | null, sha256: string): string {
  const ms = createdAt === null ? NaN : Date.parse(createdAt);
  const time = Number.isFinite(ms) && ms >= 0 && ms < 1e13 ? String(ms).padStart(13, "0") : "0".repeat(13);
  return `${time}-${sha256.slice(0, 32)}`;
}

/** A new submission as received (the caller chose its status from the body). */
export function createSubmission(input: {
  slug: string;
  body: Uint8Array;
  sha: string;
  secretId: string;
  receivedAt: string;
  status: SubmissionStatus;
  fields: SubmissionFields | null;
  error: string | null;
  id?: string;
}): Submission {
  const f = input.fields;
  return {
    id: input.id ?? submissionIdFor(f?.created_at ?? null, input.sha),
    client: input.slug,
    channel: "calcom",
    status: input.status,
    error: input.error,
    received_at: input.receivedAt,
    processed_at: input.status === "pending" ? null : input.receivedAt,
    secret_id: input.secretId,
    body_sha256: input.sha,
    body_bytes: input.body.length,
    body: input.body,
    body_chunks: 0,
    batch_id: null,
    job_ids: [],
    attempts: 0,
    event_type: f?.event_type ?? "",
    booking_uid: f?.booking_uid ?? null,
    title: f?.title ?? null,
    start_time: f?.start_time ?? null,
    end_time: f?.end_time ?? null,
    attendee_name: f?.attendee_name ?? null,
    attendee_email: f?.attendee_email ?? null,
    attendee_time_zone: f?.attendee_time_zone ?? null,
    organizer_email: f?.organizer_email ?? null,
    rescheduled_from_uid: f?.rescheduled_from_uid ?? null,
    cancellation_reason: f?.cancellation_reason ?? null,
    created_at: f?.created_at ?? null,
  };
}
