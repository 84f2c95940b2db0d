/**
 * Processing steps aside while ingest is under a burst, so a flood of webhooks is acknowledged at
 * full speed and its processing catches up right after (kept because `deno task bench` measured
 * ingest falling sharply when processing runs alongside a saturating burst; the README has the
 * figures). All of this machinery lives here, with its tuning:
 *
 * - a burst is saturation that lasts: BURST_CONCURRENCY deliveries being handled at once for
 *   at least BURST_CONFIRM_MS. A stall of the machine (a GC pause, a processing chunk, a WAL
 *   checkpoint) also piles requests up, on a loaded machine for a large part of that window, and
 *   deferring processing for it only delays Jobs; a saturating client keeps the count up for
 *   seconds, so confirming later costs a burst little;
 * - the count dips below the threshold between group commits (one commit answers many requests,
 *   and its clients send again within milliseconds), so saturated moments less than BURST_HOLD_MS
 *   apart are one burst, which ends once the count has stayed below the threshold that long. Kept
 *   short: a longer hold joined separate stalls into one "burst" and deferred processing after each;
 * - a chunk of processing waits at most MAX_DEFER_MS, and not at all once the oldest waiting batch
 *   has waited MAX_BACKLOG_AGE_MS, so Jobs never lag even an endless burst by much more.
 *
 * Only queue mode uses it: in inline mode every answer waits for processing, so processing must
 * never wait for answers.
 */

import { sleep } from "../time.ts";

const BURST_CONCURRENCY = 16;
const BURST_CONFIRM_MS = 300;
const BURST_HOLD_MS = 50;
const MAX_DEFER_MS = 1000;
const MAX_BACKLOG_AGE_MS = 10_000;
/** How often a deferred chunk looks again. */
const POLL_MS = 5;

export interface PressureTuning {
  concurrency: number;
  confirmMs: number;
  holdMs: number;
  maxDeferMs: number;
  maxBacklogAgeMs: number;
}

export const DEFAULT_TUNING: PressureTuning = {
  concurrency: BURST_CONCURRENCY,
  confirmMs: BURST_CONFIRM_MS,
  holdMs: BURST_HOLD_MS,
  maxDeferMs: MAX_DEFER_MS,
  maxBacklogAgeMs: MAX_BACKLOG_AGE_MS,
};

export class IngestPressure {
  #active = 0;
  #saturatedSince = -Infinity;
  #lastSaturatedAt = -Infinity;

  constructor(
    private readonly tuning: PressureTuning = DEFAULT_TUNING,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `ingest` (the handling of one delivery) counted as in flight. */
  async during<T>(ingest: () => Promise<T>): Promise<T> {
    this.#enter();
    try {
      return await ingest();
    } finally {
      this.#leave();
    }
  }

  /** True while a burst lasts. */
  busy(): boolean {
    const now = this.now();
    const saturatedUntil = this.#active >= this.tuning.concurrency ? now : this.#lastSaturatedAt;
    if (now - saturatedUntil >= this.tuning.holdMs) return false;
    return saturatedUntil - this.#saturatedSince >= this.tuning.confirmMs;
  }

  /** Waits while ingest is busy: at most `maxDeferMs`, and not once work waited `maxBacklogAgeMs`. */
  async yieldToIngest(oldestQueuedAt: number): Promise<void> {
    const until = Math.min(
      this.now() + this.tuning.maxDeferMs,
      oldestQueuedAt + this.tuning.maxBacklogAgeMs,
    );
    while (this.busy() && this.now() < until) await sleep(POLL_MS);
  }

  #enter(): void {
    if (++this.#active < this.tuning.concurrency) return;
    const now = this.now();
    if (now - this.#lastSaturatedAt >= this.tuning.holdMs) this.#saturatedSince = now;
    this.#lastSaturatedAt = now;
  }

  #leave(): void {
    // Saturated until this moment.
    if (this.#active-- >= this.tuning.concurrency) this.#lastSaturatedAt = this.now();
  }
}
