/**
 * What both ways of storing a delivery share (the group commit of queue mode, `group_commit.ts`,
 * and the store-and-apply commit of inline mode, `arrival.ts`): where its raw body goes, and what
 * a failed commit means for each submission in it. A body that fits goes into the same commit as
 * its record, as the record's one chunk; a larger one is stored in chunks first. A commit fails
 * when a check no longer holds: the submission was stored meanwhile (a duplicate: the same bytes
 * have the same id), or its client was deleted or re-created (its generation moved).
 */
import type { Submission } from "../domain/submission.ts";
import type { ClientGuard } from "./clients.ts";
import { submissionKey } from "./keys.ts";
import { getAll } from "./kv.ts";
import { COMPACT_BODY_ENCODING, INLINE_BODY_LIMIT, withPackedBody } from "./submissions.ts";

/**
 * The submission packed (where KV bills per KiB), split for its commit: `body` goes beside the
 * record as its chunk 0; when `body` is null the body is too large for one commit, and `record`
 * still holds it, to be stored in chunks first.
 */
export function placeBody(
  received: Submission,
  compact: boolean,
): { record: Submission; body: Uint8Array | null } {
  const packed = withPackedBody(received, compact ? COMPACT_BODY_ENCODING : null);
  const body = packed.body;
  if (!body || body.length > INLINE_BODY_LIMIT) return { record: packed, body: null };
  return { record: { ...packed, body: null, body_chunks: 1 }, body };
}

/** The members' client guards, one per client (a commit checks each once). */
export function guardsOf(members: readonly { guard: ClientGuard }[]): ClientGuard[] {
  return [...new Map(members.map((m) => [m.guard.slug, m.guard])).values()];
}

/** What a submission of a failed commit is now: stored by someone else, its client gone, or to retry. */
export type Verdict = "duplicate" | "gone" | "retry";

/** Reads each submission's key and each client's generation once, and says what each member is. */
export async function triageFailedCommit(
  kv: Deno.Kv,
  members: readonly { submission: Submission; guard: ClientGuard }[],
): Promise<Verdict[]> {
  const guards = guardsOf(members);
  const keys = members.map(({ submission: s }) => submissionKey(s.client, s.id));
  const read = await getAll(kv, [...keys, ...guards.map((g) => g.key)]);
  const gone = new Set(
    guards.filter((g, i) => read[keys.length + i].versionstamp !== g.versionstamp).map((g) => g.slug),
  );
  return members.map((m, i) =>
    gone.has(m.guard.slug) ? "gone" : read[i].versionstamp !== null ? "duplicate" : "retry"
  );
}
