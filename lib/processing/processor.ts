/**
 * Applies stored submissions to Jobs and Contacts. Every driver uses it: the pipeline right after
 * a commit, the queue handler, the sweeper and replay. Idempotent (a settled submission is skipped
 * unless replayed) and safe under concurrent runs (every commit is checked by versionstamp).
 * Submissions that touch disjoint entries share a commit.
 */
import { failSpan, inSpan, rememberTrace } from "../trace.ts";
import { interpretStored } from "../calcom/interpret.ts";
import { type Interpretation, isReplayable, type Submission } from "../domain/submission.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { refId, type SubmissionRef } from "../store/batches.ts";
import { planSubmission } from "../store/bookings.ts";
import { commitPlans, type Plan, planSize, plansOp } from "../store/plan.ts";
import { type Arrival, storeApplied } from "../store/arrival.ts";
import { ClientGoneError, type ClientGuard } from "../store/clients.ts";
import type { Committed } from "../store/group_commit.ts";
import type { KvNote } from "../store/reconcile.ts";
import { pendingBatchKey } from "../store/keys.ts";
import { withOccRetry } from "../store/kv.ts";
import { getSubmissionEntries, readBody, recordAttemptFailure } from "../store/submissions.ts";
import { nowIso } from "../time.ts";

/** KV's limits per atomic commit. */
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;
/**
 * Change-log bytes one commit appends at most: a client's log value for the commit must fit one KV
 * value (64 KiB), and each entry is at most ~20 kB (`domain/changes.ts`).
 */
const MAX_CHANGE_BYTES = 56_000;

type PlannedRef = { ref: SubmissionRef; plan: Plan };

/** A submission as its commit stored it, with what its body was found to mean on arrival. */
export interface HandedOff {
  entry: Deno.KvEntry<Submission>;
  meaning: Interpretation;
}

export interface ProcessResult {
  /** Submissions this call applied (already settled ones it skipped are not counted). */
  applied: number;
  /** True when the records of `settlesBatches` were deleted in the same commit. */
  batchesDeleted: boolean;
  /** Submissions whose processing threw (their error and attempt count are recorded on them). */
  failures: { ref: SubmissionRef; error: string }[];
}

export interface ProcessOptions {
  /** Re-apply settled submissions too (replay). */
  force?: boolean;
  /**
   * Batches that `refs` are all of: when every submission settles in a single commit (the usual
   * case for a small batch), their records are deleted in that commit, which saves one commit per
   * batch (kept because `deno task bench` measured processing falling behind without it; see the
   * README).
   */
  settlesBatches?: readonly string[];
  /**
   * Submissions just stored, as their commit stored them with what their bodies were found to mean
   * on arrival (by `refId`): processing them neither reads them back nor interprets the same bytes
   * again. A stale one only fails its versionstamp check and is planned again from KV.
   */
  handed?: ReadonlyMap<string, HandedOff>;
}

