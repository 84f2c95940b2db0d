/**
 * Runs batch processing in this process, at most CONCURRENT_RUNS runs at a time, so processing
 * never floods KV while webhooks are being stored. Batches that queue up meanwhile are processed
 * together in the next run (one pass plans and commits many submissions), and each chunk of a run
 * waits, for a bounded time, while ingest is busy: under a burst processing yields, and it catches
 * up after (or once the oldest waiting batch has waited 10 s, so Jobs never lag a long burst by more).
 *
 * Every driver goes through here: the just-committed batch (fast path), the KV queue message for
 * the same batch (the durable retry path: it finds the batch already done), and the sweeper.
 */
import type { PendingBatch, SubmissionRef } from "../store/submissions.ts";
import type { Processor, ProcessResult } from "./processor.ts";

/** Submissions processed in one run at most; the rest wait for the next run. */
const MAX_RUN_SUBMISSIONS = 600;
/**
 * Runs in flight at once: a second run overlaps the first one's KV latency. Runs may touch the
 * same Job or Contact; versionstamp checks make the loser re-plan.
 */
const CONCURRENT_RUNS = 2;
/** Submissions planned at once: bounds the KV reads in flight, so ingest commits are not queued behind them. */
const CHUNK = 60;

export interface SchedulerOptions {
  /** True while ingest is saturated; processing then waits. */
  ingestBusy?: () => boolean;
  /** Longest a chunk waits for ingest to calm down. */
  maxDeferMs?: number;
  /**
   * Age of the oldest waiting batch from which processing stops deferring: under a long burst Jobs
   * still appear within about this long, at the cost of some ingest throughput.
   */
  maxBacklogAgeMs?: number;
}

interface Waiting {
  batch: PendingBatch;
  done: PromiseWithResolvers<ProcessResult>;
  queuedAt: number;
}

const refId = (ref: SubmissionRef) => `${ref[0]}\u0000${ref[1]}`;

export class BatchScheduler {
  #queue: Waiting[] = [];
  #queuedSubmissions = 0;
  #byBatch = new Map<string, Promise<ProcessResult>>();
  #loops = 0;

  constructor(private readonly processor: Processor, private readonly options: SchedulerOptions = {}) {}

  /** Resolves once nothing is queued or running (for a clean shutdown). */
  async idle(): Promise<void> {
    while (this.#loops > 0 || this.#queue.length > 0) {
      await Promise.allSettled([...this.#byBatch.values()]);
      await new Promise((r) => setTimeout(r, 0));
    }
  }

  /** Submissions waiting for a run (not yet started). */
  get queuedSubmissions(): number {
    return this.#queuedSubmissions;
  }

  /** Processes a batch (joining a run already scheduled for the same batch). */
  run(batch: PendingBatch): Promise<ProcessResult> {
    const existing = this.#byBatch.get(batch.id);
    if (existing) return existing;
    const done = Promise.withResolvers<ProcessResult>();
    this.#queue.push({ batch, done, queuedAt: Date.now() });
    this.#queuedSubmissions += batch.refs.length;
    this.#byBatch.set(batch.id, done.promise);
    done.promise.catch(() => {});
    if (this.#loops < CONCURRENT_RUNS) this.#loop();
    return done.promise;
  }

  async #loop(): Promise<void> {
    this.#loops++;
    try {
      while (this.#queue.length > 0) {
        const run = this.#takeRun();
        try {
          const refs = run.flatMap((w) => w.batch.refs);
          const result: ProcessResult = { settled: 0, failures: [] };
          // A run that fits one chunk can drop its batch records in the processing commit itself.
          const dropBatchIds = refs.length <= CHUNK ? run.map((w) => w.batch.id) : undefined;
          for (let i = 0; i < refs.length; i += CHUNK) {
            await this.#yieldToIngest(run[0].queuedAt);
            const part = await this.processor.process(refs.slice(i, i + CHUNK), { dropBatchIds });
            result.settled += part.settled;
            result.failures.push(...part.failures);
            result.batches_dropped = part.batches_dropped;
          }
          await this.#finish(run, result);
        } catch (error) {
          for (const w of run) {
            this.#byBatch.delete(w.batch.id);
            w.done.reject(error);
          }
        }
      }
    } finally {
      this.#loops--;
    }
  }

  #takeRun(): Waiting[] {
    let n = 0;
    let size = 0;
    while (
      n < this.#queue.length && (n === 0 || size + this.#queue[n].batch.refs.length <= MAX_RUN_SUBMISSIONS)
    ) {
      size += this.#queue[n].batch.refs.length;
      n++;
    }
    this.#queuedSubmissions -= size;
    return this.#queue.splice(0, n);
  }

  /** Hands each batch its own failures, and drops the records of batches with none (all settled). */
  async #finish(run: Waiting[], result: ProcessResult): Promise<void> {
    const failed = new Set(result.failures.map((f) => refId(f.ref)));
    if (!result.batches_dropped) {
      const settled = run.filter(({ batch }) => !batch.refs.some((r) => failed.has(refId(r))));
      await this.processor.dropBatches(settled.map((w) => w.batch.id));
    }
    for (const { batch, done } of run) {
      const failures = result.failures.filter((f) => batch.refs.some((r) => refId(r) === refId(f.ref)));
      // Forgotten before resolving, so a caller can run the batch again at once.
      this.#byBatch.delete(batch.id);
      done.resolve({ settled: batch.refs.length - failures.length, failures });
    }
  }

  /** Waits while ingest is busy: at most `maxDeferMs`, and never once work waited `maxBacklogAgeMs`. */
  async #yieldToIngest(oldestQueuedAt: number): Promise<void> {
    const busy = this.options.ingestBusy;
    if (!busy) return;
    const until = Math.min(
      Date.now() + (this.options.maxDeferMs ?? 1000),
      oldestQueuedAt + (this.options.maxBacklogAgeMs ?? 10_000),
    );
    while (busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }
}
