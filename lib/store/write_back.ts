/**
 * Write-back requests in KV, by idempotency key: the first request claims its key (with a lease,
 * so a crashed attempt can be taken over), and its answer is kept with it once done, written in
 * the same atomic as the Job's `pending_action` when Cal.com accepted. A key reused with another
 * body is told apart by the body's hash.
 */
import { type PendingAction, settles } from "../domain/job.ts";
import { writeBackKey } from "./keys.ts";
import { rewriteJob } from "./jobs.ts";

/** How long a retry answers what the first request answered. */
export const WRITE_BACK_RETENTION_MS = 72 * 3600_000;

export interface WriteBackRecord {
  body_hash: string;
  job_id: string;
  state: "started" | "done";
  /** While started: until when the attempt holding it may still be running. */
  lease_until: number;
  /** Whether Cal.com may have acted (the request went out and no answer came back). */
  sent: boolean;
  status: number | null;
  answer: unknown;
  created_at: string;
}

export type Claim =
  | { claimed: true; takenOver: WriteBackRecord | null; versionstamp: string }
  | { claimed: false; record: WriteBackRecord };

/**
 * Claims an idempotency key for a request, or answers the record that holds it: done (answer it
 * again), or started by an attempt whose lease has not run out. A started record past its lease
 * (its attempt crashed) is taken over, and said so.
 */
export async function claimWriteBack(
  kv: Deno.Kv,
  slug: string,
  keyHash: string,
  fresh: WriteBackRecord,
): Promise<Claim> {
  const entry = await kv.get<WriteBackRecord>(writeBackKey(slug, keyHash));
  const held = entry.value;
  if (
    held && (held.state === "done" || held.lease_until > Date.now() || held.body_hash !== fresh.body_hash)
  ) {
    return { claimed: false, record: held };
  }
  const record = held ? { ...fresh, sent: held.sent, created_at: held.created_at } : fresh;
  const committed = await kv.atomic().check(entry).set(entry.key, record, {
    expireIn: WRITE_BACK_RETENTION_MS,
  })
    .commit();
  if (!committed.ok) return await claimWriteBack(kv, slug, keyHash, fresh);
  return { claimed: true, takenOver: held, versionstamp: committed.versionstamp };
}

/** Notes that the request is about to go to Cal.com (a crash after this may have acted). */
export async function markSent(kv: Deno.Kv, slug: string, keyHash: string): Promise<void> {
  const entry = await kv.get<WriteBackRecord>(writeBackKey(slug, keyHash));
  if (!entry.value) return;
  await kv.atomic().check(entry).set(entry.key, { ...entry.value, sent: true }, {
    expireIn: WRITE_BACK_RETENTION_MS,
  }).commit();
}

/** Keeps the answer; with `pending`, records it on the Job (a change) in the same atomic. */
export async function finishWriteBack(
  kv: Deno.Kv,
  slug: string,
  keyHash: string,
  done: { status: number; answer: unknown },
  pending: { jobId: string; action: PendingAction; now: string } | null,
): Promise<void> {
  const entry = await kv.get<WriteBackRecord>(writeBackKey(slug, keyHash));
  const record: WriteBackRecord = {
    ...(entry.value as WriteBackRecord),
    state: "done",
    status: done.status,
    answer: done.answer,
  };
  const keep = (op: Deno.AtomicOperation) =>
    op.set(writeBackKey(slug, keyHash), record, { expireIn: WRITE_BACK_RETENTION_MS });
  if (!pending) {
    await keep(kv.atomic()).commit();
    return;
  }
  const id = await rewriteJob(
    kv,
    slug,
    pending.jobId,
    // Cal.com's echo may have been applied already: then it settled the action before it was recorded.
    (job) => settles(pending.action, job, []) ? null : { ...job, pending_action: pending.action },
    "job.updated",
    pending.now,
    (op) => {
      keep(op);
    },
  );
  // The Job went meanwhile (erased, merged away): the answer is kept all the same.
  if (!id) await keep(kv.atomic()).commit();
}

/**
 * Gives up a claim, so a retry may act: when nothing was sent, or (`notActed`) when Cal.com
 * answered that it did nothing (a 429, a refused key).
 */
export async function releaseWriteBack(
  kv: Deno.Kv,
  slug: string,
  keyHash: string,
  notActed: boolean,
): Promise<void> {
  const entry = await kv.get<WriteBackRecord>(writeBackKey(slug, keyHash));
  if (entry.value?.state === "started" && (!entry.value.sent || notActed)) {
    await kv.atomic().check(entry).delete(entry.key).commit();
  }
}
