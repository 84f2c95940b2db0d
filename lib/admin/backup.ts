/**
 * Backup and restore of the whole store, as the CLI runs them on the service's KV file (they are
 * not routes: a backup holds every secret).
 */
import { HttpError } from "../errors.ts";
import type { OpsContext } from "../api/context.ts";
import { backupLines, restoreLines, RestoreRefusedError } from "../store/backup.ts";
import { listClients } from "../store/clients.ts";
import { nowIso } from "../time.ts";

/** Every entry of the store as lines of a backup file (secrets included: keep the file secret). */
export function backup(ctx: OpsContext): AsyncGenerator<string> {
  return backupLines(ctx.kv, nowIso());
}

/** Loads a backup into this store; refused (409) for a store that is not empty unless `force`. */
export async function restore(ctx: OpsContext, input: { lines: AsyncIterable<string>; force: boolean }) {
  try {
    const { entries } = await restoreLines(ctx.kv, input.lines, { force: input.force });
    for (const client of await listClients(ctx.kv)) ctx.deps.keys?.invalidate(client.slug);
    ctx.audit("store.restore", { entries, force: input.force });
    return { restored: entries };
  } catch (error) {
    if (error instanceof RestoreRefusedError) throw new HttpError(409, "restore_refused", error.message);
    if (error instanceof SyntaxError) {
      throw new HttpError(400, "invalid_backup", `The backup file is damaged: ${error.message}`);
    }
    throw error;
  }
}
