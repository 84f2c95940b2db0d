/**
 * Many deadlines on one coarse timer. A `setTimeout`/`clearTimeout` pair per webhook showed up in
 * profiles beside the signature check; here a request only joins a set, and one interval,
 * running only while something is pending, fires what has expired, at most `resolutionMs` late.
 */
interface Deadline {
  at: number;
  expire: () => void;
}

export class Deadlines {
  readonly #pending = new Set<Deadline>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly resolutionMs = 100) {}

  /** Calls `expire` once `ms` have passed, unless the returned function is called first. */
  start(ms: number, expire: () => void): () => void {
    const deadline: Deadline = { at: Date.now() + ms, expire };
    this.#pending.add(deadline);
    this.#timer ??= this.#startTimer();
    return () => this.#pending.delete(deadline);
  }

  /** Deadlines not yet expired or cancelled. */
  get size(): number {
    return this.#pending.size;
  }

  /** Stops the timer (once nothing it guards is in progress); a later `start` starts it again. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #startTimer(): ReturnType<typeof setInterval> {
    const timer = setInterval(() => this.#tick(), this.resolutionMs);
    // Never what keeps a process alive: whatever has a deadline here is kept alive by its own I/O.
    Deno.unrefTimer(Number(timer));
    return timer;
  }

  #tick(): void {
    if (this.#pending.size === 0) return this.stop();
    const now = Date.now();
    for (const deadline of this.#pending) {
      if (deadline.at > now) continue;
      this.#pending.delete(deadline);
      deadline.expire();
    }
  }
}
