/**
 * The intake pipeline: a verified delivery becomes durable, then processed. `accept` stores the
 * submission (group commit, `store/group_commit.ts`) and then starts processing its batch in this
 * process at once. In `inline` mode the answer waits for that processing (nothing else would run
 * it soon: no queue, and an idle serverless instance may be stopped right after answering); in
 * `queue` mode it does not, and the batch's queue message is the durable retry. Either way a
 * processing failure never changes the answer: the data is stored, and the queue or the sweeper
 * runs the batch again.
 */
import type { Interpretation, Submission } from "../domain/submission.ts";
import type { Logger } from "../log.ts";
import type { BatchQueueOptions, PendingBatch } from "../store/batches.ts";
import { HttpError } from "../errors.ts";
import type { ClientGuard } from "../store/clients.ts";
import { type DiskWatch, isDiskFull } from "../store/disk.ts";
import { type Committed, IngestBatcher } from "../store/group_commit.ts";
import type { HandedOff, Processor } from "./processor.ts";
import { IngestPressure } from "./ingest_pressure.ts";
import { BatchScheduler } from "./scheduler.ts";

/**
 * Submissions queued in memory for processing right after their commit, at most (queue mode):
 * past it a batch is left to its queue message and the sweeper, so memory stays bounded however
 * long a burst lasts.
 */
const MAX_FAST_PATH_BACKLOG = 100_000;

export interface IntakeOptions {
  mode: "queue" | "inline";
  /** The batches' queue messages (queue mode). */
  queue: BatchQueueOptions | null;
  /** Free space of a local KV file: below its floor new deliveries are refused. */
  disk?: DiskWatch | null;
}

export class Intake {
  /** Every driver of processing (this pipeline, the queue handler, the sweeper) runs batches here. */
  readonly scheduler: BatchScheduler;
  readonly #batcher: IngestBatcher;
  readonly #inline: boolean;
  /** Queue mode: processing steps aside under a burst of ingest. */
  readonly #pressure: IngestPressure | null;
  /** Processing started right after a commit, by batch: the batch's requests share it. */
  readonly #afterCommit = new Map<string, Promise<void>>();
  readonly #disk: DiskWatch | null;

  constructor(
    kv: Deno.Kv,
    readonly processor: Processor,
    private readonly log: Logger,
    options: IntakeOptions,
  ) {
    this.#inline = options.mode === "inline";
    this.#disk = options.disk ?? null;
    this.#pressure = this.#inline ? null : new IngestPressure();
    const pressure = this.#pressure;
    this.scheduler = new BatchScheduler(
      kv,
      processor,
      pressure ? (at) => pressure.yieldToIngest(at) : undefined,
    );
    this.#batcher = new IngestBatcher(kv, { queue: this.#inline ? null : options.queue });
  }

  /**
   * Stores the submission durably (or finds the earlier one with the same body), then processes
   * it. Rejects with ClientGoneError when the client was deleted after `guard` was read. Callers
   * ask `ensureAccepting` first (the webhook route does, before it reads the body); a full disk
   * met by the commit itself is the same 503. `awaitProcessing` waits for processing in queue mode
   * too (reconciliation counts what each booking changed). `meaning` is what the caller found the
   * body to mean: processing right after the commit uses it instead of interpreting the bytes again.
   */
  async accept(
    submission: Submission,
    guard: ClientGuard,
    options: { awaitProcessing?: boolean; meaning?: Interpretation } = {},
  ): Promise<Committed> {
    let committed: Committed;
    try {
      committed = await this.#batcher.ingest(submission, guard);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.#disk?.check();
      throw storageLow();
    }
    if (committed.kind === "stored" && committed.batch) {
      const handed = options.meaning ? { entry: committed.entry, meaning: options.meaning } : null;
      const processing = this.#processAfterCommit(committed.batch, options.awaitProcessing === true, handed);
      if (this.#inline || options.awaitProcessing) await processing;
    }
    return committed;
  }

  /**
   * Runs the handling of one delivery (reading, verifying, storing it) counted as ingest in
   * progress, which is what processing steps aside for under a burst.
   */
  async receiving<T>(handle: () => Promise<T>): Promise<T> {
    return this.#pressure ? await this.#pressure.during(handle) : await handle();
  }

  /** Throws a 503 while new deliveries cannot be stored (low disk); cheap enough to call per request. */
  ensureAccepting(): void {
    if (this.#disk?.low()) throw storageLow();
  }

  /** Resolves when processing started in this process has finished. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#afterCommit.values()]);
    await this.scheduler.idle();
  }

  /**
   * Starts (or joins) processing the batch in this process, handing the submission over first when
   * it will run here. What a run did not take (a member that joined after the run read its
   * submissions) is dropped when the run ends: every submission of the batch is settled by then.
   */
  #processAfterCommit(batch: PendingBatch, mustRun: boolean, handed: HandedOff | null): Promise<void> {
    const started = this.#afterCommit.get(batch.id);
    const runsHere = started ||
      this.#inline || mustRun || this.scheduler.queuedSubmissions < MAX_FAST_PATH_BACKLOG;
    if (!runsHere) return Promise.resolve();
    if (handed) this.processor.handOff(handed);
    if (started) return started;
    const run = this.#runTwice(batch)
      .catch((error) =>
        this.log.error("processing after commit failed", { batch_id: batch.id, error: String(error) })
      )
      .finally(() => {
        this.processor.dropHandedOff(batch.refs);
        this.#afterCommit.delete(batch.id);
      });
    this.#afterCommit.set(batch.id, run);
    return run;
  }

  /**
   * A batch with failures gets one more attempt at once: the usual cause is a conflict with a
   * concurrent commit, which a re-plan resolves. What still fails waits for the queue or the sweeper.
   */
  async #runTwice(batch: PendingBatch): Promise<void> {
    const first = await this.scheduler.run(batch);
    if (first.failures.length > 0) await this.scheduler.run(batch);
  }
}

function storageLow(): HttpError {
  return new HttpError(
    503,
    "storage_low",
    "The service is low on disk space and is not storing new deliveries; it accepts them again by itself once space is freed. Stored work is still being processed.",
    { "retry-after": "60" },
  );
}
