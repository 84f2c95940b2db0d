/**
 * calcom-intake: receives Cal.com booking webhooks and turns them into Contacts and Jobs.
 * Reads config, opens KV, registers the single queue listener and the sweeper, and serves HTTP.
 */
import { readConfig } from "./lib/config.ts";
import { jsonLogger } from "./lib/log.ts";
import { createService, diskWatch } from "./lib/service.ts";
import { kvOpenProblem, listenProblem, startupWarnings } from "./lib/startup.ts";
import { openKv } from "./lib/store/kv.ts";
import { listenQueue, QueueListener } from "./lib/store/queue.ts";

const config = readConfig();
const log = jsonLogger();
for (const warning of startupWarnings(config)) log.warn("setting", { warning });
// Free space is read before KV opens: on a full disk a reserve is given up first, so KV can open.
const disk = diskWatch(config, log);
const volume = disk?.volumeProblem();
if (volume) stop(volume);
disk?.prepareForOpen();
const kv = await openKv(config.kvPath, config.kvAccessToken).catch((error) =>
  stop(kvOpenProblem(config, error))
);
const service = createService(kv, config, log, disk);

// Queue mode: on a KV file the listener runs on a connection of its own, paused while the disk is
// near its floor; an in-memory KV has no disk and no second connection to the same data.
const onFile = config.kvPath !== null && config.kvPath !== ":memory:";
const queue = config.processingMode === "queue" && onFile
  ? new QueueListener(config.kvPath!, service.queueHandler, log)
  : null;
if (queue) {
  disk?.onQueueSafe((safe) => void (safe ? queue.resume() : queue.pause("the disk is near its floor")));
  if (disk?.queueSafe ?? true) await queue.resume();
} else if (config.processingMode === "queue") listenQueue(kv, service.queueHandler);
// Deno Deploy only runs crons registered at the top level, before Deno.serve: the sweeper also
// re-drives batches an instance stopped mid-processing left behind, and outbound deliveries (and
// their retries) go on where a stopped instance left them.
const { sweeper, outbound } = service;
Deno.cron("sweep", "* * * * *", async () => void await Promise.all([sweeper.sweepOnce(), outbound.runDue()]));
// Each minute, the clients whose last reconciliation is older than RECONCILE_INTERVAL_MS.
Deno.cron("reconcile with Calcom", "* * * * *", async () => void await service.reconciler.runDue());
const stopSweeping = service.startSweeping();
service.sweeper.sweepOnce().catch((error) => log.error("startup sweep failed", { error: String(error) }));

let server: Deno.HttpServer;
try {
  server = Deno.serve({
    // On Deno Deploy the platform chooses where to listen, unless HOST or PORT say otherwise.
    ...(config.hostname === null ? {} : { hostname: config.hostname }),
    ...(config.port === null ? {} : { port: config.port }),
    onListen: ({ hostname, port }) =>
      log.info("listening", {
        url: `http://${hostname}:${port}`,
        platform: config.platform,
        kv: config.kvPath ?? "attached database",
        mode: config.processingMode,
      }),
  }, service.handler);
} catch (error) {
  stop(listenProblem(config, error) ?? String(error));
}

/** Says why the service cannot start (one log line, and the same words for a person), and exits 1. */
function stop(problem: string): never {
  log.error("cannot start", { problem });
  console.error(problem);
  Deno.exit(1);
}

// Graceful stop: finish answering (for at most SHUTDOWN_GRACE_MS: idle keep-alive connections can
// hold a shutdown up for minutes), let in-process processing finish, then close KV. Anything left
// pending is picked up after a restart by the queue or the sweeper.
const SHUTDOWN_GRACE_MS = 3000;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    log.info("stopping", { signal });
    stopSweeping();
    await Promise.race([server.shutdown(), new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS))]);
    await queue?.pause("stopping");
    await service.idle();
    kv.close();
    Deno.exit(0);
  });
}
