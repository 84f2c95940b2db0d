/**
 * Wires the parts into one service over one KV: the intake pipeline and its processing drivers
 * (queue handler, sweeper), the operations (one context per caller kind), and the HTTP handler. `main.ts` and the tests
 * both build it here; nothing here decides anything.
 */
import { AccessControl } from "./admin/access.ts";
import { type AdminSource, OpsContext } from "./api/context.ts";
import { type Operations, operations } from "./admin/operations.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { registerAdminRoutes } from "./http/admin.ts";
import { BodyReader } from "./http/body.ts";
import { registerDashboard, registerPortal } from "./http/dashboard.ts";
import { WriteBack } from "./processing/write_back.ts";
import { compose, RequestContext } from "./http/context.ts";
import { json, mapErrors } from "./http/errors.ts";
import { requestLog, requestMetrics } from "./http/request_log.ts";
import { Metrics } from "./metrics.ts";
import { Router } from "./http/router.ts";
import { countedAsIngest } from "./http/ingest.ts";
import { webhookRoute } from "./http/webhook.ts";
import { Intake } from "./processing/intake.ts";
import { Outbound } from "./processing/outbound.ts";
import { Processor } from "./processing/processor.ts";
import { DEFAULT_RETRY_SCHEDULE_MS } from "./domain/outbound.ts";
import { createQueueHandler } from "./processing/queue.ts";
import { Reconciler } from "./processing/reconciler.ts";
import { CalcomWebhooks } from "./processing/calcom_webhook.ts";
import { Retention } from "./processing/retention.ts";
import { Replayer } from "./processing/replay.ts";
import { Sweeper } from "./processing/sweeper.ts";
import { SigningKeyCache } from "./store/clients.ts";
import { type DiskWatch, diskWatchFor } from "./store/disk.ts";
import { checkKv } from "./store/kv.ts";

/** Largest webhook body accepted. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface Service {
  /** Serves a request; `info` (Deno.serve's) gives the sender's address. */
  handler: (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>;
  queueHandler: (message: unknown) => Promise<void>;
  intake: Intake;
  sweeper: Sweeper;
  reconciler: Reconciler;
  /** Outbound webhooks (the minute's cron runs `runDue`). */
  outbound: Outbound;
  /** Free space of a local KV file (null where there is no disk to watch). */
  disk: DiskWatch | null;
  /** What operations run with, one per source their audit lines name. */
  contexts: Record<AdminSource, OpsContext>;
  /** Every operation of the tables, bound to each context: `admins.cli.listJobs({ slug })`. */
  admins: Record<AdminSource, Operations>;
  /**
   * Runs the sweeper every `sweepIntervalMs`, and reconciliation of the clients that are due,
   * until the returned function is called.
   */
  startSweeping: () => () => void;
  /**
   * Resolves when processing started in this process has finished, and stops the body-timeout
   * timer (call after the server stopped).
   */
  idle: () => Promise<void>;
}

/** The disk watch for the configured KV (main.ts builds it before opening KV). */
export function diskWatch(config: Config, log: Logger): DiskWatch | null {
  return diskWatchFor(config.kvPath, {
    floorBytes: config.diskFloorBytes,
    reserveBytes: config.diskReserveBytes,
  }, log);
}

