/**
 * The single KV queue handler: every message is one committed batch of submissions. A batch with
 * failures throws so the queue retries it (already settled submissions are skipped on retry);
 * after the last retry KV writes the message to its dead-letter key for the sweeper.
 */
import type { Logger } from "../log.ts";
import { isProcessBatchMessage } from "../store/submissions.ts";
import type { Processor } from "./processor.ts";

export function createQueueHandler(processor: Processor, log: Logger): (message: unknown) => Promise<void> {
  return async (message) => {
    if (!isProcessBatchMessage(message)) {
      log.warn("queue message of unknown shape dropped", { type: typeof message });
      return;
    }
    const result = await processor.processBatch(message.batch_id, message.refs);
    if (result.failures.length > 0) {
      throw new Error(
        `${result.failures.length} submission(s) of batch ${message.batch_id} failed; retrying`,
      );
    }
  };
}
