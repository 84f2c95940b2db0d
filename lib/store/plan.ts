/**
 * A *plan*: the entries applying one submission read (checked by versionstamp at commit) and the
 * writes it implies. Plans over disjoint keys can share one atomic commit; a losing plan is planned
 * again from KV. `bookings.ts` builds them, `jobs.ts` and `contacts.ts` fill them in.
 */
import type { ChangeEntry } from "../domain/changes.ts";
import { CountDeltas } from "./counts.ts";
import { changeHeadKey, changeLogKey } from "./keys.ts";
import { type Encoding, packJson, unpackJson } from "./packed.ts";

export interface Plan {
  submissionId: string;
  client: string;
  /** The status the submission settles with, and when it was received (for metrics). */
  status: string;
  receivedAt: string;
  checks: Deno.AtomicCheck[];
  sets: [Deno.KvKey, unknown][];
  deletes: Deno.KvKey[];
  /** Entries of the client's change log this plan's commit appends (one per Job change). */
  changes: ChangeEntry[];
  /** What the commit changes in the client's counts (Jobs and submissions by status, Contacts). */
  counts: CountDeltas;
  /** Every key read or written, serialised: plans that share none can commit together. */
  touched: Set<string>;
  /** Write Jobs and the change log packed (`packed.ts`): where KV bills a write unit per KiB. */
  compact: boolean;
}

export const keyId = (key: Deno.KvKey) => JSON.stringify(key);

/** An empty plan; the metric fields are only meaningful for a submission's own plan. */
export function newPlan(
  fields: Pick<Plan, "submissionId" | "client" | "status" | "receivedAt"> & { compact?: boolean },
  checks: Deno.AtomicCheck[] = [],
): Plan {
  return {
    compact: false,
    ...fields,
    checks,
    sets: [],
    deletes: [],
    changes: [],
    counts: new CountDeltas(),
    touched: new Set(),
  };
}

/**
 * Commits several plans in one atomic (with `alsoDelete`, e.g. the records of batches this commit
 * settles); false when any check failed (nothing was written).
 */
export async function commitPlans(
  kv: Deno.Kv,
  plans: readonly Plan[],
  alsoDelete: readonly Deno.KvKey[] = [],
): Promise<boolean> {
  const op = plansOp(kv, plans);
  for (const key of alsoDelete) op.delete(key);
  return (await op.commit()).ok;
}

/**
 * A client's log head: its last commit's time and how many entries it holds (its versionstamp is
 * that commit's), so a reader knows without listing whether a position is at the end.
 */
export interface LogHead {
  committed_at: string;
  entries: number;
}

/** What one commit appends to a client's change log. */
export interface ChangeLogValue {
  committed_at: string;
  entries: ChangeEntry[];
}

/**
 * A commit's log value as compact plans store it: its entries packed (each carries its Job, whose
 * field names every entry repeats), and how many there are (read without unpacking them).
 */
interface PackedLog {
  committed_at: string;
  count: number;
  packed: Uint8Array;
  encoding: Encoding;
}

/** What a log key holds: packed, or the entries as they are. */
export type StoredLogValue = PackedLog | ChangeLogValue;

const LOG_ENCODING: Encoding = "deflate-raw";

export function packLog(log: ChangeLogValue): PackedLog {
  const packed = packJson(log.entries, LOG_ENCODING);
  return { committed_at: log.committed_at, count: log.entries.length, packed, encoding: LOG_ENCODING };
}

/** The entries a log value holds. */
export function logEntries(value: StoredLogValue): ChangeEntry[] {
  return "packed" in value ? unpackJson(value.packed, value.encoding) : value.entries;
}

/** How many entries a log value holds. */
export function logCount(value: StoredLogValue): number {
  return "packed" in value ? value.count : value.entries.length;
}

/**
 * The plans' checks and writes in one atomic, with their change-log entries: one log key per client
 * whose Jobs the commit changes (its key ends in the commit's versionstamp), and that client's head.
 */
export function plansOp(kv: Deno.Kv, plans: readonly Plan[]): Deno.AtomicOperation {
  const op = kv.atomic();
  const logs = new Map<string, ChangeLogValue>();
  const compact = plans.some((p) => p.compact);
  for (const p of plans) {
    for (const c of p.checks) op.check(c);
    for (const [k, v] of p.sets) op.set(k, v);
    for (const k of p.deletes) op.delete(k);
    p.counts.applyTo(op);
    if (p.changes.length === 0) continue;
    const log = logs.get(p.client) ?? { committed_at: p.changes[0].occurred_at, entries: [] };
    log.entries.push(...p.changes);
    logs.set(p.client, log);
  }
  for (const [client, log] of logs) {
    op.set(changeLogKey(client, kv.commitVersionstamp()), compact ? packLog(log) : log);
    const head: LogHead = { committed_at: log.committed_at, entries: log.entries.length };
    op.set(changeHeadKey(client), head);
  }
  return op;
}

export function planSize(plan: Plan): { checks: number; mutations: number; changeBytes: number } {
  return {
    checks: plan.checks.length,
    mutations: plan.sets.length + plan.deletes.length + plan.counts.size + (plan.changes.length ? 2 : 0),
    changeBytes: plan.changes.length ? JSON.stringify(plan.changes).length : 0,
  };
}
