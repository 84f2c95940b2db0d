/**
 * Runs batch processing in this process, at most CONCURRENT_RUNS runs at a time, so processing
 * never floods KV while webhooks are being stored. Batches that queue up meanwhile are processed
 * together in the next run (one pass plans and commits many submissions), in chunks that bound
 * the KV reads in flight. Every driver goes through here: the pipeline right after a commit, the
 * KV queue message for the same batch (the durable retry: it finds the batch done), and the
 * sweeper; a batch already queued or running is joined, not run twice.
 */
import { deletePendingBatches, type PendingBatch, refId } from "../store/batches.ts";
import type { HandedOff, Processor, ProcessResult } from "./processor.ts";

/** Submissions processed in one run at most; the rest wait for the next run. */
const MAX_RUN_SUBMISSIONS = 600;
/**
 * Runs in flight at once: a second run overlaps the first one's KV latency. Runs may touch the
 * same Job or Contact; versionstamp checks make the loser re-plan.
 */
const CONCURRENT_RUNS = 2;
/** Submissions planned at once: bounds the KV reads in flight, so ingest commits are not queued behind them. */
const CHUNK = 60;

/** What one batch's run did: its submissions that failed (the others are settled). */
export interface BatchResult {
  failures: ProcessResult["failures"];
}

interface Waiting {
  batch: PendingBatch;
  done: PromiseWithResolvers<BatchResult>;
  queuedAt: number;
  /**
   * The batch's submissions as their commit stored them, by `refId`, until its run takes them (the
   * records hold no body: what is held is what they were found to mean).
   */
  handed: Map<string, HandedOff>;
}

/** Called before each chunk of a run with when its oldest batch was queued (ms); may wait. */
export type BeforeChunk = (oldestQueuedAt: number) => Promise<void>;

export class BatchScheduler {
  #queue: Waiting[] = [];
  #queuedSubmissions = 0;
  #byBatch = new Map<string, Promise<BatchResult>>();
  #waiting = new Map<string, Waiting>();
  #loops = 0;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly processor: Processor,
    private readonly beforeChunk?: BeforeChunk,
  ) {}

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

  /** Submissions handed over and not yet taken by a run. */
  get handedOff(): number {
    let n = 0;
    for (const w of this.#waiting.values()) n += w.handed.size;
    return n;
  }

  /**
   * Processes a batch (joining a run already scheduled for the same batch). `handed`: its
   * submissions as the commit that stored them answered them (what is not handed is read from KV).
   */
  run(batch: PendingBatch, handed: readonly HandedOff[] = []): Promise<BatchResult> {
    const existing = this.#byBatch.get(batch.id);
    if (existing) return existing;
    const done = Promise.withResolvers<BatchResult>();
    const byRef = new Map(handed.map((h) => [refId([h.entry.value.client, h.entry.value.id]), h]));
    const waiting: Waiting = { batch, done, queuedAt: performance.now(), handed: byRef };
    this.#queue.push(waiting);
    this.#waiting.set(batch.id, waiting);
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
        const handed = new Map(run.flatMap((w) => [...w.handed]));
        try {
          const refs = run.flatMap((w) => w.batch.refs);
          const failures: ProcessResult["failures"] = [];
          // A run that fits one chunk can delete its batch records in its processing commit.
          const settlesBatches = refs.length <= CHUNK ? run.map((w) => w.batch.id) : undefined;
          let batchesDeleted = false;
          for (let i = 0; i < refs.length; i += CHUNK) {
            await this.beforeChunk?.(run[0].queuedAt);
            const part = await this.processor.process(refs.slice(i, i + CHUNK), { settlesBatches, handed });
            failures.push(...part.failures);
            batchesDeleted = part.batchesDeleted;
          }
          await this.#finish(run, failures, batchesDeleted);
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
    const run = this.#queue.splice(0, n);
    for (const w of run) this.#waiting.delete(w.batch.id);
    return run;
  }

  /** Hands each batch its own failures, and drops the records of batches with none (all settled). */
  async #finish(run: Waiting[], failures: ProcessResult["failures"], batchesDeleted: boolean): Promise<void> {
    const failed = new Set(failures.map((f) => refId(f.ref)));
    const settled = run.filter(({ batch }) => !batch.refs.some((r) => failed.has(refId(r))));
    if (!batchesDeleted) await deletePendingBatches(this.kv, settled.map((w) => w.batch.id));
    for (const { batch, done } of run) {
      const mine = new Set(batch.refs.map(refId));
      // Forgotten before resolving, so a caller can run the batch again at once.
      this.#byBatch.delete(batch.id);
      done.resolve({ failures: failures.filter((f) => mine.has(refId(f.ref))) });
    }
  }
}
