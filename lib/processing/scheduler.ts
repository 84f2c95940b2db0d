/**
 * Runs batch processing in this process, one run at a time, so processing never floods KV while
 * webhooks are being stored. Batches that queue up meanwhile are processed together in the next
 * run (one pass plans and commits many submissions), and a run waits, for a bounded time, while
 * ingest has every commit slot busy: under a burst processing yields, and it catches up after.
 *
 * Every driver goes through here: the just-committed batch (fast path), the KV queue message for
 * the same batch (the durable retry path: it finds the batch already done), and the sweeper.
 */
import type { PendingBatch, SubmissionRef } from "../store/submissions.ts";
import type { Processor, ProcessResult } from "./processor.ts";

/** Submissions processed in one run at most; the rest wait for the next run. */
const MAX_RUN_SUBMISSIONS = 600;

export interface SchedulerOptions {
  /** True while ingest is saturated; processing then waits. */
  ingestBusy?: () => boolean;
  /** Longest a run waits for ingest to calm down. */
  maxDeferMs?: number;
}

interface Waiting {
  batch: PendingBatch;
  done: PromiseWithResolvers<ProcessResult>;
}

export class BatchScheduler {
  #queue: Waiting[] = [];
  #byBatch = new Map<string, Promise<ProcessResult>>();
  #running = false;

  constructor(private readonly processor: Processor, private readonly options: SchedulerOptions = {}) {}

  /** Processes a batch (joining a run already scheduled for the same batch). */
  run(batch: PendingBatch): Promise<ProcessResult> {
    const existing = this.#byBatch.get(batch.id);
    if (existing) return existing;
    const done = Promise.withResolvers<ProcessResult>();
    this.#queue.push({ batch, done });
    this.#byBatch.set(batch.id, done.promise);
    done.promise.catch(() => {}).finally(() => this.#byBatch.delete(batch.id));
    if (!this.#running) this.#loop();
    return done.promise;
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        await this.#yieldToIngest();
        const run = this.#takeRun();
        try {
          const result = await this.processor.process(run.flatMap((w) => w.batch.refs));
          await this.#finish(run, result);
        } catch (error) {
          run.forEach((w) => w.done.reject(error));
        }
      }
    } finally {
      this.#running = false;
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
    return this.#queue.splice(0, n);
  }

  /** Hands each batch its own failures, and drops the batch records that are fully settled. */
  async #finish(run: Waiting[], result: ProcessResult): Promise<void> {
    const failedIds = new Set(result.failures.map((f) => `${f.ref[0]}\u0000${f.ref[1]}`));
    const isFailed = (ref: SubmissionRef) => failedIds.has(`${ref[0]}\u0000${ref[1]}`);
    await Promise.all(run.map(async ({ batch, done }) => {
      const failures = result.failures.filter((f) =>
        batch.refs.some((r) => r[0] === f.ref[0] && r[1] === f.ref[1])
      );
      if (!batch.refs.some(isFailed)) await this.processor.settleBatch(batch);
      done.resolve({ settled: batch.refs.length - failures.length, failures });
    }));
  }

  async #yieldToIngest(): Promise<void> {
    const busy = this.options.ingestBusy;
    if (!busy) return;
    const until = Date.now() + (this.options.maxDeferMs ?? 1000);
    while (busy() && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }
}
