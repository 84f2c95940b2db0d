/**
 * Cal.com webhook signatures: `X-Cal-Signature-256` is the hex HMAC-SHA256 of the exact body bytes
 * under the webhook's secret, with no prefix and no timestamp. Verification runs on the raw bytes,
 * never on re-serialised JSON, compares in constant time (`timingSafeEqual`), and is synchronous
 * (node:crypto): WebCrypto's hand-off to a worker thread cost more than the HMAC itself.
 */
import { createHash, type Hash, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-cal-signature-256";

/** What Cal.com sends in place of a signature when the webhook has no secret. */
export const NO_SECRET_PROVIDED = "no-secret-provided";

export type SignatureProblem = "missing" | "no_secret_provided" | "malformed" | "mismatch";

/** SHA-256's block size: HMAC pads (or first hashes) the key to it. */
const BLOCK_BYTES = 64;

/**
 * A client secret prepared once: HMAC's inner and outer SHA-256 states right after the padded key
 * block (RFC 2104). Each request copies them and hashes only its body, about half the cost of
 * node:crypto's `createHmac`, which pads the key again on every call.
 */
export interface SigningKey {
  readonly inner: Hash;
  readonly outer: Hash;
}

export function importSigningKey(secret: string): SigningKey {
  let key: Uint8Array = new TextEncoder().encode(secret);
  if (key.length > BLOCK_BYTES) key = createHash("sha256").update(key).digest();
  const innerPad = new Uint8Array(BLOCK_BYTES).fill(0x36);
  const outerPad = new Uint8Array(BLOCK_BYTES).fill(0x5c);
  key.forEach((byte, i) => {
    innerPad[i] ^= byte;
    outerPad[i] ^= byte;
  });
  return { inner: createHash("sha256").update(innerPad), outer: createHash("sha256").update(outerPad) };
}

/** HMAC-SHA256 of `body` under a prepared key. */
export function hmacSha256(key: SigningKey, body: Uint8Array): Uint8Array {
  const innerDigest = key.inner.copy().update(body).digest();
  return key.outer.copy().update(innerDigest).digest();
}

/** Value of each ASCII hex digit, -1 for every other character code below 128. */
const HEX_VALUES = Int8Array.from({ length: 128 }, (_, code) => {
  const c = String.fromCharCode(code);
  return /[0-9a-fA-F]/.test(c) ? parseInt(c, 16) : -1;
});

/** Decodes a 64-character hex signature into bytes, or null when it is not one. */
export function parseSignatureHeader(header: string | null): Uint8Array | null {
  const value = header?.trim() ?? "";
  if (value.length !== 64) return null;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    const high = HEX_VALUES[value.charCodeAt(2 * i)] ?? -1;
    const low = HEX_VALUES[value.charCodeAt(2 * i + 1)] ?? -1;
    if (high < 0 || low < 0) return null;
    bytes[i] = high * 16 + low;
  }
  return bytes;
}

/** Why a header cannot be a valid signature before any key is tried, or null when it is well formed. */
export function signatureHeaderProblem(header: string | null): SignatureProblem | null {
  const value = header?.trim() ?? "";
  if (value === "") return "missing";
  if (value === NO_SECRET_PROVIDED) return "no_secret_provided";
  return parseSignatureHeader(value) ? null : "malformed";
}

/**
 * Returns the id of the first key whose HMAC matches, or null. Several keys are tried because a
 * client may have several active secrets (rotation, or several Cal.com webhooks pointing here).
 */
export function findVerifyingKey<Id>(
  keys: readonly { id: Id; key: SigningKey }[],
  signature: Uint8Array,
  body: Uint8Array,
): Id | null {
  for (const { id, key } of keys) {
    const mac = hmacSha256(key, body);
    if (signature.length === mac.length && timingSafeEqual(mac, signature)) return id;
  }
  return null;
}

/** Lowercase hex HMAC-SHA256 of `body` under `secret`: what Cal.com puts in the header. */
export async function signBody(secret: string, body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  // WebCrypto here, node:crypto in verification: tests that sign with one check the other.
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes as Uint8Array<ArrayBuffer>)));
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Hex SHA-256 of the body: the dedupe identity of a delivery (synchronous: it is on the hot path). */
export function sha256Hex(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}
