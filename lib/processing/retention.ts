/**
 * Retention, daily from the sweeper (one pass a day across instances; the idle minute's tick reads
 * nothing for it once a process knows when the last pass was): raw bodies
 * (`RAW_BODY_RETENTION_DAYS`: the raw bodies of settled submissions older than that are dropped;
 * the record, its normalised fields and the Jobs stay; a dropped body can no longer be replayed;
 * pending ones are never touched), and the change log (`CHANGE_LOG_RETENTION_DAYS`: older commits
 * are dropped, and cursors into them answer 410).
 */
import type { Logger } from "../log.ts";
import { listClients } from "../store/clients.ts";
import { trimLog } from "../store/changes.ts";
import { allSubmissions, replaceBody } from "../store/submissions.ts";
import { claimRetentionRun, lastRetentionRun } from "../store/retention.ts";
import { isoUtc, nowIso } from "../time.ts";

/**
 * A retention pass runs at most this often: it reads every client's oldest log entries (and, with
 * RAW_BODY_RETENTION_DAYS, every submission), and retention is counted in days.
 */
const RUN_EVERY_MS = 24 * 60 * 60_000;
const DAY_MS = 86_400_000;

export class Retention {
  #lastRun = 0;

  /** `days` of raw bodies (0: kept for ever) and `changeLogDays` of change log. */
  constructor(
    private readonly kv: Deno.Kv,
    private readonly days: number,
    private readonly log: Logger,
    private readonly changeLogDays = 0,
  ) {}

  /** Runs a pass when the last one (by any instance) is over a day old; returns raw bodies dropped. */
  async runIfDue(now = Date.now()): Promise<number> {
    if ((this.days <= 0 && this.changeLogDays <= 0) || now - this.#lastRun < RUN_EVERY_MS) return 0;
    const last = await lastRetentionRun(this.kv);
    this.#lastRun = last.value ?? 0;
    if (now - this.#lastRun < RUN_EVERY_MS || !(await claimRetentionRun(this.kv, last, now))) return 0;
    this.#lastRun = now;
    if (this.changeLogDays > 0) await this.trimChangeLogs(now);
    return this.days > 0 ? await this.runOnce(now) : 0;
  }

  /** Drops change-log commits older than CHANGE_LOG_RETENTION_DAYS; returns entries dropped. */
  async trimChangeLogs(now = Date.now()): Promise<number> {
    const cutoff = isoUtc(now - this.changeLogDays * DAY_MS);
    let dropped = 0;
    for (const client of await listClients(this.kv)) {
      dropped += await trimLog(this.kv, client.slug, cutoff, nowIso());
    }
    if (dropped > 0) {
      this.log.info("change log trimmed", { entries: dropped, older_than_days: this.changeLogDays });
    }
    return dropped;
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
