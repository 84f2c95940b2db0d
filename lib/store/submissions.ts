/**
 * Durable intake of submissions with group commit: requests that arrive together share one atomic
 * KV commit holding each one's submission record (whose key is also its dedupe key), plus one
 * pending-batch record and (in queue mode) one queue message for the whole batch. A request is
 * answered only after the commit holding its data succeeded; a stored duplicate of one body never
 * fails the others.
 */
import type { Submission, SubmissionStatus } from "../domain/submission.ts";
import {
  deadLetterKey,
  deadLettersPrefix,
  pendingBatchesPrefix,
  pendingBatchKey,
  submissionBodyChunkKey,
  submissionKey,
  submissionsPrefix,
} from "./keys.ts";
import { getAll, listPage, type Page, withOccRetry } from "./kv.ts";
import { newId } from "../domain/ids.ts";
import { nowIso } from "../time.ts";

/** Raw bodies up to this size live inside the submission record (KV values are ≤ 64 KiB). */
export const INLINE_BODY_LIMIT = 60_000;
const BODY_CHUNK = 60_000;
const CHUNKS_PER_COMMIT = 12;

const QUEUE_DELAY_MS = 30_000;

/** KV allows 100 checks per atomic; each request uses one (its submission key must be new). */
const MAX_BATCH_ITEMS = 90;
/** KV allows 800 KiB per atomic; keep room for the batch record and the message. */
const MAX_BATCH_BYTES = 600 * 1024;

export type SubmissionRef = readonly [slug: string, id: string];

export interface PendingBatch {
  id: string;
  refs: SubmissionRef[];
  created_at: string;
}

/**
 * The one queue message type: "process the submissions of this batch". It names the batch only;
 * the batch record holds the refs (a smaller queue row per batch, and a settled batch needs none).
 */
export interface ProcessBatchMessage {
  type: "process_batch";
  batch_id: string;
}

export function isProcessBatchMessage(value: unknown): value is ProcessBatchMessage {
  return typeof value === "object" && value !== null &&
    (value as ProcessBatchMessage).type === "process_batch" &&
    typeof (value as ProcessBatchMessage).batch_id === "string";
}

export type IngestOutcome =
  | { kind: "stored"; submission: Submission; batch_id: string | null }
  | { kind: "duplicate"; submission_id: string };

export interface IngestOptions {
  /** Enqueue one KV queue message per batch (false where KV has no queues). */
  useQueue: boolean;
  /** Queue retry schedule (ms); KV's default is used when absent. */
  backoffSchedule?: number[];
  /** Called after a batch with processable submissions committed (inline processing, notification). */
  onCommitted?: (batch: PendingBatch) => Promise<void> | void;
  /** Commits allowed in flight at once (commit latency, not CPU, bounds a single stream). */
  maxInFlight?: number;
  /** Delay of each batch's queue message (ms). */
  queueDelayMs?: number;
}

