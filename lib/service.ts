/**
 * Wires the parts into one service: the HTTP handler (routing, errors, one log line per request),
 * the queue handler, the sweeper and replay, over one KV. `main.ts` and the tests both build it here.
 */
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { registerAdminRoutes } from "./http/admin.ts";
import { errorResponse, HttpError, json } from "./http/errors.ts";
import { type LogContext, Router } from "./http/router.ts";
import { webhookHandler } from "./http/webhook.ts";
import { Deadlines } from "./http/deadlines.ts";
import { Processor } from "./processing/processor.ts";
import { createQueueHandler } from "./processing/queue.ts";
import { Replayer } from "./processing/replay.ts";
import { BatchScheduler } from "./processing/scheduler.ts";
import { BurstDetector } from "./processing/burst.ts";
import { Sweeper } from "./processing/sweeper.ts";
import { SigningKeyCache } from "./store/clients.ts";
import { IngestBatcher, type PendingBatch } from "./store/submissions.ts";

export interface Service {
  handler: (req: Request) => Promise<Response>;
  queueHandler: (message: unknown) => Promise<void>;
  processor: Processor;
  sweeper: Sweeper;
  replayer: Replayer;
  /** Runs the sweeper every `sweepIntervalMs` until the returned function is called. */
  startSweeping: () => () => void;
  /**
   * Resolves when processing started in this process has finished, and stops the body-timeout timer
   * (call after the server stopped).
   */
  idle: () => Promise<void>;
}

/**
 * Webhook requests in progress at once from which processing defers to ingest. Cal.com traffic
 * for small businesses stays far below it; only bursts (a backlog, a load test) reach it.
 */
const BURST_CONCURRENCY = 16;
/** How long a burst outlasts its last saturated moment. */
const BURST_HOLD_MS = 200;
/** How long saturation must last to be a burst (longer than the stalls a busy machine has). */
const BURST_CONFIRM_MS = 100;
/** Submissions queued in memory for processing right after their commit, at most. */
const MAX_FAST_PATH_BACKLOG = 100_000;

export function createService(kv: Deno.Kv, config: Config, log: Logger): Service {
  const processor = new Processor(kv, log);
  const inline = config.processingMode === "inline";
  const burst = new BurstDetector(BURST_CONCURRENCY, BURST_HOLD_MS, BURST_CONFIRM_MS);
  // In inline mode requests wait for processing, so processing must never wait for requests.
  const scheduler = new BatchScheduler(processor, {
    ingestBusy: inline ? undefined : () => burst.busy(),
  });
  const sweeper = new Sweeper(kv, scheduler, log, {
    graceMs: config.sweepGraceMs,
    maxAttempts: config.maxAttempts,
  });
  const replayer = new Replayer(kv, processor);
  // A batch with failures (usually a conflict with a concurrent commit) gets one more attempt at
  // once; what still fails waits for the queue message or the sweeper.
  const processNow = async (batch: PendingBatch) => {
    const first = await scheduler.run(batch);
    if (first.failures.length > 0) await scheduler.run(batch);
  };
  const batcher = new IngestBatcher(kv, {
    useQueue: !inline,
    backoffSchedule: config.queueBackoffMs ?? undefined,
    queueDelayMs: config.queueRetryDelayMs,
    // Process each batch right after its commit. Inline mode waits for it (no queue will); queue
    // mode does not (the queue message is the durable retry). Failures never change the answer:
    // the data is stored, and the queue or the sweeper retries.
    onCommitted: (batch) => {
      // Past this backlog the batch is left to its queue message (and the sweeper): memory stays
      // bounded however long a burst lasts.
      if (!inline && scheduler.queuedSubmissions >= MAX_FAST_PATH_BACKLOG) return;
      const run = processNow(batch).catch((error) => {
        log.error("processing after commit failed", { batch_id: batch.id, error: String(error) });
      });
      return inline ? run : undefined;
    },
  });

  const keys = new SigningKeyCache(kv);
  const router = new Router();
  router.on("GET", "/healthz", async () => {
    await kv.get(["healthz"]);
    return json(200, { ok: true, processing_mode: config.processingMode });
  });
  const bodyDeadlines = new Deadlines();
  const webhook = webhookHandler({ kv, keys, batcher, bodyTimeoutMs: config.bodyTimeoutMs, bodyDeadlines });
  router.on("POST", "/webhooks/calcom/:slug{/}?", async (...args) => {
    burst.enter();
    try {
      return await webhook(...args);
    } finally {
      burst.leave();
    }
  });
  registerAdminRoutes(router, { kv, keys, adminToken: config.adminToken, replayer });

  const handler = async (req: Request): Promise<Response> => {
    const started = performance.now();
    const url = new URL(req.url);
    const fields: LogContext = {};
    let response: Response;
    try {
      const { handler, params } = router.resolve(req.method, url);
      response = await handler(req, params, url, fields);
    } catch (error) {
      if (!(error instanceof HttpError)) {
        log.error("unhandled error", {
          path: url.pathname,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      response = errorResponse(error);
    }
    log.info("request", {
      method: req.method,
      path: url.pathname,
      slug: fields.slug ?? null,
      trigger: fields.trigger ?? null,
      status: response.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      ...(fields.submission_id ? { submission_id: fields.submission_id } : {}),
    });
    return response;
  };

  return {
    handler,
    queueHandler: createQueueHandler(kv, scheduler, log),
    processor,
    sweeper,
    replayer,
    startSweeping: () => {
      const timer = setInterval(() => {
        sweeper.sweepOnce().catch((error) => log.error("sweep failed", { error: String(error) }));
      }, config.sweepIntervalMs);
      return () => clearInterval(timer);
    },
    idle: async () => {
      await scheduler.idle();
      bodyDeadlines.stop();
    },
  };
}
