/**
 * One delivery stored and applied in a single atomic commit (inline mode): its raw body, its
 * record already settled, and everything applying it changes (Jobs, Contacts, counts, change
 * log). Stored pending and settled after, the same delivery costs two commits, its record written
 * twice and a batch record written and deleted; here the commit that makes it durable is the one
 * that applies it, so nothing is ever pending. When that cannot be done (a large body, commits
 * that keep losing to concurrent ones), the caller stores it pending as usual.
 */
import type { Interpretation, Submission } from "../domain/submission.ts";
import { planSubmission } from "./bookings.ts";
import { ClientGoneError, type ClientGuard } from "./clients.ts";
import { submissionBodyChunkKey, submissionKey } from "./keys.ts";
import { placeBody, triageFailedCommit } from "./delivery.ts";
import { keyId, type Plan, plansOp } from "./plan.ts";
import type { KvNote } from "./reconcile.ts";

export type Arrival =
  /** Stored and applied: `entry` is the settled record as committed, `plan` what the commit did. */
  | { kind: "applied"; entry: Deno.KvEntry<Submission>; plan: Plan }
  /** The same body was stored before. */
  | { kind: "duplicate" }
  /** Nothing was written: store it pending instead. */
  | { kind: "not_applied" };

/** Commits tried while concurrent ones keep changing what the plan read. */
const ATTEMPTS = 3;

/**
 * Stores `received` and applies what it means in one commit, as long as its client is still the
 * one `guard` was read from (else ClientGoneError). Planning errors are thrown, nothing written.
 */
export async function storeApplied(
  kv: Deno.Kv,
  received: Submission,
  meaning: Interpretation,
  guard: ClientGuard,
  note: KvNote | null,
  now: () => string,
): Promise<Arrival> {
  if (received.status !== "pending") return { kind: "not_applied" };
  const { record, body } = placeBody(received, true);
  if (!body) return { kind: "not_applied" };
  const pending: Submission = { ...record, batch_id: null };
  const key = submissionKey(pending.client, pending.id);
  // Cal.com sends a webhook once, so a duplicate is found by the commit; the same API snapshot
  // comes back with every pass that reads an unchanged booking, so it is looked for first.
  if (received.channel !== "calcom" && (await kv.get(key)).versionstamp !== null) {
    return { kind: "duplicate" };
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    // Planned as if stored; its check is that no submission with this body exists yet.
    const entry = { key, value: pending, versionstamp: null } as unknown as Deno.KvEntry<Submission>;
    const plan = await planSubmission(kv, entry, meaning, now(), true);
    const op = plansOp(kv, [plan])
      .check({ key: guard.key, versionstamp: guard.versionstamp })
      .set(submissionBodyChunkKey(pending.client, pending.id, 0), body);
    if (note) op.set(note.key, note.value);
    const result = await op.commit();
    if (result.ok) {
      const settled = plan.sets.find(([k]) => keyId(k) === keyId(key))![1] as Submission;
      return { kind: "applied", entry: { key, value: settled, versionstamp: result.versionstamp }, plan };
    }
    const [verdict] = await triageFailedCommit(kv, [{ submission: pending, guard }]);
    if (verdict === "gone") throw new ClientGoneError(guard.slug);
    if (verdict === "duplicate") return { kind: "duplicate" };
  }
  return { kind: "not_applied" };
}
