/**
 * The sweeper: the safety net under the queue. It turns dead-lettered queue messages into `failed`
 * submissions (with their last error), and re-drives batches still pending after a grace period,
 * which covers queue messages lost in a crash and runtimes without queues. A submission that keeps
 * failing ends `failed` after `maxAttempts`. It also runs raw-body retention when that is due.
 */
import type { Logger } from "../log.ts";
import {
  deletePendingBatchIfSettled,
  getPendingBatch,
  listDeadLetters,
  markDeadLetterHandled,
  pendingBatchesOlderThan,
} from "../store/batches.ts";
import { markFailed } from "../store/submissions.ts";
import type { Retention } from "./retention.ts";
import type { BatchScheduler } from "./scheduler.ts";

export interface SweepOptions {
  /** How long a batch may stay pending before the sweeper processes it itself. */
  graceMs: number;
  /** Failed attempts after which a submission is given up as `failed`. */
  maxAttempts: number;
  /** Trims the change log and drops old raw bodies, once a day. */
  retention?: Retention | null;
}

export interface SweepReport {
  dead_letters: number;
  redriven: number;
  failed: number;
}

export class Sweeper {
  #running: Promise<SweepReport> | null = null;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly scheduler: BatchScheduler,
    private readonly log: Logger,
    private readonly options: SweepOptions,
  ) {}

  /** One pass; concurrent calls share the pass in progress. */
  sweepOnce(): Promise<SweepReport> {
    this.#running ??= this.#sweep().finally(() => (this.#running = null));
    return this.#running;
  }

  async #sweep(): Promise<SweepReport> {
    const report: SweepReport = { dead_letters: 0, redriven: 0, failed: 0 };
    for (const letter of await listDeadLetters(this.kv)) {
      if (letter.value.handled_at) continue;
      report.dead_letters++;
      // No batch record: every submission of the batch settled after all (nothing to give up on).
      const refs = (await getPendingBatch(this.kv, letter.value.batch_id))?.refs ?? [];
      for (const ref of refs) {
        if (await markFailed(this.kv, ref, "The queue gave up on this submission after all retries.")) {
          report.failed++;
        }
      }
      await markDeadLetterHandled(this.kv, letter, refs);
    }

    for await (const batch of pendingBatchesOlderThan(this.kv, Date.now() - this.options.graceMs)) {
      report.redriven++;
      const { failures } = await this.scheduler.run(batch);
      for (const { ref } of failures) {
        if (await markFailed(this.kv, ref, "Processing kept failing.", this.options.maxAttempts)) {
          report.failed++;
        }
      }
      if (failures.length > 0) await deletePendingBatchIfSettled(this.kv, batch);
    }
    if (report.dead_letters || report.redriven || report.failed) this.log.info("sweep", { ...report });
    await this.options.retention?.runIfDue();
    return report;
  }
}
