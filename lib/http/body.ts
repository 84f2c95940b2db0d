/**
 * Reading request bodies within bounds: a size limit (refused before buffering the rest), a time
 * limit (on one shared coarse timer this reader owns, `deadlines.ts`), and a budget of body bytes
 * held at once by requests in progress, so unverified input cannot take the process's memory.
 * Cal.com-sized bodies may use the whole budget, larger ones only part of it, and no one sender
 * (address) more than half of either: a flood from elsewhere is answered 503 while Cal.com's
 * deliveries keep being admitted, and so are the Cal.com-sized bodies of a sender that also floods
 * large ones (a 503 to Cal.com is a lost booking: it does not retry).
 *
 * Bodies are read straight into one buffer each, and once a flood has passed the process is asked
 * to collect what it left (where the runtime allows it: `--v8-flags=--expose-gc`), so its memory
 * goes back down instead of staying at the flood's high-water mark.
 */
import { concatBytes } from "../bytes.ts";
import { HttpError } from "../errors.ts";
import { Deadlines } from "./deadlines.ts";

/** Bodies up to this size count as Cal.com-sized (its deliveries are ~1–10 KB, up to ~40 KB with ICS content). */
const SMALL_BODY_BYTES = 64 * 1024;
/** Part of the budget only Cal.com-sized bodies may use. */
const SMALL_BODY_RESERVE_SHARE = 0.25;
/** Part of the budget one sender may hold at once. */
const SENDER_SHARE = 0.5;
/** A flood: this part of the budget held at once. Once nothing is held any more, memory is released. */
const FLOOD_SHARE = 0.25;
/** Memory is released at most this often. */
const RELEASE_EVERY_MS = 10_000;

export interface BodyLimits {
  /** Largest body accepted (413 beyond). */
  maxBytes: number;
  /** Longest a body may take to arrive (408 beyond). */
  timeoutMs: number;
  /** Body bytes held at once by requests in progress (503 beyond). */
  budgetBytes: number;
}

export class BodyReader {
  readonly #deadlines = new Deadlines();
  #held = 0;
  /** Bytes held by each sender now. */
  readonly #bySender = new Map<string, number>();
  /** The most held at once since memory was last released. */
  #peak = 0;
  #releasedAt = -Infinity;
  #releaseTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly limits: BodyLimits) {}

