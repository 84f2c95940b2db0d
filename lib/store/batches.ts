/**
 * Pending batches and their queue messages: every commit of accepted submissions also writes one
 * batch record naming them (and, where KV has queues, one message naming the batch). The record
 * is the durable "still to do" list the sweeper walks; it is deleted once every submission of the
 * batch is settled. Dead letters are messages the queue gave up on.
 */
import type { Submission } from "../domain/submission.ts";
import {
  deadLetterKey,
  deadLettersPrefix,
  pendingBatchesPrefix,
  pendingBatchKey,
  submissionKey,
} from "./keys.ts";
import { getAll } from "./kv.ts";
import { nowIso } from "../time.ts";

export type SubmissionRef = readonly [slug: string, id: string];

/** A ref as one string, for sets and maps. */
export const refId = (ref: SubmissionRef): string => `${ref[0]}\u0000${ref[1]}`;

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

/** How a batch's queue message is sent; null where KV has no queues (inline processing, the sweeper). */
export interface BatchQueueOptions {
  /** When the message is due: it is the durable retry of processing that normally ran already. */
  delayMs: number;
  /** Queue retry schedule (ms); KV's default when absent. */
  backoffSchedule?: number[];
}

/** Adds the batch record (and its queue message) to a commit of its submissions. */
export function addPendingBatch(
  op: Deno.AtomicOperation,
  batchId: string,
  refs: SubmissionRef[],
  queue: BatchQueueOptions | null,
): PendingBatch {
  const batch: PendingBatch = { id: batchId, refs, created_at: nowIso() };
  op.set(pendingBatchKey(batchId), batch);
  if (queue) {
    const message: ProcessBatchMessage = { type: "process_batch", batch_id: batchId };
    op.enqueue(message, {
      delay: queue.delayMs,
      keysIfUndelivered: [deadLetterKey(batchId)],
      backoffSchedule: queue.backoffSchedule,
    });
  }
  return batch;
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

/** True when no batch is pending at all (everything accepted has settled). */
export async function noPendingBatches(kv: Deno.Kv): Promise<boolean> {
  const first = await kv.list({ prefix: pendingBatchesPrefix() }, { limit: 1 }).next();
  return first.done === true;
}

/** Deletes batch records (their submissions are known to be settled). */
export async function deletePendingBatches(kv: Deno.Kv, batchIds: readonly string[]): Promise<void> {
  for (let i = 0; i < batchIds.length; i += 500) {
    const op = kv.atomic();
    for (const id of batchIds.slice(i, i + 500)) op.delete(pendingBatchKey(id));
    await op.commit();
  }
}

/** Removes a batch record once none of its submissions is still pending; false if one still is. */
export async function deletePendingBatchIfSettled(kv: Deno.Kv, batch: PendingBatch): Promise<boolean> {
  const entries = await getAll<Submission>(kv, batch.refs.map(([slug, id]) => submissionKey(slug, id)));
  if (entries.some((e) => e.value?.status === "pending")) return false;
  await kv.delete(pendingBatchKey(batch.id));
  return true;
}

export interface DeadLetter extends ProcessBatchMessage {
  /** The batch's submissions, recorded when the sweeper handles the letter. */
  refs?: SubmissionRef[];
  handled_at?: string;
}

export async function listDeadLetters(kv: Deno.Kv): Promise<Deno.KvEntry<DeadLetter>[]> {
  return await Array.fromAsync(kv.list<DeadLetter>({ prefix: deadLettersPrefix() }));
}

/** Marks a letter handled (keeping which submissions it failed) and drops its batch record. */
export async function markDeadLetterHandled(
  kv: Deno.Kv,
  entry: Deno.KvEntry<DeadLetter>,
  refs: SubmissionRef[],
): Promise<void> {
  const handled: DeadLetter = { ...entry.value, refs, handled_at: nowIso() };
  await kv.atomic().check(entry).set(entry.key, handled).delete(pendingBatchKey(entry.value.batch_id))
    .commit();
}

/** What is pending, for metrics: batches and submissions (counted up to `limit` batches) and the oldest. */
export async function backlog(
  kv: Deno.Kv,
  limit = 10_000,
): Promise<{ batches: number; submissions: number; oldest_created_at: string | null }> {
  let batches = 0;
  let submissions = 0;
  let oldest: string | null = null;
  for await (const { value } of kv.list<PendingBatch>({ prefix: pendingBatchesPrefix() }, { limit })) {
    batches++;
    submissions += value.refs.length;
    if (oldest === null || value.created_at < oldest) oldest = value.created_at;
  }
  return { batches, submissions, oldest_created_at: oldest };
}

export async function countDeadLetters(kv: Deno.Kv): Promise<number> {
  return (await listDeadLetters(kv)).length;
}
