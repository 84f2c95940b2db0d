/**
 * A *plan*: the entries applying one submission read (checked by versionstamp at commit) and the
 * writes it implies. Plans over disjoint keys can share one atomic commit; a losing plan is planned
 * again from KV. `bookings.ts` builds them, `jobs.ts` and `contacts.ts` fill them in.
 */
import { commit } from "./kv.ts";

export interface Plan {
  submissionId: string;
  client: string;
  /** The status the submission settles with, and when it was received (for metrics). */
  status: string;
  receivedAt: string;
  checks: Deno.AtomicCheck[];
  sets: [Deno.KvKey, unknown][];
  deletes: Deno.KvKey[];
  /** Every key read or written, serialised: plans that share none can commit together. */
  touched: Set<string>;
}

export const keyId = (key: Deno.KvKey) => JSON.stringify(key);

/** An empty plan; the metric fields are only meaningful for a submission's own plan. */
export function newPlan(
  fields: Pick<Plan, "submissionId" | "client" | "status" | "receivedAt">,
  checks: Deno.AtomicCheck[] = [],
): Plan {
  return { ...fields, checks, sets: [], deletes: [], touched: new Set() };
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
  return (await commit(op)).ok;
}

export function plansOp(kv: Deno.Kv, plans: readonly Plan[]): Deno.AtomicOperation {
  const op = kv.atomic();
  for (const p of plans) {
    for (const c of p.checks) op.check(c);
    for (const [k, v] of p.sets) op.set(k, v);
    for (const k of p.deletes) op.delete(k);
  }
  return op;
}

export function planSize(plan: Plan): { checks: number; mutations: number } {
  return { checks: plan.checks.length, mutations: plan.sets.length + plan.deletes.length };
}
