/** Record ids: ULIDs, time-ordered and monotonic within a millisecond so listings keep arrival order. */
import { createHash } from "node:crypto";
import { monotonicFactory } from "ulid";

/**
 * ulid's default generator asks WebCrypto for one byte per character (16 calls per id, a visible
 * share of a webhook's CPU in a profile); this one draws the same cryptographic bytes 1 KiB at a time.
 */
const pool = new Uint8Array(1024);
let next = pool.length;
function pooledRandom(): number {
  if (next === pool.length) {
    crypto.getRandomValues(pool);
    next = 0;
  }
  return pool[next++] / 256;
}

export const newId: () => string = monotonicFactory(pooledRandom);

/** Hex SHA-256 (synchronous: it is on the request path): body dedupe keys, token hashes, entry ids. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
