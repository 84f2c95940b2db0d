/**
 * Configuration from the environment. No variable starts with `DENO_` (Deno Deploy rejects them).
 */
import { isRemoteKvPath } from "./store/kv.ts";

export type ProcessingMode = "queue" | "inline";

export interface Config {
  port: number;
  /** Local KV file, `:memory:`, or a KV Connect URL. */
  kvPath: string;
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
  /** Free bytes where the KV file lives below which new deliveries get 503. */
  diskFloorBytes: number;
  /** Size of the reserve file given up for SQLite when space runs low. */
  diskReserveBytes: number;
}

export const DEFAULT_KV_PATH = "./data/calcom-intake.sqlite3";

export function readConfig(get: (name: string) => string | undefined = (n) => Deno.env.get(n)): Config {
  const kvPath = get("KV_PATH")?.trim() || DEFAULT_KV_PATH;
  const mode = get("PROCESSING_MODE")?.trim();
  if (mode && mode !== "queue" && mode !== "inline") {
    throw new Error(`PROCESSING_MODE must be "queue" or "inline", not "${mode}".`);
  }
  if (mode === "queue" && isRemoteKvPath(kvPath)) {
    throw new Error("PROCESSING_MODE=queue needs a local KV: KV Connect (http/https KV_PATH) has no queues.");
  }
  return {
    port: integer(get, "PORT", 8000, 0, 65535),
    kvPath,
    adminToken: get("ADMIN_TOKEN")?.trim() || null,
    processingMode: (mode as ProcessingMode | undefined) ?? (isRemoteKvPath(kvPath) ? "inline" : "queue"),
    sweepGraceMs: integer(get, "SWEEP_GRACE_MS", 60_000, 0, 86_400_000),
    sweepIntervalMs: integer(get, "SWEEP_INTERVAL_MS", 15_000, 100, 3_600_000),
    maxAttempts: integer(get, "MAX_ATTEMPTS", 6, 1, 100),
    queueBackoffMs: backoff(get("QUEUE_BACKOFF_MS")),
    queueRetryDelayMs: integer(get, "QUEUE_RETRY_DELAY_MS", 30_000, 0, 86_400_000),
    bodyTimeoutMs: integer(get, "BODY_TIMEOUT_MS", 10_000, 100, 600_000),
    bodyBudgetBytes: integer(get, "BODY_BUDGET_MB", 64, 4, 4096) * 1024 * 1024,
    diskFloorBytes: integer(get, "DISK_FLOOR_MB", 64, 0, 1_048_576) * 1024 * 1024,
    diskReserveBytes: integer(get, "DISK_RESERVE_MB", 32, 0, 1_048_576) * 1024 * 1024,
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

function backoff(raw: string | undefined): number[] | null {
  if (!raw?.trim()) return null;
  const values = raw.split(",").map((v) => Number(v.trim()));
  if (values.length > 5 || values.some((v) => !Number.isInteger(v) || v < 0 || v > 3_600_000)) {
    throw new Error("QUEUE_BACKOFF_MS must be up to 5 comma-separated delays in ms, each at most 3600000.");
  }
  return values;
}
