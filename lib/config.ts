/**
 * Configuration from the environment. No variable we ask users to set starts with `DENO_` (Deno
 * Deploy refuses them); the platform's own predefined `DENO_DEPLOY` is read to detect it.
 */
import { isRemoteKvPath } from "./store/kv.ts";

export type ProcessingMode = "queue" | "inline";

/** Where the service runs: the new Deno Deploy (detected by its predefined `DENO_DEPLOY=true`), or anywhere else. */
export type Platform = "deno-deploy" | "self-hosted";

export interface Config {
  platform: Platform;
  /** Address and port to listen on; null where the platform chooses (Deno Deploy, unless set). */
  hostname: string | null;
  port: number | null;
  /**
   * Local KV file, `:memory:`, or a KV Connect URL; null for the KV database attached to a Deno
   * Deploy app (`Deno.openKv()` without an argument).
   */
  kvPath: string | null;
  /** Access token for a KV Connect URL (Deno reads it as DENO_KV_ACCESS_TOKEN, a name Deploy refuses). */
  kvAccessToken: string | null;
  /** Bearer token of the admin API; null disables it (503). */
  adminToken: string | null;
  processingMode: ProcessingMode;
  sweepGraceMs: number;
  sweepIntervalMs: number;
  /** Failed processing attempts after which a submission ends `failed`. */
  maxAttempts: number;
  /** KV queue retry schedule in ms; KV's default when null. */
  queueBackoffMs: number[] | null;
  /**
   * Delay of each batch's queue message. Batches are processed in-process right after their commit;
   * the message is the durable retry, so it is due only once that has had time to finish, a burst
   * and its catch-up included (deliveries during a burst would compete with ingest for KV).
   */
  queueRetryDelayMs: number;
  /** Longest a webhook body may take to arrive before the request is answered 408. */
  bodyTimeoutMs: number;
  /** Webhook body bytes held at once by requests in progress; past it large bodies get 503. */
  bodyBudgetBytes: number;
  /**
   * Addresses of reverse proxies whose `X-Forwarded-For` names the real sender (the body budget is
   * shared per sender); empty: the connection's own address is the sender.
   */
  trustedProxies: string[];
  /** Free bytes where the KV file lives below which new deliveries get 503. */
  diskFloorBytes: number;
  /** Size of the reserve file given up for SQLite when space runs low. */
  diskReserveBytes: number;
  /** How often each client with a Cal.com API key is reconciled. */
  reconcileIntervalMs: number;
  /** First wait after a 429 or failed Cal.com API call (doubled on each retry). */
  reconcileBackoffMs: number;
  /** Longest one Cal.com API call may take. */
  reconcileTimeoutMs: number;
  /** How long a pass may go without renewing its client's lease before another may take over. */
  reconcileLeaseMs: number;
  /** `GET /metrics` without the admin token (for a scraper on a private network). */
  metricsPublic: boolean;
  /** Raw bodies of settled submissions older than this many days are dropped (0: kept for ever). */
  rawBodyRetentionDays: number;
  /** Change-log entries are kept this many days; a feed cursor older than that answers 410. */
  changeLogRetentionDays: number;
  /** Outbound webhook retry intervals in ms (the last repeated); null: the default (about 3 days). */
  outboundRetryScheduleMs: number[] | null;
  /** Outbound webhooks may go to http:// and private addresses (self-hosted setups, tests). */
  outboundAllowPrivate: boolean;
  /** Outbound attempts are kept this many days. */
  outboundLogRetentionDays: number;
  /** How long a deliverer's lease on an endpoint lasts (another instance takes over after it). */
  outboundLeaseMs: number;
  /** The service's public base URL, for the webhook URLs the dashboard shows (null: the page's own address). */
  publicUrl: string | null;
}

export const DEFAULT_KV_PATH = "./data/calcom-intake.sqlite3";