interface Waiting {
  submission: Submission;
  resolve: (outcome: IngestOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces concurrent `ingest` calls into shared atomic commits: whatever waits when a commit slot
 * frees up goes into the next commit.
 */
export class IngestBatcher {
  #waiting: Waiting[] = [];
  #inFlight = 0;
  #scheduled = false;

  readonly #maxInFlight: number;

  constructor(private readonly kv: Deno.Kv, private readonly options: IngestOptions) {
    this.#maxInFlight = options.maxInFlight ?? 2;
  }

  /** Stores a submission durably (or finds the earlier one with the same body). */
  ingest(submission: Submission): Promise<IngestOutcome> {
    if ((submission.body?.length ?? 0) > INLINE_BODY_LIMIT) return this.#ingestLarge(submission);
    return this.#enqueue(submission);
  }

  #enqueue(submission: Submission): Promise<IngestOutcome> {
    const { promise, resolve, reject } = Promise.withResolvers<IngestOutcome>();
    this.#waiting.push({ submission, resolve, reject });
    if (!this.#scheduled) {
      // Let requests that arrive in the same turn join the same commit.
      this.#scheduled = true;
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#pump();
      });
    }
    return promise;
  }

  #pump(): void {
    while (this.#waiting.length > 0 && this.#inFlight < this.#maxInFlight) {
      const batch = this.#takeBatch();
      this.#inFlight++;
      this.#commitBatch(batch)
        .catch((error) => batch.forEach((w) => w.reject(error)))
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }

  #takeBatch(): Waiting[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#waiting.length && n < MAX_BATCH_ITEMS) {
      const size = (this.#waiting[n].submission.body?.length ?? 0) + 1024;
      if (n > 0 && bytes + size > MAX_BATCH_BYTES) break;
      bytes += size;
      n++;
    }
    return this.#waiting.splice(0, n);
  }

  async #commitBatch(batch: Waiting[]): Promise<void> {
    let remaining = this.#settleDuplicatesWithinBatch(batch);
    for (let attempt = 0; remaining.length > 0; attempt++) {
      const batchId = newId();
      const op = this.kv.atomic();
      const refs: SubmissionRef[] = [];
      // Set in place (no copy per request): the submission is this batcher's until answered.
      const stored = remaining.map(({ submission }) => {
        submission.batch_id = submission.status === "pending" ? batchId : null;
        return submission;
      });
      for (const s of stored) {
        // The id comes from the body: a stored submission under this key is this body's duplicate.
        const key = submissionKey(s.client, s.id);
        op.check({ key, versionstamp: null }).set(key, s);
        if (s.status === "pending") refs.push([s.client, s.id]);
      }
      const pending = refs.length > 0 ? this.#addBatchWork(op, batchId, refs) : null;
      if ((await op.commit()).ok) {
        const answer = () => {
          remaining.forEach((w, i) =>
            w.resolve({ kind: "stored", submission: stored[i], batch_id: pending?.id ?? null })
          );
        };
        // The commit slot is free from here. Whatever `onCommitted` returns (inline processing)
        // is awaited before answering; its failures are recorded and retried by the sweeper, never
        // turned into an error answer for data that is already stored.
        const after = pending ? this.options.onCommitted?.(pending) : undefined;
        if (after) Promise.resolve(after).catch(() => {}).then(answer);
        else answer();
        return;
      }
      // Some body was already stored: answer those as duplicates and commit the rest again.
      remaining = await this.#settleStoredDuplicates(remaining);
      if (attempt > 5) throw new Error("Could not store the submission batch: KV kept rejecting the commit.");
    }
  }

  #addBatchWork(op: Deno.AtomicOperation, batchId: string, refs: SubmissionRef[]): PendingBatch {
    const pending: PendingBatch = { id: batchId, refs, created_at: nowIso() };
    op.set(pendingBatchKey(batchId), pending);
    if (this.options.useQueue) {
      const message: ProcessBatchMessage = { type: "process_batch", batch_id: batchId };
      op.enqueue(message, {
        // The batch is normally processed right after this commit; the message is the durable
        // retry, delivered once that has had time to finish.
        delay: this.options.queueDelayMs ?? QUEUE_DELAY_MS,
        keysIfUndelivered: [deadLetterKey(batchId)],
        backoffSchedule: this.options.backoffSchedule,
      });
    }
    return pending;
  }

  /** Identical bodies in one batch: the first is stored, the others answer as its duplicates. */
  #settleDuplicatesWithinBatch(batch: Waiting[]): Waiting[] {
    const first = new Map<string, Waiting>();
    const unique: Waiting[] = [];
    const followers: [Waiting, Waiting][] = [];
    for (const w of batch) {
      const id = `${w.submission.client}\u0000${w.submission.id}`;
      const leader = first.get(id);
      if (leader) followers.push([w, leader]);
      else {
        first.set(id, w);
        unique.push(w);
      }
    }
    for (const [w, leader] of followers) {
      const original = leader.resolve;
      leader.resolve = (outcome) => {
        original(outcome);
        w.resolve({
          kind: "duplicate",
          submission_id: outcome.kind === "stored" ? outcome.submission.id : outcome.submission_id,
        });
      };
      const originalReject = leader.reject;
      leader.reject = (error) => {
        originalReject(error);
        w.reject(error);
      };
    }
    return unique;
  }

  async #settleStoredDuplicates(batch: Waiting[]): Promise<Waiting[]> {
    const entries = await getAll(this.kv, batch.map(({ submission: s }) => submissionKey(s.client, s.id)));
    const rest: Waiting[] = [];
    batch.forEach((w, i) => {
      if (entries[i].versionstamp !== null) w.resolve({ kind: "duplicate", submission_id: w.submission.id });
      else rest.push(w);
    });
    return rest;
  }

  /** Bodies too large for one value: chunks first (orphans are harmless), then the usual commit. */
  async #ingestLarge(submission: Submission): Promise<IngestOutcome> {
    const existing = await this.kv.get(submissionKey(submission.client, submission.id));
    if (existing.versionstamp !== null) return { kind: "duplicate", submission_id: submission.id };
    const body = submission.body!;
    let chunks = 0;
    for (let offset = 0; offset < body.length; offset += BODY_CHUNK * CHUNKS_PER_COMMIT) {
      const op = this.kv.atomic();
      for (let i = 0; i < CHUNKS_PER_COMMIT && offset + i * BODY_CHUNK < body.length; i++) {
        const start = offset + i * BODY_CHUNK;
        op.set(
          submissionBodyChunkKey(submission.client, submission.id, chunks++),
          body.slice(start, start + BODY_CHUNK),
        );
      }
      await op.commit();
    }
    return await this.#enqueue({ ...submission, body: null, body_chunks: chunks });
  }
}