export function createService(
  kv: Deno.Kv,
  config: Config,
  log: Logger,
  disk: DiskWatch | null = diskWatch(config, log),
): Service {
  const metrics = new Metrics(kv, disk);
  const outbound = new Outbound(kv, log, metrics, {
    schedule: config.outboundRetryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
    allowPrivate: config.outboundAllowPrivate,
    attemptRetentionMs: config.outboundLogRetentionDays * 86_400_000,
    leaseMs: config.outboundLeaseMs,
  });
  // Inline is where KV is billed (Deno Deploy, KV Connect): store compactly there, for speed elsewhere.
  const compact = config.processingMode === "inline";
  const processor = new Processor(kv, log, metrics, compact);
  const intake = new Intake(kv, processor, log, {
    mode: config.processingMode,
    queue: { delayMs: config.queueRetryDelayMs, backoffSchedule: config.queueBackoffMs ?? undefined },
    disk,
  }, metrics);
  const sweeper = new Sweeper(kv, intake.scheduler, log, {
    graceMs: config.sweepGraceMs,
    maxAttempts: config.maxAttempts,
    retention: new Retention(kv, config.rawBodyRetentionDays, log, config.changeLogRetentionDays),
  });
  const keys = new SigningKeyCache(kv);
  const calcomWebhooks = new CalcomWebhooks(kv, log, {
    publicUrl: config.publicUrl,
    backoffMs: config.reconcileBackoffMs,
    timeoutMs: config.reconcileTimeoutMs,
    keys,
  }, metrics);
  const reconciler = new Reconciler(
    kv,
    intake,
    log,
    {
      intervalMs: config.reconcileIntervalMs,
      backoffMs: config.reconcileBackoffMs,
      timeoutMs: config.reconcileTimeoutMs,
      leaseMs: config.reconcileLeaseMs,
    },
    metrics,
    calcomWebhooks,
  );
  const writeBack = new WriteBack(kv, log, {
    backoffMs: config.reconcileBackoffMs,
    timeoutMs: config.reconcileTimeoutMs,
  }, metrics);
  const adminDeps = {
    kv,
    keys,
    writeBack,
    replayer: new Replayer(kv, processor),
    reconciler,
    calcomWebhooks,
    metrics,
    log,
    outbound,
    outboundAllowPrivate: config.outboundAllowPrivate,
    attemptRetentionMs: config.outboundLogRetentionDays * 86_400_000,
    publicUrl: config.publicUrl,
    changeLogRetentionDays: config.changeLogRetentionDays,
  };
  const contexts = {
    api: new OpsContext({ ...adminDeps, source: "api" }),
    cli: new OpsContext({ ...adminDeps, source: "cli" }),
    dashboard: new OpsContext({ ...adminDeps, source: "dashboard" }),
  };
  const admins = {
    api: operations(contexts.api),
    cli: operations(contexts.cli),
    dashboard: operations(contexts.dashboard),
  };
  const bodies = new BodyReader({
    maxBytes: MAX_BODY_BYTES,
    timeoutMs: config.bodyTimeoutMs,
    budgetBytes: config.bodyBudgetBytes,
  });

  const router = new Router();
  router.on("GET", "/healthz", async () => {
    await checkKv(kv);
    const storage = disk?.check() ?? null;
    if (storage?.low) {
      return json(503, {
        ok: false,
        status: "degraded",
        processing_mode: config.processingMode,
        problems: [{
          code: "storage_low",
          message: "Free disk space is below DISK_FLOOR_MB: new deliveries get 503 until space is freed.",
        }],
        storage,
      });
    }
    return json(200, { ok: true, status: "ok", processing_mode: config.processingMode, storage });
  });
  router.on(
    "POST",
    "/webhooks/calcom/:slug{/}?",
    countedAsIngest(intake.pressure, webhookRoute({ keys, intake, bodies, reconciler, metrics })),
  );
  registerAdminRoutes(router, contexts, new AccessControl(kv, config.adminToken), {
    metrics,
    metricsPublic: config.metricsPublic,
    changeLogRetentionDays: config.changeLogRetentionDays,
  });
  registerDashboard(router, config.publicUrl);
  registerPortal(router);
  const handle = compose(
    [requestLog(log), requestMetrics(metrics), mapErrors(log)],
    (ctx) => router.dispatch(ctx),
  );

  return {
    handler: (req, info) =>
      Promise.resolve(handle(new RequestContext(req, remoteAddress(info), config.trustedProxies))),
    queueHandler: createQueueHandler(kv, intake.scheduler, log),
    intake,
    sweeper,
    reconciler,
    outbound,
    disk,
    contexts,
    admins,
    startSweeping: () => {
      disk?.start();
      // Now, not in a minute: what is due, and the watches that wake outbound from then on.
      outbound.runDue().catch((error) => log.error("outbound sweep failed", { error: String(error) }));
      const timer = setInterval(() => {
        sweeper.sweepOnce().catch((error) => log.error("sweep failed", { error: String(error) }));
        outbound.runDue().catch((error) => log.error("outbound sweep failed", { error: String(error) }));
      }, config.sweepIntervalMs);
      const reconciling = setInterval(() => {
        reconciler.runDue().catch((error) => log.error("reconcile failed", { error: String(error) }));
      }, Math.min(config.reconcileIntervalMs, 60_000));
      return () => {
        clearInterval(timer);
        clearInterval(reconciling);
      };
    },
    idle: async () => {
      await reconciler.idle();
      await intake.idle();
      await outbound.idle();
      bodies.stop();
      disk?.stop();
    },
  };
}

function remoteAddress(info: Deno.ServeHandlerInfo | undefined): string | null {
  const addr = info?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : null;
}
