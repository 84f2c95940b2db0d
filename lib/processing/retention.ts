/**
 * Raw-body retention (`RAW_BODY_RETENTION_DAYS`): the raw bodies of settled submissions older than
 * that are dropped (the record, its normalised fields and the Jobs stay). A dropped body can no
 * longer be replayed. Pending ones are never touched: they still need their body.
 */
import type { Logger } from "../log.ts";
import { listClients } from "../store/clients.ts";
import { allSubmissions, replaceBody } from "../store/submissions.ts";
import { isoUtc, nowIso } from "../time.ts";

/** A retention pass runs at most this often (it reads every submission). */
const RUN_EVERY_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

export class Retention {
  #lastRun = 0;

  constructor(private readonly kv: Deno.Kv, private readonly days: number, private readonly log: Logger) {}

  /** Runs a pass when retention is on and the last one is over an hour old; returns bodies dropped. */
  async runIfDue(now = Date.now()): Promise<number> {
    if (this.days <= 0 || now - this.#lastRun < RUN_EVERY_MS) return 0;
    this.#lastRun = now;
    return await this.runOnce(now);
  }

  async runOnce(now = Date.now()): Promise<number> {
    const cutoff = isoUtc(now - this.days * DAY_MS);
    let dropped = 0;
    for (const client of await listClients(this.kv)) {
      for await (const s of allSubmissions(this.kv, client.slug)) {
        if (s.status === "pending" || s.body_dropped_at || s.received_at >= cutoff) continue;
        if (s.body === null && s.body_chunks === 0) continue;
        await replaceBody(this.kv, s, null, { body_dropped_at: nowIso() });
        dropped++;
      }
    }
    if (dropped > 0) this.log.info("raw bodies dropped", { dropped, older_than_days: this.days });
    return dropped;
  }
}
