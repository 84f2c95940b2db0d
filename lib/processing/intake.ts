/**
 * The intake pipeline: what a webhook delivered (or reconciliation read from Cal.com's API)
 * becomes durable, then processed. `receive` is the one entry for both: it interprets the bytes,
 * answers pings, notes what a delivery tells about the client's webhook, stores the submission
 * (group commit, `store/group_commit.ts`), starts processing its batch in this process at once,
 * and says which follow-up a delivery needs. In `inline` mode the answer waits for that
 * processing (nothing else would run it soon: no queue, and an idle serverless instance may be
 * stopped right after answering); in `queue` mode it does not, and the batch's queue message is
 * the durable retry. Either way a processing failure never changes the answer: the data is stored,
 * and the queue or the sweeper runs the batch again.
 */
import { interpretStored } from "../calcom/interpret.ts";
import {
  createSubmission,
  type Interpretation,
  type Submission,
  type SubmissionChannel,
} from "../domain/submission.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { BatchQueueOptions, PendingBatch } from "../store/batches.ts";
import { HttpError } from "../errors.ts";
import { type ClientGuard, recordPing } from "../store/clients.ts";
import { type DiskWatch, isDiskFull } from "../store/disk.ts";
import { type Committed, IngestBatcher } from "../store/group_commit.ts";
import { type KvNote, WebhookStateRecorder, writeNote } from "../store/reconcile.ts";
import type { HandedOff, Processor } from "./processor.ts";
import { IngestPressure } from "./ingest_pressure.ts";
import { BatchScheduler } from "./scheduler.ts";

/** Cal.com's ping body is under 1 KB; larger unverified bodies are refused without parsing. */
const MAX_PING_BYTES = 16 * 1024;

/** One delivery as it arrived: a webhook's verified (or not) bytes, or a booking Cal.com's API showed. */
export interface Delivery {
  guard: ClientGuard;
  body: Uint8Array;
  channel: SubmissionChannel;
  /** The secret that verified the signature, "calcom_api" for reconciliation, null when none did. */
  secretId: string | null;
  receivedAt: string;
  /** Cal.com's `X-Cal-Webhook-Version` header, where sent. */
  webhookVersion?: string | null;
  /** Wait for processing in queue mode too (reconciliation counts what each booking changed). */
  awaitProcessing?: boolean;
}

