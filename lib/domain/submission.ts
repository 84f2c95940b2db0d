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

export function isSettled(status: SubmissionStatus): boolean {
  return status === "processed" || status === "ignored";
}
