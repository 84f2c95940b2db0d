/**
 * When the last retention pass started, shared by every instance so one pass runs a day however
 * often processes start (on Deno Deploy, isolates come and go).
 */
import { retentionRunKey } from "./keys.ts";

/** The last pass's start (ms; null value: never), with its versionstamp for a claim. */
export async function lastRetentionRun(kv: Deno.Kv): Promise<Deno.KvEntryMaybe<number>> {
  return await kv.get<number>(retentionRunKey());
}

/** Claims the pass starting at `now`: true for the one caller whose claim replaced `seen`. */
export async function claimRetentionRun(
  kv: Deno.Kv,
  seen: Deno.KvEntryMaybe<number>,
  now: number,
): Promise<boolean> {
  return (await kv.atomic().check(seen).set(retentionRunKey(), now).commit()).ok;
}