/** The exact bytes Cal.com sent. */
export async function readBody(kv: Deno.Kv, s: Submission): Promise<Uint8Array> {
  if (s.body) return s.body;
  const parts: Uint8Array[] = [];
  for (let n = 0; n < s.body_chunks; n++) {
    const chunk = await kv.get<Uint8Array>(submissionBodyChunkKey(s.client, s.id, n));
    if (!chunk.value) throw new Error(`Body chunk ${n} of submission ${s.id} is missing.`);
    parts.push(chunk.value);
  }
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export async function getSubmission(kv: Deno.Kv, slug: string, id: string): Promise<Submission | null> {
  return (await kv.get<Submission>(submissionKey(slug, id))).value;
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
  for await (const e of kv.list<Submission>({ prefix: submissionsPrefix(slug) })) {
    if (e.value.status === status) ids.push(e.value.id);
  }
  return ids;
}

/** The batch record, or null once all of its submissions settled. */
export async function getPendingBatch(kv: Deno.Kv, batchId: string): Promise<PendingBatch | null> {
  return (await kv.get<PendingBatch>(pendingBatchKey(batchId))).value;
}

/**
 * Pending batches created before `cutoffMs`, oldest first, read page by page: batch ids are
 * time-ordered ULIDs, so the listing stops at the first newer batch.
 */
export async function* pendingBatchesOlderThan(kv: Deno.Kv, cutoffMs: number): AsyncGenerator<PendingBatch> {
  for await (
    const { value } of kv.list<PendingBatch>({ prefix: pendingBatchesPrefix() }, { batchSize: 100 })
  ) {
    if (Date.parse(value.created_at) > cutoffMs) return;
    yield value;
  }
}

/** Deletes batch records (their submissions are known to be settled). */
export async function deletePendingBatches(kv: Deno.Kv, batchIds: readonly string[]): Promise<void> {
  for (let i = 0; i < batchIds.length; i += 500) {
    const op = kv.atomic();
    for (const id of batchIds.slice(i, i + 500)) op.delete(pendingBatchKey(id));
    await op.commit();
  }
}

/** Removes a batch record once none of its submissions is still pending. */
export async function deletePendingBatch(
  kv: Deno.Kv,
  batchId: string,
  refs: readonly SubmissionRef[],
): Promise<boolean> {
  const entries = await getAll<Submission>(kv, refs.map(([slug, id]) => submissionKey(slug, id)));
  if (entries.some((e) => e.value?.status === "pending")) return false;
  await kv.delete(pendingBatchKey(batchId));
  return true;
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

/** Gives up on a pending submission: status `failed`, keeping its last error. */
export async function markFailed(
  kv: Deno.Kv,
  [slug, id]: SubmissionRef,
  fallbackError: string,
): Promise<boolean> {
  return await withOccRetry("mark failed", async () => {
    const entry = await kv.get<Submission>(submissionKey(slug, id));
    if (!entry.value || entry.value.status !== "pending") return { op: null, result: false };
    const next: Submission = {
      ...entry.value,
      status: "failed",
      error: entry.value.error ?? fallbackError,
      processed_at: new Date().toISOString(),
    };
    return { op: kv.atomic().check(entry).set(entry.key, next), result: true };
  });
}

export interface DeadLetter extends ProcessBatchMessage {
  /** The batch's submissions, recorded when the sweeper handles the letter. */
  refs?: SubmissionRef[];
  handled_at?: string;
}

export async function listDeadLetters(kv: Deno.Kv): Promise<Deno.KvEntry<DeadLetter>[]> {
  return await Array.fromAsync(kv.list<DeadLetter>({ prefix: deadLettersPrefix() }));
}

export async function markDeadLetterHandled(
  kv: Deno.Kv,
  entry: Deno.KvEntry<DeadLetter>,
  refs: SubmissionRef[],
): Promise<void> {
  const handled: DeadLetter = { ...entry.value, refs, handled_at: new Date().toISOString() };
  await kv.atomic().check(entry).set(entry.key, handled).delete(pendingBatchKey(entry.value.batch_id))
    .commit();
}
