/**
 * Stored submissions: reading them (with their raw bodies, inline or in chunks), listing, and the
 * status changes the sweeper makes. Writing new ones is the group commit's (`group_commit.ts`);
 * applying them to Jobs and Contacts is `bookings.ts`'s.
 */
import type { Submission, SubmissionStatus } from "../domain/submission.ts";
import type { SubmissionRef } from "./batches.ts";
import { submissionBodyChunkKey, submissionKey, submissionsPrefix } from "./keys.ts";
import { getAll, listPage, type Page, readParts, withOccRetry } from "./kv.ts";
import { nowIso } from "../time.ts";
import { CountDeltas } from "./counts.ts";
import { type Encoding, pack, unpack } from "./packed.ts";

/**
 * How a raw body is packed where KV bills a write unit per KiB (inline mode): against the
 * dictionary of Cal.com's shapes, a booking body in one unit instead of two. Elsewhere (queue mode,
 * a local file) bodies are stored as received: packing costs the request path CPU. A body rewritten
 * by erase keeps its submission's form. Older bodies name their encoding, or none.
 */
export const COMPACT_BODY_ENCODING: Encoding = "deflate-calcom-1";

/** The submission with its raw body as it is stored: packed with `encoding`, or (null) as received. */
export function withPackedBody(s: Submission, encoding: Encoding | null): Submission {
  return s.body && encoding ? { ...s, body: pack(s.body, encoding), body_encoding: encoding } : s;
}

/**
 * Stored raw bodies up to this size are written as one chunk key in the commit that stores their record
 * (a KV value holds 64 KiB; the record, rewritten by processing, stays small). Larger ones are
 * written in chunks ahead of it. A body replaced later (erase) up to this size lives in the record.
 */
export const INLINE_BODY_LIMIT = 30_000;
const BODY_CHUNK_BYTES = 60_000;
/** Chunks written per commit (KV allows 800 KiB per atomic). */
const CHUNKS_PER_COMMIT = 12;

/**
 * Writes a large body's chunks ahead of its record (an orphaned chunk, after a crash, is harmless
 * and overwritten by the retry). Returns the record to commit, or null if this body is stored already.
 */
export async function storeBodyChunks(kv: Deno.Kv, submission: Submission): Promise<Submission | null> {
  const existing = await kv.get(submissionKey(submission.client, submission.id));
  if (existing.versionstamp !== null) return null;
  const chunks = await writeBodyChunks(kv, submission, submission.body!);
  return { ...submission, body: null, body_chunks: chunks };
}

/** Writes `body` as the submission's chunks, CHUNKS_PER_COMMIT per commit; returns how many. */
async function writeBodyChunks(kv: Deno.Kv, s: Submission, body: Uint8Array): Promise<number> {
  let chunks = 0;
  for (let offset = 0; offset < body.length; offset += BODY_CHUNK_BYTES * CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    for (let i = 0; i < CHUNKS_PER_COMMIT && offset + i * BODY_CHUNK_BYTES < body.length; i++) {
      const start = offset + i * BODY_CHUNK_BYTES;
      op.set(submissionBodyChunkKey(s.client, s.id, chunks++), body.slice(start, start + BODY_CHUNK_BYTES));
    }
    await op.commit();
  }
  return chunks;
}

/** The exact bytes that were received. */
export async function readBody(kv: Deno.Kv, s: Submission): Promise<Uint8Array> {
  const keys = Array.from({ length: s.body_chunks }, (_, n) => submissionBodyChunkKey(s.client, s.id, n));
  const stored = s.body ??
    await readParts(kv, keys, (n) => `Body chunk ${n} of submission ${s.id} is missing.`);
  return unpack(stored, s.body_encoding as Encoding | null | undefined);
}

export async function getSubmission(kv: Deno.Kv, slug: string, id: string): Promise<Submission | null> {
  return (await kv.get<Submission>(submissionKey(slug, id))).value;
}

