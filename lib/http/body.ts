/**
 * Reading request bodies within bounds: a size limit (refused before buffering the rest), a time
 * limit (on one shared coarse timer this reader owns, `deadlines.ts`), and a budget of body bytes
 * held at once by requests in progress, so unverified input cannot take the process's memory.
 * Small bodies (what Cal.com sends) may use the whole budget; larger ones only part of it, so a
 * flood of large bodies is answered 503 while webhooks keep being admitted.
 */
import { concatBytes } from "../bytes.ts";
import { HttpError } from "../errors.ts";
import { Deadlines } from "./deadlines.ts";

/** Bodies up to this size count as small (Cal.com's are ~1–10 KB). */
const SMALL_BODY_BYTES = 16 * 1024;
/** Part of the budget only small bodies may use. */
const SMALL_BODY_RESERVE_SHARE = 0.25;

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

  constructor(private readonly limits: BodyLimits) {}

  /**
   * Reads the body and runs `use` with it, keeping its bytes reserved in the budget until `use`
   * is done (the buffer lives that long).
   */
  async with<T>(req: Request, use: (body: Uint8Array<ArrayBuffer>) => Promise<T>): Promise<T> {
    const declared = Number(req.headers.get("content-length") ?? "NaN");
    if (declared > this.limits.maxBytes) throw tooLarge(this.limits.maxBytes);
    let reserved = 0;
    // A declared length is reserved before reading; a body of unknown length as it arrives.
    const reserve = (total: number) => {
      if (total <= reserved) return;
      if (this.#held - reserved + total > this.#allowance(total)) throw busy();
      this.#held += total - reserved;
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
    }
  }

  /** What the budget lets a body of `size` bytes bring the total to. */
  #allowance(size: number): number {
    const { budgetBytes } = this.limits;
    return size <= SMALL_BODY_BYTES ? budgetBytes : budgetBytes * (1 - SMALL_BODY_RESERVE_SHARE);
  }

  /** Stops the timer (once nothing it guards is in progress); a later read starts it again. */
  stop(): void {
    this.#deadlines.stop();
  }

  async #read(
    req: Request,
    declared: boolean,
    reserve: (total: number) => void,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (!req.body) return new Uint8Array(0);
    // A declared length is enforced by the HTTP server: read it in one go (the common, cheaper path).
    if (declared) return await this.#withTimeout(req.bytes(), () => req.body?.cancel().catch(() => {}));
    const reader = req.body.getReader();
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