/** What became of a delivery. */
export type Receipt =
  | { kind: "ping"; signatureValid: boolean }
  /** Not signed by any of the client's secrets, and not a ping: nothing was stored. */
  | { kind: "unverified" }
  | {
    kind: "stored" | "duplicate";
    submission: Submission;
    meaning: Interpretation;
    /** The body was made by a Cal.com payload template. */
    templated: boolean;
    /**
     * A new webhook delivery only Cal.com's API can complete (a recurring cancel-all, a
     * quarantined body whose booking the API still shows): a reconciliation pass should follow.
     */
    passNeeded: boolean;
    /** The booking that pass must read again by uid (a recurring cancel-all), if any. */
    followUp: { uid: string; reason: string } | null;
  };

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

  readonly #webhookState: WebhookStateRecorder;

  constructor(
    private readonly kv: Deno.Kv,
    readonly processor: Processor,
    private readonly log: Logger,
    options: IntakeOptions,
    private readonly metrics: Metrics | null = null,
  ) {
    this.#webhookState = new WebhookStateRecorder(kv);
    this.#inline = options.mode === "inline";
    this.#disk = options.disk ?? null;
    this.#pressure = this.#inline ? null : new IngestPressure();
    const pressure = this.#pressure;
    this.scheduler = new BatchScheduler(
      kv,
      processor,
      pressure ? (at) => pressure.yieldToIngest(at) : undefined,
    );
    this.#batcher = new IngestBatcher(kv, {
      queue: this.#inline ? null : options.queue,
      compact: this.#inline,
    });
  }

  /**
   * Takes one delivery: a ping is recorded and answered; anything else signed becomes a stored
   * submission (or finds the earlier one with the same bytes) and is processed. Rejects with
   * ClientGoneError when the client was deleted after `guard` was read.
   */
  async receive(delivery: Delivery): Promise<Receipt> {
    const { guard: { slug }, body, receivedAt, secretId } = delivery;
    const webhook = delivery.channel === "calcom";
    if (secretId === null) {
      // Unverified bodies are not interpreted, except to recognise Cal.com's (small) ping.
      if (
        body.length > MAX_PING_BYTES || interpretStored(delivery.channel, body, receivedAt).kind !== "ping"
      ) {
        return { kind: "unverified" };
      }
      await recordPing(this.kv, slug, { at: receivedAt, signature_valid: false, secret_id: null });
      return { kind: "ping", signatureValid: false };
    }
    const meaning = interpretStored(delivery.channel, body, receivedAt);
    const version = delivery.webhookVersion ?? null;
    if (meaning.kind === "ping") {
      await recordPing(this.kv, slug, { at: receivedAt, signature_valid: true, secret_id: secretId });
      const note = await this.#webhookState.note(generationOf(delivery), {
        version,
        at: receivedAt,
        template: null,
        delivery: false,
      });
      if (note) {
        await writeNote(this.kv, note);
        this.#webhookState.learn(generationOf(delivery), note);
      }
      return { kind: "ping", signatureValid: true };
    }
    const submission = createSubmission({
      slug,
      body,
      secretId,
      receivedAt,
      interpretation: meaning,
      channel: delivery.channel,
    });
    const templated = meaning.kind === "invalid" && meaning.cause === "payload_template";
    // What it tells about the webhook rides along in the delivery's own commit: never a reason to fail it.
    const note = webhook
      ? await this.#webhookState.note(generationOf(delivery), {
        version,
        at: receivedAt,
        template: templated ? { submission_id: submission.id, message: meaning.reason } : null,
        delivery: true,
      }).catch(() => null)
      : null;
    const committed = await this.#accept(submission, delivery.guard, {
      meaning,
      awaitProcessing: delivery.awaitProcessing,
      note,
    });
    if (webhook && committed.kind === "stored") {
      this.metrics?.submissions.inc({ client: slug, status: submission.status });
      // Its note was written in the commit that stored it (a duplicate's was not).
      if (note) this.#webhookState.learn(generationOf(delivery), note);
    }
    const fresh = webhook && committed.kind === "stored";
    const followUp = fresh && meaning.kind === "booking" ? meaning.follow_up ?? null : null;
    const passNeeded = fresh && (meaning.kind === "invalid" || followUp !== null);
    return { kind: committed.kind, submission, meaning, templated, passNeeded, followUp };
  }

  /**
   * Stores the submission durably (or finds the earlier one with the same body), then processes
   * it. Callers ask `ensureAccepting` first (the webhook route does, before it reads the body); a full disk
   * met by the commit itself is the same 503. `awaitProcessing` waits for processing in queue mode
   * too (reconciliation counts what each booking changed). `meaning` is what the caller found the
   * body to mean: processing right after the commit uses it instead of interpreting the bytes again.
   */
  async #accept(
    submission: Submission,
    guard: ClientGuard,
    options: { awaitProcessing?: boolean; meaning?: Interpretation; note?: KvNote | null } = {},
  ): Promise<Committed> {
    // Inline, a new delivery is stored and applied in one commit where it can be (half the writes).
    const applied = this.#inline && options.meaning
      ? await this.processor.applyOnArrival(submission, options.meaning, guard, options.note ?? null)
      : null;
    if (applied) return applied;
    let committed: Committed;
    try {
      committed = await this.#batcher.ingest(
        submission,
        guard,
        options.note ?? null,
        options.meaning ?? null,
      );
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.#disk?.check();
      throw storageLow();
    }
    if (committed.kind === "stored" && committed.batch) {
      // Every member of the commit, as stored and as understood: the run reads none of them back.
      const handed = committed.members.flatMap((m) =>
        m.meaning ? [{ entry: m.entry, meaning: m.meaning }] : []
      );
      const processing = this.#processAfterCommit(committed.batch, options.awaitProcessing === true, handed);
      if (this.#inline || options.awaitProcessing) await processing;
    }
    return committed;
  }

  /**
   * What counts deliveries in progress (queue mode), which processing steps aside for under a
   * burst; the webhook route runs inside it (`http/ingest.ts`). Null in inline mode.
   */
  get pressure(): IngestPressure | null {
    return this.#pressure;
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
   * Starts (or joins) processing the batch in this process, with its submissions as just stored
   * (they travel with the batch to the run, which neither reads them back nor parses them again).
   */
  #processAfterCommit(batch: PendingBatch, mustRun: boolean, handed: readonly HandedOff[]): Promise<void> {
    // The batch's first member to get here started its run with every member's entry.
    const started = this.#afterCommit.get(batch.id);
    if (started) return started;
    if (!this.#inline && !mustRun && this.scheduler.queuedSubmissions >= MAX_FAST_PATH_BACKLOG) {
      return Promise.resolve();
    }
    const run = this.#runTwice(batch, handed)
      .catch((error) =>
        this.log.error("processing after commit failed", { batch_id: batch.id, error: String(error) })
      )
      .finally(() => this.#afterCommit.delete(batch.id));
    this.#afterCommit.set(batch.id, run);
    return run;
  }

  /**
   * A batch with failures gets one more attempt at once: the usual cause is a conflict with a
   * concurrent commit, which a re-plan resolves. What still fails waits for the queue or the sweeper.
   */
  async #runTwice(batch: PendingBatch, handed: readonly HandedOff[]): Promise<void> {
    const first = await this.scheduler.run(batch, handed);
    if (first.failures.length > 0) await this.scheduler.run(batch);
  }
}

/** Whose webhook state: a slug re-created after a delete is a new client, whose state starts afresh. */
function generationOf(delivery: Delivery): { slug: string; generation: string | null } {
  return { slug: delivery.guard.slug, generation: delivery.guard.versionstamp };
}

function storageLow(): HttpError {
  return new HttpError(
    503,
    "storage_low",
    "The service is low on disk space and is not storing new deliveries; it accepts them again by itself once space is freed. Stored work is still being processed.",
    { "retry-after": "60" },
  );
}
