/**
 * Group commit of accepted submissions: requests that arrive together share one atomic KV commit
 * holding each one's raw body (under its own key, written once and never rewritten), its small
 * submission record (whose key is also its dedupe key; processing rewrites only this) and one
 * pending-batch record (plus its queue message) for the whole batch. Each caller learns only when the commit
 * holding its submission succeeded, and with which batch; what happens next is the pipeline's.
 * A stored duplicate never fails the others, and neither does a member whose write KV refuses.
 */
import type { Interpretation, Submission } from "../domain/submission.ts";
import { newId } from "../domain/ids.ts";
import { addPendingBatch, type BatchQueueOptions, type PendingBatch, type SubmissionRef } from "./batches.ts";
import { submissionBodyChunkKey, submissionKey } from "./keys.ts";
import { ClientGoneError, type ClientGuard } from "./clients.ts";
import { activeSpanContext, inSpan, type SpanContext } from "../trace.ts";
import { guardsOf, placeBody, triageFailedCommit } from "./delivery.ts";
import type { KvNote } from "./reconcile.ts";
import { CountDeltas } from "./counts.ts";
import { storeBodyChunks } from "./submissions.ts";

/**
 * KV allows 100 checks per atomic: each request uses one (its submission key must be new) and each
 * client in the batch one (its generation: not deleted meanwhile).
 */
const MAX_BATCH_CHECKS = 99;
/** KV allows 800 KiB per atomic; keep room for the batch record and the message. */
const MAX_BATCH_BYTES = 600 * 1024;
/** Per-request overhead counted against MAX_BATCH_BYTES besides the body (fields, key, metadata). */
const RECORD_OVERHEAD_BYTES = 1024;
/**
 * Commits of one batch that KV may reject because a member's body was stored meanwhile; each
 * retry drops the members found stored, so a batch needs more only if the same race repeats.
 */
const MAX_COMMIT_ATTEMPTS = 6;
/** Commits allowed in flight at once: commit latency, not CPU, bounds a single stream. */
const DEFAULT_MAX_IN_FLIGHT = 2;

/** A submission as its commit stored it, with what its body was found to mean (null: not given). */
export interface StoredMember {
  entry: Deno.KvEntry<Submission>;
  meaning: Interpretation | null;
}

export type Committed =
  /**
   * Stored now, as `entry` (the record and the commit's versionstamp, for a checked commit that
   * follows); `batch` is null for a settled-on-arrival submission (ignored, quarantined). `members`:
   * every pending submission the same commit stored in `batch`, so whoever processes the batch
   * reads none of them back.
   */
  | { kind: "stored"; entry: Deno.KvEntry<Submission>; batch: PendingBatch | null; members: StoredMember[] }
  /** The same body was stored before (by this commit's neighbour or an earlier request). */
  | { kind: "duplicate"; submission_id: string };

export interface GroupCommitOptions {
  /** Where a batch's queue message goes; null where KV has no queues. */
  queue: BatchQueueOptions | null;
  /** Bodies packed, where KV bills a write unit per KiB (`submissions.ts`). */
  compact?: boolean;
  maxInFlight?: number;
}

interface Waiting {
  /** The record to store: its body is in `body` (or already in chunk keys). */
  submission: Submission;
  /** The raw body, written as the submission's one chunk in the same commit (null: chunks written before). */
  body: Uint8Array | null;
  /** A small write that goes with it (what the delivery told about its client's webhook). */
  note: KvNote | null;
  guard: ClientGuard;
  meaning: Interpretation | null;
  /** The request's span, linked from the commit's (which only one request's trace contains). */
  span: SpanContext | undefined;
  resolve: (outcome: Committed) => void;
  reject: (error: unknown) => void;
  /** Requests with the same body in the same batch: answered as duplicates of this one. */
  followers: Waiting[];
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

