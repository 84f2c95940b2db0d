/**
 * Cal.com webhook signatures: `X-Cal-Signature-256` is the hex HMAC-SHA256 of the exact body bytes
 * under the webhook's secret, with no prefix and no timestamp. Verification runs on the raw bytes,
 * never on re-serialised JSON, compares in constant time (`timingSafeEqual`), and is synchronous
 * (node:crypto): WebCrypto's hand-off to a worker thread cost more than the HMAC itself.
 */
import { createHash, createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-cal-signature-256";

/** What Cal.com sends in place of a signature when the webhook has no secret. */
export const NO_SECRET_PROVIDED = "no-secret-provided";

const HEX_SHA256 = /^[0-9a-fA-F]{64}$/;

export type SignatureProblem = "missing" | "no_secret_provided" | "malformed" | "mismatch";

/** A client secret imported once, so each request only pays for the HMAC itself. */
export type SigningKey = KeyObject;

export function importSigningKey(secret: string): SigningKey {
  return createSecretKey(new TextEncoder().encode(secret));
}

/** Decodes a 64-character hex signature into bytes, or null when it is not one. */
export function parseSignatureHeader(header: string | null): Uint8Array | null {
  const value = header?.trim() ?? "";
  if (!HEX_SHA256.test(value)) return null;
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(value.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Why a header cannot be a valid signature before any key is tried, or null when it is well formed. */
export function signatureHeaderProblem(header: string | null): SignatureProblem | null {
  const value = header?.trim() ?? "";
  if (value === "") return "missing";
  if (value === NO_SECRET_PROVIDED) return "no_secret_provided";
  if (!HEX_SHA256.test(value)) return "malformed";
  return null;
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
    const mac = createHmac("sha256", key).update(body).digest();
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