export function readConfig(get: (name: string) => string | undefined = (n) => Deno.env.get(n)): Config {
  const platform: Platform = get("DENO_DEPLOY") === "true" ? "deno-deploy" : "self-hosted";
  const givenPath = get("KV_PATH")?.trim() || null;
  if (platform === "deno-deploy" && givenPath && !isRemoteKvPath(givenPath)) {
    throw new Error(
      `KV_PATH="${givenPath}" would be a file on one Deno Deploy instance's disk, which is not shared and vanishes when the instance stops. Remove KV_PATH to use the KV database attached to the app.`,
    );
  }
  const kvPath = platform === "deno-deploy" ? givenPath : givenPath ?? DEFAULT_KV_PATH;
  const queueless = kvPath === null || isRemoteKvPath(kvPath);
  const mode = get("PROCESSING_MODE")?.trim();
  if (mode && mode !== "queue" && mode !== "inline") {
    throw new Error(`PROCESSING_MODE must be "queue" or "inline", not "${mode}".`);
  }
  if (mode === "queue" && queueless) {
    throw new Error(
      platform === "deno-deploy"
        ? "PROCESSING_MODE=queue cannot work on Deno Deploy: it has no KV queues. Remove it (inline is the default there)."
        : "PROCESSING_MODE=queue needs a local KV: KV Connect (http/https KV_PATH) has no queues.",
    );
  }
  return {
    platform,
    hostname: get("HOST")?.trim() || (platform === "deno-deploy" ? null : "0.0.0.0"),
    port: (get("PORT")?.trim() || platform === "self-hosted") ? integer(get, "PORT", 8000, 0, 65535) : null,
    kvPath,
    kvAccessToken: get("KV_ACCESS_TOKEN")?.trim() || null,
    adminToken: get("ADMIN_TOKEN")?.trim() || null,
    processingMode: (mode as ProcessingMode | undefined) ?? (queueless ? "inline" : "queue"),
    sweepGraceMs: integer(get, "SWEEP_GRACE_MS", 60_000, 0, 86_400_000),
    sweepIntervalMs: integer(get, "SWEEP_INTERVAL_MS", 15_000, 100, 3_600_000),
    maxAttempts: integer(get, "MAX_ATTEMPTS", 6, 1, 100),
    queueBackoffMs: backoff(get("QUEUE_BACKOFF_MS")),
    queueRetryDelayMs: integer(get, "QUEUE_RETRY_DELAY_MS", 30_000, 0, 86_400_000),
    bodyTimeoutMs: integer(get, "BODY_TIMEOUT_MS", 10_000, 100, 600_000),
    bodyBudgetBytes: integer(get, "BODY_BUDGET_MB", 64, 4, 4096) * 1024 * 1024,
    trustedProxies: addresses(get("TRUSTED_PROXIES")),
    diskFloorBytes: integer(get, "DISK_FLOOR_MB", 64, 0, 1_048_576) * 1024 * 1024,
    diskReserveBytes: integer(get, "DISK_RESERVE_MB", 32, 0, 1_048_576) * 1024 * 1024,
    reconcileIntervalMs: integer(get, "RECONCILE_INTERVAL_MS", 15 * 60_000, 10_000, 86_400_000),
    reconcileBackoffMs: integer(get, "RECONCILE_BACKOFF_MS", 5_000, 1, 600_000),
    reconcileTimeoutMs: integer(get, "RECONCILE_TIMEOUT_MS", 30_000, 100, 600_000),
    reconcileLeaseMs: integer(get, "RECONCILE_LEASE_MS", 120_000, 1_000, 3_600_000),
    metricsPublic: flag(get, "METRICS_PUBLIC"),
    rawBodyRetentionDays: integer(get, "RAW_BODY_RETENTION_DAYS", 0, 0, 36_500),
    changeLogRetentionDays: integer(get, "CHANGE_LOG_RETENTION_DAYS", 30, 1, 3650),
    outboundRetryScheduleMs: schedule(get("OUTBOUND_RETRY_SCHEDULE_MS")),
    outboundAllowPrivate: flag(get, "OUTBOUND_ALLOW_PRIVATE"),
    outboundLogRetentionDays: integer(get, "OUTBOUND_LOG_RETENTION_DAYS", 14, 1, 365),
    outboundLeaseMs: integer(get, "OUTBOUND_LEASE_MS", 30_000, 1_000, 600_000),
    publicUrl: publicUrl(get("PUBLIC_URL")),
  };
}

function integer(
  get: (name: string) => string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = get(name)?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not "${raw}".`);
  }
  return value;
}

function publicUrl(raw: string | undefined): string | null {
  const value = raw?.trim();
  if (!value) return null;
  try {
    const url = new URL(value);
    if (url.protocol === "https:" || url.protocol === "http:") {
      return url.origin + url.pathname.replace(/\/+$/, "");
    }
  } catch {
    // Reported below.
  }
  throw new Error(
    `PUBLIC_URL must be the service's public http(s) address, e.g. https://intake.example.com, not "${value}".`,
  );
}

function flag(get: (name: string) => string | undefined, name: string): boolean {
  const raw = get(name)?.trim().toLowerCase();
  if (!raw || raw === "0" || raw === "false") return false;
  if (raw === "1" || raw === "true") return true;
  throw new Error(`${name} must be 1 or 0 (or true/false), not "${raw}".`);
}

function schedule(raw: string | undefined): number[] | null {
  if (!raw?.trim()) return null;
  const values = raw.split(",").map((v) => Number(v.trim()));
  if (values.length > 50 || values.some((v) => !Number.isInteger(v) || v < 0 || v > 604_800_000)) {
    throw new Error(
      "OUTBOUND_RETRY_SCHEDULE_MS must be up to 50 comma-separated delays in ms (each at most a week), e.g. 0,5000,300000.",
    );
  }
  return values;
}

function addresses(raw: string | undefined): string[] {
  const values = (raw ?? "").split(",").map((v) => v.trim()).filter(Boolean);
  const bad = values.find((v) => !/^[0-9a-fA-F.:]{2,45}$/.test(v));
  if (bad) {
    throw new Error(
      `TRUSTED_PROXIES must be IP addresses, comma-separated (e.g. 127.0.0.1,::1), not "${bad}".`,
    );
  }
  return values;
}

function backoff(raw: string | undefined): number[] | null {
  if (!raw?.trim()) return null;
  const values = raw.split(",").map((v) => Number(v.trim()));
  if (values.length > 5 || values.some((v) => !Number.isInteger(v) || v < 0 || v > 3_600_000)) {
    throw new Error("QUEUE_BACKOFF_MS must be up to 5 comma-separated delays in ms, each at most 3600000.");
  }
  return values;
}
