/**
 * Client tokens, pure: their scopes, and their format. A token is `cit_` + 30 random base62
 * characters + a 6-character CRC32 checksum of them, so a secret scanner (or this service, before
 * any KV read) can tell a real one from a typo; only its SHA-256 is ever stored.
 */
import { sha256Hex } from "./ids.ts";

/** What a client token may do in the client API, each on its own client only. */
/**
 * What a client token may do. `tokens:write`: create (within its own scopes and expiry), list and
 * revoke the client's tokens, so a business hands out its developers' tokens itself.
 */
export const TOKEN_SCOPES = [
  "jobs:read",
  "contacts:read",
  "changes:read",
  "endpoints:write",
  "tokens:write",
] as const;
export type TokenScope = typeof TOKEN_SCOPES[number];

/** Who a request is: the operator (admin token), or a client token with its scopes and expiry. */
export type Caller =
  | { kind: "admin" }
  | { kind: "token"; slug: string; tokenId: string; scopes: readonly TokenScope[]; expiresAt: string | null };

export const TOKEN_PREFIX = "cit_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY = 30;
const CHECK = 6;
const TOKEN_PATTERN = new RegExp(`^${TOKEN_PREFIX}[0-9A-Za-z]{${BODY + CHECK}}$`);

/** A new token (random from WebCrypto; 30 base62 characters are ~178 bits). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(BODY));
  // 62 × 4 = 248 < 256: bytes at or above 248 would bias the choice; draw again for them.
  let body = "";
  for (let i = 0; body.length < BODY; i++) {
    if (i === bytes.length) {
      crypto.getRandomValues(bytes);
      i = 0;
    }
    if (bytes[i] < 248) body += ALPHABET[bytes[i] % 62];
  }
  return TOKEN_PREFIX + body + checksum(body);
}

/** Whether a presented string has a token's shape and checksum (no KV read needed to refuse a typo). */
export function isWellFormedToken(token: string): boolean {
  if (!TOKEN_PATTERN.test(token)) return false;
  const body = token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + BODY);
  return checksum(body) === token.slice(-CHECK);
}

/** What is stored of a token, and what a presented one is looked up by. */
export function tokenHash(token: string): string {
  return sha256Hex(token);
}

function checksum(body: string): string {
  let n = crc32(new TextEncoder().encode(body));
  let out = "";
  for (let i = 0; i < CHECK; i++) {
    out = ALPHABET[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE 802.3), as GitHub's token checksums use. */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