  constructor(private readonly kv: Deno.Kv, private readonly options: GroupCommitOptions) {
    this.#maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  /**
   * Stores a submission durably (or finds the earlier one with the same body), as long as its
   * client is still the one `guard` was read from; otherwise rejects with ClientGoneError.
   */
  async ingest(
    received: Submission,
    guard: ClientGuard,
    note: KvNote | null = null,
    meaning: Interpretation | null = null,
  ): Promise<Committed> {
    const { record, body } = placeBody(received, this.options.compact === true);
    if (body) return await this.#enqueue(record, body, guard, note, meaning);
    const stored = await storeBodyChunks(this.kv, record);
    return stored
      ? await this.#enqueue(stored, null, guard, note, meaning)
      : { kind: "duplicate", submission_id: record.id };
  }

  #enqueue(
    submission: Submission,
    body: Uint8Array | null,
    guard: ClientGuard,
    note: KvNote | null,
    meaning: Interpretation | null,
  ): Promise<Committed> {
    const { promise, resolve, reject } = Promise.withResolvers<Committed>();
    this.#waiting.push({
      submission,
      body,
      note,
      guard,
      meaning,
      span: activeSpanContext(),
      resolve,
      reject,
      followers: [],
    });
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
      this.#commit(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  #takeBatch(): Waiting[] {
    let bytes = 0;
    let n = 0;
    const clients = new Set<string>();
    while (n < this.#waiting.length) {
      const w = this.#waiting[n];
      const size = (w.body?.length ?? 0) + RECORD_OVERHEAD_BYTES;
      const checks = n + 1 + clients.size + (clients.has(w.guard.slug) ? 0 : 1);
      if (n > 0 && (bytes + size > MAX_BATCH_BYTES || checks > MAX_BATCH_CHECKS)) break;
      bytes += size;
      clients.add(w.guard.slug);
      n++;
    }
    return this.#waiting.splice(0, n);
  }

  /** Commits a batch; never rejects: every member is answered (stored, duplicate or its own error). */
  async #commit(batch: Waiting[]): Promise<void> {
    let remaining = withFollowers(batch);
    try {
      for (let attempt = 1; remaining.length > 0; attempt++) {
        if (await this.#tryCommit(remaining)) return;
        // A client was deleted, or some body was already stored: answer those and commit the rest again.
        remaining = await this.#triage(remaining);
        if (attempt >= MAX_COMMIT_ATTEMPTS && remaining.length > 0) {
          throw new Error("Could not store the submission batch: KV kept rejecting the commit.");
        }
      }
    } catch (error) {
      // A write KV refuses (a limit, a full disk) fails only the requests it belongs to: alone,
      // each member finds out whether the reason is its own.
      if (remaining.length === 1) return answerError(remaining[0], error);
      await Promise.all(remaining.map((w) => this.#commit([w])));
    }
  }

  /** One atomic commit of the batch; false when a member's key already existed (nothing written). */
  #tryCommit(members: Waiting[]): Promise<boolean> {
    const bytes = members.reduce((n, w) => n + (w.body?.length ?? 0) + RECORD_OVERHEAD_BYTES, 0);
    return inSpan("kv.group_commit", {
      "calcom_intake.entries": members.length,
      "calcom_intake.bytes": bytes,
    }, async (span) => {
      const ok = await this.#commitOnce(members);
      span.setAttribute("calcom_intake.outcome", ok ? "committed" : "conflict");
      return ok;
    }, { links: members.map((w) => w.span) });
  }

  async #commitOnce(members: Waiting[]): Promise<boolean> {
    const batchId = newId();
    const op = this.kv.atomic();
    const refs: SubmissionRef[] = [];
    const counts = new CountDeltas();
    for (const g of guardsOf(members)) op.check({ key: g.key, versionstamp: g.versionstamp });
    for (const { submission: s, body } of members) {
      // Set in place (no copy per request): the submission is this batcher's until answered.
      s.batch_id = s.status === "pending" ? batchId : null;
      // The id comes from the body: a stored submission under this key is this body's duplicate.
      const key = submissionKey(s.client, s.id);
      op.check({ key, versionstamp: null }).set(key, s);
      if (body) op.set(submissionBodyChunkKey(s.client, s.id, 0), body);
      // Settled on arrival (ignored, quarantined) is counted now; pending, when it settles.
      if (s.status !== "pending") counts.add(s.client, "submissions", s.status, 1);
      if (s.status === "pending") refs.push([s.client, s.id]);
    }
    // One write per noted key: the newest note of a client wins.
    const notes = new Map(members.flatMap((w) => (w.note ? [[JSON.stringify(w.note.key), w.note]] : [])));
    for (const note of notes.values()) op.set(note.key, note.value);
    counts.applyTo(op);
    const batch = refs.length > 0 ? addPendingBatch(op, batchId, refs, this.options.queue) : null;
    const result = await op.commit();
    if (!result.ok) return false;
    const entries = members.map(({ submission: s }) => ({
      key: submissionKey(s.client, s.id),
      value: s,
      versionstamp: result.versionstamp,
    }));
    const stored = batch
      ? members.flatMap((w, i) =>
        w.submission.status === "pending" ? [{ entry: entries[i], meaning: w.meaning }] : []
      )
      : [];
    members.forEach((w, i) => answer(w, { kind: "stored", entry: entries[i], batch, members: stored }));
    return true;
  }

  /**
   * After a failed commit: members whose client is gone are refused, those stored meanwhile are
   * duplicates (`delivery.ts` tells which); the rest go into the next commit.
   */
  async #triage(members: Waiting[]): Promise<Waiting[]> {
    const verdicts = await triageFailedCommit(
      this.kv,
      members.map((w) => ({ submission: w.submission, guard: w.guard })),
    );
    return members.filter((w, i) => {
      if (verdicts[i] === "gone") answerError(w, new ClientGoneError(w.guard.slug));
      else if (verdicts[i] === "duplicate") answer(w, { kind: "duplicate", submission_id: w.submission.id });
      return verdicts[i] === "retry";
    });
  }
}

/** Identical bodies in one batch: the first is committed, the others follow its answer. */
function withFollowers(batch: Waiting[]): Waiting[] {
  const leaders = new Map<string, Waiting>();
  for (const w of batch) {
    const id = `${w.submission.client}\u0000${w.submission.id}`;
    const leader = leaders.get(id);
    if (leader) leader.followers.push(w);
    else leaders.set(id, w);
  }
  return [...leaders.values()];
}

function answer(w: Waiting, outcome: Committed): void {
  w.resolve(outcome);
  const submission_id = outcome.kind === "stored" ? outcome.entry.value.id : outcome.submission_id;
  for (const f of w.followers) f.resolve({ kind: "duplicate", submission_id });
}

function answerError(w: Waiting, error: unknown): void {
  w.reject(error);
  for (const f of w.followers) f.reject(error);
}
