/**
 * Cal.com webhook signatures: `X-Cal-Signature-256` is the hex HMAC-SHA256 of the exact body bytes
 * under the webhook's secret, with no prefix and no timestamp. Verified with WebCrypto on the raw
 * bytes, never on re-serialised JSON: each secret is imported once (`importSigningKey`, cached by
 * the caller) and `crypto.subtle.verify` compares in constant time.
 */

export const SIGNATURE_HEADER = "x-cal-signature-256";

/** What Cal.com sends in place of a signature when the webhook has no secret. */
export const NO_SECRET_PROVIDED = "no-secret-provided";

export const SIGNATURE_PROBLEMS = ["missing", "no_secret_provided", "malformed", "mismatch"] as const;
export type SignatureProblem = (typeof SIGNATURE_PROBLEMS)[number];

/** A client secret imported for HMAC-SHA256 verification. */
export type SigningKey = CryptoKey;

const HMAC_SHA256 = { name: "HMAC", hash: "SHA-256" } as const;
const encoder = new TextEncoder();

export async function importSigningKey(secret: string): Promise<SigningKey> {
  return await crypto.subtle.importKey("raw", encoder.encode(secret), HMAC_SHA256, false, ["sign", "verify"]);
}

/** Value of each ASCII hex digit, -1 for every other character code below 128. */
const HEX_VALUES = Int8Array.from({ length: 128 }, (_, code) => {
  const c = String.fromCharCode(code);
  return /[0-9a-fA-F]/.test(c) ? parseInt(c, 16) : -1;
});

/** Decodes a 64-character hex signature into bytes, or null when it is not one. */
export function parseSignatureHeader(header: string | null): Uint8Array<ArrayBuffer> | null {
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
 * Returns the id of the first key whose HMAC of `body` is `signature`, or null. Several keys are
 * tried because a client may have several active secrets (rotation, or several Cal.com webhooks
 * pointing here).
 */
export async function findVerifyingKey<Id>(
  keys: readonly { id: Id; key: SigningKey }[],
  signature: Uint8Array<ArrayBuffer>,
  body: Uint8Array<ArrayBuffer>,
): Promise<Id | null> {
  for (const { id, key } of keys) {
    if (await crypto.subtle.verify("HMAC", key, signature, body)) return id;
  }
  return null;
}

/** Lowercase hex HMAC-SHA256 of `body` under `secret`: what Cal.com puts in the header. */
export async function signBody(secret: string | SigningKey, body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const key = typeof secret === "string" ? await importSigningKey(secret) : secret;
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", key, bytes as Uint8Array<ArrayBuffer>)));
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * A new secret for a client's webhook in Cal.com: ≥ 32 random bytes, URL-safe base64, so it pastes
 * cleanly into Cal.com's secret field. Cal.com signs with the secret's text as the HMAC key, so the
 * `whsec_` prefix is only a label here (unlike an outbound endpoint's Standard Webhooks secret,
 * `newEndpointSecret`, whose base64 is the key).
 */
export function newCalcomWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return "whsec_" +
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
