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
import { commit, getAll } from "./kv.ts";
import { keyId, type Plan, plansOp } from "./plan.ts";
import type { KvNote } from "./reconcile.ts";
import { COMPACT_BODY_ENCODING, INLINE_BODY_LIMIT, withPackedBody } from "./submissions.ts";

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
  const packed = withPackedBody(received, COMPACT_BODY_ENCODING);
  const body = packed.body;
  if (received.status !== "pending" || !body || body.length > INLINE_BODY_LIMIT) {
    return { kind: "not_applied" };
  }
  const pending: Submission = { ...packed, body: null, body_chunks: 1, batch_id: null };
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
    const result = await commit(op);
    if (result.ok) {
      const settled = plan.sets.find(([k]) => keyId(k) === keyId(key))![1] as Submission;
      return { kind: "applied", entry: { key, value: settled, versionstamp: result.versionstamp }, plan };
    }
    const [stored, generation] = await getAll(kv, [key, guard.key]);
    if (stored.versionstamp !== null) return { kind: "duplicate" };
    if (generation.versionstamp !== guard.versionstamp) throw new ClientGoneError(guard.slug);
  }
  return { kind: "not_applied" };
}
