/**
 * Turns stored submissions into Jobs and Contacts. Used by every driver: the queue handler, inline
 * processing, the sweeper and replay. Idempotent (a settled submission is skipped unless replayed)
 * and safe under concurrent runs (every commit is checked by versionstamp). Submissions of one
 * batch that touch disjoint entries share a commit.
 */
import { emptyFields, interpretBytes } from "../calcom/normalize.ts";
import { nowIso } from "../time.ts";
import type { Submission } from "../domain/submission.ts";
import { commitPlans, type Outcome, type Plan, planOutcome, planSize } from "../store/bookings.ts";
import { getAll, withOccRetry } from "../store/kv.ts";
import { pendingBatchKey, submissionKey } from "../store/keys.ts";
import {
  deletePendingBatches,
  readBody,
  recordAttemptFailure,
  type SubmissionRef,
} from "../store/submissions.ts";
import type { Logger } from "../log.ts";

const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;

type PlannedRef = { ref: SubmissionRef; plan: Plan };

/**
 * Splits plans into commits within KV's atomic limits. Plans that touch an entry an earlier plan
 * touches were made against state that commit changes, so they are deferred to be planned again.
 */
function groupPlans(
  refs: readonly SubmissionRef[],
  plans: readonly (Plan | null)[],
): { commits: PlannedRef[][]; deferred: SubmissionRef[] } {
  const touched = new Set<string>();
  const commits: PlannedRef[][] = [];
  const deferred: SubmissionRef[] = [];
  let current: PlannedRef[] = [];
  let checks = 0;
  let mutations = 0;
  plans.forEach((plan, i) => {
    if (!plan) return;
    if ([...plan.touched].some((k) => touched.has(k))) return void deferred.push(refs[i]);
    plan.touched.forEach((k) => touched.add(k));
    const size = planSize(plan);
    if (
      current.length > 0 && (checks + size.checks > MAX_CHECKS || mutations + size.mutations > MAX_MUTATIONS)
    ) {
      commits.push(current);
      current = [];
      checks = 0;
      mutations = 0;
    }
    current.push({ ref: refs[i], plan });
    checks += size.checks;
    mutations += size.mutations;
  });
  if (current.length > 0) commits.push(current);
  return { commits, deferred };
}

export interface ProcessResult {
  settled: number;
  batches_dropped?: boolean;
  /** Submissions whose processing threw (their error and attempt count are recorded on them). */
  failures: { ref: SubmissionRef; error: string }[];
}

export interface ProcessorOptions {
  /** Re-process settled submissions too (replay). */
  force?: boolean;
  /**
   * Batch records to delete in the same commit when every submission settles in one commit (the
   * common case for a small batch): saves a commit. `ProcessResult.batches_dropped` says if it happened.
   */
  dropBatchIds?: readonly string[];
}

/** Interprets a stored body with today's code. */
export function outcomeFor(body: Uint8Array, receivedAt: string): Outcome {
  const interpretation = interpretBytes(body, receivedAt);
  switch (interpretation.kind) {
    case "invalid":
      return { kind: "quarantined", reason: interpretation.reason };
    case "ping":
      return { kind: "ignored", fields: emptyFields("PING") };
    case "ignored":
      return { kind: "ignored", fields: interpretation.fields };
    case "booking":
      return { kind: "booking", fields: interpretation.fields, events: interpretation.events };
  }
}

export class Processor {
  constructor(private readonly kv: Deno.Kv, private readonly log: Logger) {}

  /** Drops the records of batches whose submissions are all settled (the sweeper stops re-driving them). */
  async dropBatches(batchIds: readonly string[]): Promise<void> {
    await deletePendingBatches(this.kv, batchIds);
  }

  async process(refs: readonly SubmissionRef[], options: ProcessorOptions = {}): Promise<ProcessResult> {
    const result: ProcessResult = { settled: 0, failures: [] };
    let queue: readonly SubmissionRef[] = refs;
    while (queue.length > 0) {
      const entries = await getAll<Submission>(this.kv, queue.map(([slug, id]) => submissionKey(slug, id)));
      // Planning is bound by KV read latency, not CPU: plan the whole queue at once.
      const plans = await Promise.all(queue.map(async (ref, i): Promise<Plan | null> => {
        const entry = entries[i];
        if (!entry.value) return null;
        if (entry.value.status !== "pending" && !options.force) return null;
        try {
          return await this.#plan(entry as Deno.KvEntry<Submission>);
        } catch (error) {
          await this.#fail(ref, error, result);
          return null;
        }
      }));
      const { commits, deferred } = groupPlans(queue, plans);
      const single = queue === refs && commits.length === 1 && deferred.length === 0 &&
        result.failures.length === 0;
      const dropKeys = single ? (options.dropBatchIds ?? []).map(pendingBatchKey) : [];
      const dropped = await Promise.all(
        commits.map((round) => this.#commitRound(round, result, options, dropKeys)),
      );
      if (single && dropped[0] && dropKeys.length > 0) result.batches_dropped = true;
      queue = deferred;
    }
    return result;
  }

  /** Commits one group of plans (with `alsoDelete`); true when that single commit succeeded. */
  async #commitRound(
    round: PlannedRef[],
    result: ProcessResult,
    options: ProcessorOptions,
    alsoDelete: readonly Deno.KvKey[] = [],
  ): Promise<boolean> {
    try {
      if (await commitPlans(this.kv, round.map((r) => r.plan), alsoDelete)) {
        result.settled += round.length;
        return true;
      }
    } catch (error) {
      if (round.length === 1) {
        await this.#fail(round[0].ref, error, result);
        return false;
      }
    }
    // A concurrent writer got there first (or the combined commit was too big): one by one.
    for (const { ref } of round) {
      try {
        if (await this.#processOne(ref, options)) result.settled++;
      } catch (error) {
        await this.#fail(ref, error, result);
      }
    }
    return false;
  }

  #processOne([slug, id]: SubmissionRef, options: ProcessorOptions): Promise<boolean> {
    return withOccRetry(`process submission ${id}`, async () => {
      const entry = await this.kv.get<Submission>(submissionKey(slug, id));
      if (!entry.value || (entry.value.status !== "pending" && !options.force)) {
        return { op: null, result: false };
      }
      const plan = await this.#plan(entry as Deno.KvEntry<Submission>);
      const op = this.kv.atomic();
      for (const c of plan.checks) op.check(c);
      for (const [k, v] of plan.sets) op.set(k, v);
      for (const k of plan.deletes) op.delete(k);
      return { op, result: true };
    });
  }

  async #plan(entry: Deno.KvEntry<Submission>): Promise<Plan> {
    const s = entry.value;
    const outcome = outcomeFor(await readBody(this.kv, s), s.received_at);
    return await planOutcome(this.kv, entry, outcome, nowIso());
  }

  async #fail(ref: SubmissionRef, error: unknown, result: ProcessResult): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    result.failures.push({ ref, error: message });
    this.log.error("processing failed", { client: ref[0], submission_id: ref[1], error: message });
    await recordAttemptFailure(this.kv, ref, message);
  }
}