export class Processor {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly log: Logger,
    private readonly metrics: Metrics | null = null,
    /** Jobs and the change log stored packed: where KV bills per KiB (inline mode, `store/packed.ts`). */
    private readonly compact = false,
  ) {}

  process(refs: readonly SubmissionRef[], options: ProcessOptions = {}): Promise<ProcessResult> {
    return inSpan("process.batch", { "calcom_intake.submissions": refs.length }, async (span) => {
      const result = await this.#processLogged(refs, options);
      span.setAttributes({
        "calcom_intake.applied": result.applied,
        "calcom_intake.failed": result.failures.length,
      });
      if (result.failures.length > 0) failSpan(span, `${result.failures.length} submission(s) failed`);
      return result;
    });
  }

  async #processLogged(refs: readonly SubmissionRef[], options: ProcessOptions): Promise<ProcessResult> {
    const started = performance.now();
    const result = await this.#process(refs, options);
    if (result.applied > 0 || result.failures.length > 0) {
      this.log.info("processed", {
        submissions: refs.length,
        applied: result.applied,
        failed: result.failures.length,
        ms: Math.round((performance.now() - started) * 100) / 100,
      });
    }
    return result;
  }

  /** The entries of `refs` (and the handed-over meanings), reading from KV only what was not handed over. */
  async #entries(
    refs: readonly SubmissionRef[],
    options: ProcessOptions,
  ): Promise<{ entries: Deno.KvEntryMaybe<Submission>[]; meanings: (Interpretation | undefined)[] }> {
    // Replay re-reads the stored bytes on purpose (today's code applies what a fix changed).
    const handed = refs.map((ref) => options.force ? undefined : options.handed?.get(refId(ref)));
    const missing = refs.filter((_, i) => !handed[i]);
    const read = missing.length > 0 ? await getSubmissionEntries(this.kv, missing) : [];
    let next = 0;
    return {
      entries: handed.map((h) => h?.entry ?? read[next++]),
      meanings: handed.map((h) => h?.meaning),
    };
  }

  async #process(refs: readonly SubmissionRef[], options: ProcessOptions): Promise<ProcessResult> {
    const result: ProcessResult = { applied: 0, batchesDeleted: false, failures: [] };
    let queue: readonly SubmissionRef[] = refs;
    while (queue.length > 0) {
      const { entries, meanings } = await this.#entries(queue, options);
      // Planning is bound by KV read latency, not CPU: plan the whole queue at once.
      const plans = await Promise.all(queue.map(async (ref, i): Promise<Plan | null> => {
        try {
          return await this.#plan(entries[i], options, meanings[i]);
        } catch (error) {
          await this.#fail(ref, error, result);
          return null;
        }
      }));
      const { commits, deferred } = groupPlans(queue, plans);
      const single = queue === refs && commits.length === 1 && deferred.length === 0 &&
        result.failures.length === 0;
      const batchKeys = single ? (options.settlesBatches ?? []).map(pendingBatchKey) : [];
      const committed = await Promise.all(
        commits.map((round) => this.#commitRound(round, result, options, batchKeys)),
      );
      result.batchesDeleted = batchKeys.length > 0 && committed[0] === true;
      queue = deferred;
    }
    return result;
  }

  /** Commits one group of plans together (true), or one by one when that fails (false). */
  async #commitRound(
    round: PlannedRef[],
    result: ProcessResult,
    options: ProcessOptions,
    alsoDelete: readonly Deno.KvKey[],
  ): Promise<boolean> {
    try {
      if (await commitPlans(this.kv, round.map((r) => r.plan), alsoDelete)) {
        result.applied += round.length;
        for (const { plan } of round) this.#observe(plan);
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
        const plan = await this.#applyAlone(ref, options);
        if (plan) {
          result.applied++;
          this.#observe(plan);
        }
      } catch (error) {
        await this.#fail(ref, error, result);
      }
    }
    return false;
  }

  /**
   * Applies one submission on its own: read it, plan it, commit, and plan again whenever a
   * concurrent writer got there first. The plan committed, or null when there was nothing to do.
   */
  async #applyAlone(ref: SubmissionRef, options: ProcessOptions): Promise<Plan | null> {
    return await withOccRetry(`process submission ${ref[1]}`, async () => {
      const [entry] = await getSubmissionEntries(this.kv, [ref]);
      const plan = await this.#plan(entry, options);
      return plan ? { op: plansOp(this.kv, [plan]), result: plan } : { op: null, result: null };
    });
  }

  /** The plan for a submission as it is now, or null when there is nothing to do. */
  async #plan(
    entry: Deno.KvEntryMaybe<Submission>,
    options: ProcessOptions,
    handedOver?: Interpretation,
  ): Promise<Plan | null> {
    const s = entry.value;
    if (!s || (s.status !== "pending" && !options.force)) return null;
    if (!isReplayable(s)) return null;
    // Otherwise today's code reads the stored bytes again: a replay applies what a fix changed.
    const meaning = handedOver ?? interpretStored(s.channel, await readBody(this.kv, s), s.received_at);
    return await planSubmission(this.kv, entry as Deno.KvEntry<Submission>, meaning, nowIso(), this.compact);
  }

  /**
   * Inline mode: stores a new delivery and applies it in one commit (`store/arrival.ts`). Null
   * when that was not done, nothing written: the caller stores it pending as usual (a planning
   * error then fails the submission's processing, where it is recorded and retried).
   */
  async applyOnArrival(
    received: Submission,
    meaning: Interpretation,
    guard: ClientGuard,
    note: KvNote | null,
  ): Promise<Committed | null> {
    let arrival: Arrival;
    try {
      arrival = await inSpan(
        "kv.store_applied",
        { "calcom_intake.client": received.client },
        async (span) => {
          const done = await storeApplied(this.kv, received, meaning, guard, note, nowIso);
          span.setAttribute("calcom_intake.outcome", done.kind);
          return done;
        },
      );
    } catch (error) {
      if (error instanceof ClientGoneError) throw error;
      this.log.warn("single commit failed; storing the delivery pending", {
        slug: received.client,
        submission_id: received.id,
        error: error instanceof Error ? error.message : String(error),
      });
      return null;
    }
    if (arrival.kind === "duplicate") return { kind: "duplicate", submission_id: received.id };
    if (arrival.kind === "not_applied") return null;
    this.#observe(arrival.plan);
    return { kind: "stored", entry: arrival.entry, batch: null, members: [] };
  }

  #observe(plan: Plan): void {
    // Its delivery to endpoints continues this trace (`trace.ts`).
    for (const c of plan.changes) rememberTrace(c.id);
    if (!this.metrics) return;
    this.metrics.submissions.inc({ client: plan.client, status: plan.status });
    this.metrics.processingLatency.observe(Math.max(0, Date.now() - Date.parse(plan.receivedAt)) / 1000);
    for (const c of plan.changes) this.metrics.changes.inc({ client: plan.client, type: c.type });
  }

  async #fail(ref: SubmissionRef, error: unknown, result: ProcessResult): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    result.failures.push({ ref, error: message });
    this.log.error("processing failed", { slug: ref[0], submission_id: ref[1], error: message });
    await recordAttemptFailure(this.kv, ref, message);
  }
}

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
  let changeBytes = 0;
  plans.forEach((plan, i) => {
    if (!plan) return;
    if ([...plan.touched].some((k) => touched.has(k))) return void deferred.push(refs[i]);
    plan.touched.forEach((k) => touched.add(k));
    const size = planSize(plan);
    if (
      current.length > 0 &&
      (checks + size.checks > MAX_CHECKS || mutations + size.mutations > MAX_MUTATIONS ||
        changeBytes + size.changeBytes > MAX_CHANGE_BYTES)
    ) {
      commits.push(current);
      current = [];
      checks = 0;
      mutations = 0;
      changeBytes = 0;
    }
    current.push({ ref: refs[i], plan });
    checks += size.checks;
    mutations += size.mutations;
    changeBytes += size.changeBytes;
  });
  if (current.length > 0) commits.push(current);
  return { commits, deferred };
}
