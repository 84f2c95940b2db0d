/**
 * The single KV queue handler: every message is one committed batch of submissions, handed to the
 * scheduler (usually the pipeline processed the batch right after its commit and its record is
 * gone). A batch with failures throws so the queue retries it (settled submissions are skipped on
 * retry); after the last retry KV writes the message to its dead-letter key for the sweeper.
 */
import type { Logger } from "../log.ts";
import { getPendingBatch, isProcessBatchMessage } from "../store/batches.ts";
import type { BatchScheduler } from "./scheduler.ts";

export function createQueueHandler(
  kv: Deno.Kv,
  scheduler: BatchScheduler,
  log: Logger,
): (message: unknown) => Promise<void> {
  return async (message) => {
    if (!isProcessBatchMessage(message)) {
      log.warn("queue message of unknown shape dropped", { type: typeof message });
      return;
    }
    const batch = await getPendingBatch(kv, message.batch_id);
    if (!batch) return;
    const { failures } = await scheduler.run(batch);
    if (failures.length > 0) {
      throw new Error(`${failures.length} submission(s) of batch ${message.batch_id} failed; retrying`);
    }
  };
}
