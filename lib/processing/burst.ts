/**
 * Tells processing when ingest is under a burst, so it defers and leaves KV and the CPU to the
 * webhooks. A burst is saturation that lasts: the in-flight count at the threshold for at least
 * `confirmMs` (a single stall of the machine, a GC pause or a WAL checkpoint, also piles requests
 * up for some milliseconds, and deferring processing for it would only delay Jobs). The count
 * flickers below the threshold between group commits (a commit answers many requests at once), so
 * saturated moments less than `holdMs` apart belong to one burst, and a burst lasts until the count
 * has stayed below the threshold for `holdMs`.
 */
export class BurstDetector {
  #active = 0;
  #saturatedSince = -Infinity;
  #lastSaturatedAt = -Infinity;

  constructor(
    private readonly threshold: number,
    private readonly holdMs: number,
    private readonly confirmMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A webhook request started. */
  enter(): void {
    if (++this.#active < this.threshold) return;
    const now = this.now();
    if (now - this.#lastSaturatedAt >= this.holdMs) this.#saturatedSince = now;
    this.#lastSaturatedAt = now;
  }

  /** A webhook request finished. */
  leave(): void {
    // Saturated until this moment.
    if (this.#active-- >= this.threshold) this.#lastSaturatedAt = this.now();
  }

  busy(): boolean {
    const now = this.now();
    const saturatedUntil = this.#active >= this.threshold ? now : this.#lastSaturatedAt;
    if (now - saturatedUntil >= this.holdMs) return false;
    return saturatedUntil - this.#saturatedSince >= this.confirmMs;
  }
}