/** The submissions' entries (with versionstamps, for checked commits), in the order of `refs`. */
export async function getSubmissionEntries(
  kv: Deno.Kv,
  refs: readonly SubmissionRef[],
): Promise<Deno.KvEntryMaybe<Submission>[]> {
  return await getAll<Submission>(kv, refs.map(([slug, id]) => submissionKey(slug, id)));
}

export function listSubmissions<V>(
  kv: Deno.Kv,
  slug: string,
  opts: { limit: number; cursor?: string; status?: SubmissionStatus; view: (s: Submission) => V },
): Promise<Page<V>> {
  return listPage<Submission, V>(kv, submissionsPrefix(slug), {
    ...opts,
    keep: opts.status ? (s) => s.status === opts.status : undefined,
  });
}

/** Every submission of a client with the given status (for bulk replay). */
export async function allSubmissionIds(
  kv: Deno.Kv,
  slug: string,
  status: SubmissionStatus,
): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of allSubmissions(kv, slug)) if (s.status === status) ids.push(s.id);
  return ids;
}

/** Notes a failed processing attempt on a still-pending submission. */
export async function recordAttemptFailure(
  kv: Deno.Kv,
  [slug, id]: SubmissionRef,
  error: string,
): Promise<void> {
  await withOccRetry("record failure", async () => {
    const entry = await kv.get<Submission>(submissionKey(slug, id));
    if (!entry.value || entry.value.status !== "pending") return { op: null, result: undefined };
    const next: Submission = { ...entry.value, error, attempts: entry.value.attempts + 1 };
    return { op: kv.atomic().check(entry).set(entry.key, next), result: undefined };
  });
}

/**
 * Gives up on a pending submission: status `failed`, keeping its last error. With `minAttempts`,
 * only once it has failed that often. True when it was marked.
 */
export async function markFailed(
  kv: Deno.Kv,
  [slug, id]: SubmissionRef,
  fallbackError: string,
  minAttempts = 0,
): Promise<boolean> {
  return await withOccRetry("mark failed", async () => {
    const entry = await kv.get<Submission>(submissionKey(slug, id));
    const s = entry.value;
    if (!s || s.status !== "pending" || s.attempts < minAttempts) return { op: null, result: false };
    const next: Submission = {
      ...s,
      status: "failed",
      error: s.error ?? fallbackError,
      processed_at: nowIso(),
    };
    const op = kv.atomic().check(entry).set(entry.key, next);
    const counts = new CountDeltas();
    counts.add(slug, "submissions", next.status, 1);
    counts.applyTo(op);
    return { op, result: true };
  });
}

/** Every submission of the client, oldest first (for erase and retention, which must see all). */
export async function* allSubmissions(kv: Deno.Kv, slug: string): AsyncGenerator<Submission> {
  for await (const e of kv.list<Submission>({ prefix: submissionsPrefix(slug) })) yield e.value;
}

/**
 * Replaces a settled submission's raw body (null: drops it) and patches its record; chunks it no
 * longer needs are deleted. The new chunks are written before the record that points at them.
 */
export async function replaceBody(
  kv: Deno.Kv,
  s: Submission,
  body: Uint8Array | null,
  patch: Partial<Submission>,
): Promise<void> {
  const encoding = (s.body_encoding ?? null) as Encoding | null;
  const packed = body === null ? null : encoding ? pack(body, encoding) : body;
  const inline = packed !== null && packed.length <= INLINE_BODY_LIMIT;
  const chunks = packed !== null && !inline ? await writeBodyChunks(kv, s, packed) : 0;
  const op = kv.atomic().set(submissionKey(s.client, s.id), {
    ...s,
    ...patch,
    body: inline ? packed : null,
    body_chunks: chunks,
    body_encoding: packed === null ? null : encoding,
  });
  for (let n = chunks; n < s.body_chunks; n++) op.delete(submissionBodyChunkKey(s.client, s.id, n));
  await op.commit();
}