  /**
   * Reads the body and runs `use` with it, keeping its bytes reserved in the budget until `use`
   * is done (the buffer lives that long). `sender` is who sent it (its address).
   */
  async with<T>(
    req: Request,
    use: (body: Uint8Array<ArrayBuffer>) => Promise<T>,
    sender = "local",
  ): Promise<T> {
    const declared = Number(req.headers.get("content-length") ?? "NaN");
    if (declared > this.limits.maxBytes) throw tooLarge(this.limits.maxBytes);
    let reserved = 0;
    // A declared length is reserved before reading; a body of unknown length as it arrives.
    const reserve = (total: number) => {
      if (total <= reserved) return;
      const more = total - reserved;
      const senderHeld = this.#bySender.get(sender) ?? 0;
      // A sender's share keeps the same reserve for its Cal.com-sized bodies as the whole budget does.
      if (
        this.#held + more > this.#allowance(total) ||
        senderHeld + more > this.#allowance(total) * SENDER_SHARE
      ) {
        throw busy();
      }
      this.#held += more;
      this.#bySender.set(sender, senderHeld + more);
      this.#peak = Math.max(this.#peak, this.#held);
      reserved = total;
    };
    try {
      const known = Number.isInteger(declared) && declared >= 0;
      if (known) {
        try {
          reserve(declared);
        } catch (error) {
          await req.body?.cancel().catch(() => {});
          throw error;
        }
      }
      return await use(await this.#read(req, known, reserve));
    } finally {
      this.#held -= reserved;
      const left = (this.#bySender.get(sender) ?? 0) - reserved;
      if (left > 0) this.#bySender.set(sender, left);
      else this.#bySender.delete(sender);
      if (this.#held === 0) this.#releaseAfterFlood();
    }
  }

  /**
   * After a flood, what its bodies left behind is collected at once rather than whenever the
   * (small) heap next fills: their buffers live outside it, and otherwise keep the process large.
   */
  #releaseAfterFlood(): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc || this.#releaseTimer !== null || this.#peak < this.limits.budgetBytes * FLOOD_SHARE) return;
    const release = () => {
      this.#releaseTimer = null;
      if (this.#held > 0) return; // Still flooded: the last body to leave asks again.
      this.#peak = 0;
      this.#releasedAt = performance.now();
      gc();
    };
    const wait = this.#releasedAt + RELEASE_EVERY_MS - performance.now();
    if (wait <= 0) return release();
    const timer = setTimeout(release, wait);
    Deno.unrefTimer(Number(timer));
    this.#releaseTimer = timer;
  }

  /** What the budget lets a body of `size` bytes bring the total to. */
  #allowance(size: number): number {
    const { budgetBytes } = this.limits;
    return size <= SMALL_BODY_BYTES ? budgetBytes : budgetBytes * (1 - SMALL_BODY_RESERVE_SHARE);
  }

  /** Stops the timers (once nothing they guard is in progress); a later read starts them again. */
  stop(): void {
    this.#deadlines.stop();
    if (this.#releaseTimer !== null) clearTimeout(this.#releaseTimer);
    this.#releaseTimer = null;
  }

  async #read(
    req: Request,
    declared: boolean,
    reserve: (total: number) => void,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (!req.body) return new Uint8Array(0);
    const reader = req.body.getReader();
    if (declared) {
      // Straight into one buffer of the declared length (the HTTP server enforces it): `req.bytes()`
      // holds the chunks and their copy at once, and under a flood of large bodies the process's
      // memory then grows far past the budget and is not given back.
      const length = Number(req.headers.get("content-length"));
      return await this.#withTimeout(
        readDeclared(reader, length),
        () => reader.cancel("timeout").catch(() => {}),
      );
    }
    return await this.#withTimeout(
      readAtMost(reader, this.limits.maxBytes, reserve),
      () => reader.cancel("timeout").catch(() => {}),
    );
  }

  /** `read`, or 408 once the timeout passed (then `abandon` stops the read); other read errors are 408 too. */
  async #withTimeout(
    read: Promise<Uint8Array<ArrayBuffer>>,
    abandon: () => void,
  ): Promise<Uint8Array<ArrayBuffer>> {
    const timeout = Promise.withResolvers<never>();
    const cancel = this.#deadlines.start(this.limits.timeoutMs, () => timeout.reject(bodyTimeout()));
    try {
      return await Promise.race([read, timeout.promise]);
    } catch (error) {
      read.catch(() => {});
      abandon();
      throw error instanceof HttpError ? error : bodyTimeout();
    } finally {
      cancel();
    }
  }
}

/** A body of a declared length, copied chunk by chunk into one buffer of that length. */
async function readDeclared(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const body = new Uint8Array(length);
  let offset = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    if (offset + value.length > length) {
      await reader.cancel().catch(() => {});
      throw tooLarge(length);
    }
    body.set(value, offset);
    offset += value.length;
  }
  return offset === length ? body : body.slice(0, offset);
}

/**
 * A body without a declared length, chunk by chunk: each chunk is reserved in the budget as it
 * arrives, and the body is refused as soon as it passes `limit` or the budget.
 */
async function readAtMost(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  reserve: (total: number) => void,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    try {
      if (total > limit) throw tooLarge(limit);
      reserve(total);
    } catch (error) {
      await reader.cancel().catch(() => {});
      throw error;
    }
    chunks.push(value);
  }
  // A copy, never a view: KV serialises a view's whole underlying buffer.
  return concatBytes(chunks);
}

function busy(): HttpError {
  return new HttpError(
    503,
    "busy",
    "Too many large request bodies are being received at once. Send it again in a moment.",
    { "retry-after": "1" },
  );
}

function bodyTimeout(): HttpError {
  return new HttpError(
    408,
    "body_timeout",
    "The request body was not received completely in time. Send it again.",
  );
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    "body_too_large",
    `The body is larger than ${limit} bytes. Cal.com booking webhooks are far smaller; check the sender.`,
  );
}
