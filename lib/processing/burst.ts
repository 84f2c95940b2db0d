/**
 * Tells processing when ingest is under a burst, so it defers and leaves KV and the CPU to the
 * webhooks. The in-flight count alone flickers below the threshold between group commits (a
 * commit answers many requests at once), so a burst lasts until the count has stayed below the
 * threshold for `holdMs`.
 */
export class BurstDetector {
  #active = 0;
  #lastSaturatedAt = -Infinity;

  constructor(
    private readonly threshold: number,
    private readonly holdMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A webhook request started. */
  enter(): void {
    if (++this.#active >= this.threshold) this.#lastSaturatedAt = this.now();
  }

  /** A webhook request finished. */
  leave(): void {
    this.#active--;
  }

  busy(): boolean {
    return this.#active >= this.threshold || this.now() - this.#lastSaturatedAt < this.holdMs;
  }
}
