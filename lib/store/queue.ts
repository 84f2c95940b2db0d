/**
 * The KV queue itself: the one listener a process registers, and a probe of the queue's bare
 * delivery rate (what the benchmark compares processing against). Messages are written with their
 * batch (`batches.ts`).
 */
import type { Logger } from "../log.ts";
import { openKv } from "./kv.ts";

type QueueHandler = (message: unknown) => Promise<void> | void;

/** Starts the process's single queue listener on `kv`; resolves when KV is closed. */
export function listenQueue(kv: Deno.Kv, handler: QueueHandler): Promise<void> {
  return kv.listenQueue(handler);
}

/**
 * The process's queue listener on a KV file, on a connection of its own so that it can be paused:
 * taking a message off the queue is a write that Deno KV does in the background and treats as
 * fatal when it fails (on a full disk the process panics), and a listener stops only when its
 * connection closes. The disk watch pauses it near the storage floor and resumes it once space is
 * back; meanwhile the sweeper re-drives pending batches. Enqueues go through the service's own
 * connection (one process's connections to a file share its wake-ups).
 */
export class QueueListener {
  #kv: Deno.Kv | null = null;
  #listening: Promise<void> | null = null;
  /** The state asked for last; starts and pauses run one after another in `#chain`. */
  #wanted = false;
  #chain: Promise<void> = Promise.resolve();
  #why = "";

  constructor(
    private readonly path: string,
    private readonly handler: QueueHandler,
    private readonly log: Logger,
  ) {}

  /** Listens (again); a no-op while listening. */
  resume(): Promise<void> {
    this.#wanted = true;
    return this.#next();
  }

  /** Stops taking messages (they wait in KV); a no-op while paused. `why` goes to the log. */
  pause(why: string): Promise<void> {
    this.#wanted = false;
    this.#why = why;
    return this.#next();
  }

  get listening(): boolean {
    return this.#kv !== null;
  }

  #next(): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.#wanted && !this.#kv) {
        this.#kv = await openKv(this.path);
        this.#listening = this.#kv.listenQueue(this.handler);
        this.log.info("queue listener started");
      } else if (!this.#wanted && this.#kv) {
        this.#kv.close();
        await this.#listening;
        this.#kv = null;
        this.#listening = null;
        this.log.info("queue listener paused", { why: this.#why });
      }
    }).catch((error) => this.log.error("queue listener could not change state", { error: String(error) }));
    return this.#chain;
  }
}

/** Enqueues `n` empty messages and measures how fast a listener that does nothing drains them (messages/s). */
export async function noopDrainRate(kv: Deno.Kv, n: number): Promise<number> {
  for (let i = 0; i < n; i += 500) {
    const op = kv.atomic();
    for (let j = i; j < Math.min(n, i + 500); j++) op.enqueue({ probe: j });
    await op.commit();
  }
  let seen = 0;
  const drained = Promise.withResolvers<void>();
  const started = performance.now();
  const listener = kv.listenQueue(() => {
    if (++seen === n) drained.resolve();
  });
  await drained.promise;
  const seconds = (performance.now() - started) / 1000;
  kv.close();
  await listener;
  return n / seconds;
}
