/**
 * Who may call the client API, pure: client tokens' scopes, portal sessions' capabilities (and how
 * the two meet), and the format every bearer token shares. A token is a prefix of its kind (`cit_`
 * client token, `cps_` portal session, `cpl_` portal link key) + 30 random base62 characters + a
 * 6-character CRC32 checksum of them, so a secret scanner (or this service, before any KV read) can
 * tell a real one from a typo; only its SHA-256 is ever stored.
 */
import { sha256Hex } from "./ids.ts";

/**
 * What a client token may do. `tokens:write`: create (within its own scopes and expiry), list and
 * revoke the client's tokens, so a business hands out its developers' tokens itself. `jobs:write`:
 * cancel, reschedule, mark no-shows, confirm and decline Jobs in Cal.com (write-back, where the
 * operator turned it on for the client).
 */
export const TOKEN_SCOPES = [
  "jobs:read",
  "contacts:read",
  "changes:read",
  "endpoints:write",
  "tokens:write",
  "jobs:write",
] as const;
export type TokenScope = typeof TOKEN_SCOPES[number];

/**
 * Who a request is: the operator (admin token), a client token with its scopes and expiry, or a
 * portal session (`domain/portal.ts`) with its capabilities.
 */
export type Caller =
  | { kind: "admin" }
  | { kind: "token"; slug: string; tokenId: string; scopes: readonly TokenScope[]; expiresAt: string | null }
  | {
    kind: "portal";
    slug: string;
    sessionId: string;
    capabilities: readonly PortalCapability[];
    expiresAt: string;
  };

/**
 * What a portal session may do, each granted by the operator when making the link: `view` (always:
 * Jobs, Contacts, the change log, endpoints and their attempts, the Cal.com connection), `endpoints`
 * (add, edit, disable, delete, send a test), `secrets` (see and rotate endpoint secrets), `replay`
 * (resend, recover), `tokens` (client tokens within the session's own capabilities), `jobs` (cancel,
 * reschedule, mark no-shows, confirm, decline: write-back).
 */
export const PORTAL_CAPABILITIES = ["view", "endpoints", "secrets", "replay", "tokens", "jobs"] as const;
export type PortalCapability = typeof PORTAL_CAPABILITIES[number];

/** The portal capability a row of each scope needs, unless the row names its own. */
export const SCOPE_CAPABILITY: Readonly<Record<TokenScope, PortalCapability>> = {
  "jobs:read": "view",
  "contacts:read": "view",
  "changes:read": "view",
  "endpoints:write": "endpoints",
  "tokens:write": "tokens",
  "jobs:write": "jobs",
};

/**
 * The scopes a portal session may put in a client token: a scope only where the session holds every
 * capability the scope reaches (endpoints:write also rotates secrets and replays).
 */
export function scopesWithin(capabilities: readonly PortalCapability[]): TokenScope[] {
  const has = (c: PortalCapability) => c === "view" || capabilities.includes(c);
  return TOKEN_SCOPES.filter((scope) =>
    scope === "endpoints:write"
      ? has("endpoints") && has("secrets") && has("replay")
      : has(SCOPE_CAPABILITY[scope])
  );
}

/** How long a portal session lasts by default, and at most (from when its link is opened). */
export const SESSION_DEFAULT_SECONDS = 24 * 3600;
export const SESSION_MAX_SECONDS = 7 * 24 * 3600;
/** A portal link not opened within this long can no longer be. */
export const LINK_TTL_MS = 24 * 3600_000;

/** A client token. */
export const TOKEN_PREFIX = "cit_";
/** A portal session's bearer token, held in the business's browser tab. */
export const SESSION_PREFIX = "cps_";
/** A portal link's key, carried in the link's fragment and exchanged once for a session. */
export const LINK_KEY_PREFIX = "cpl_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY = 30;
const CHECK = 6;

/**
 * A new token (random from WebCrypto; 30 base62 characters are ~178 bits) with `prefix`: every
 * kind has its own, so one is never taken for another.
 */
export function newToken(prefix = TOKEN_PREFIX): string {
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
  return prefix + body + checksum(body);
}

/**
 * Whether a presented string has the shape and checksum of a token with `prefix` (no KV read
 * needed to refuse a typo).
 */
export function isWellFormedToken(token: string, prefix = TOKEN_PREFIX): boolean {
  if (!token.startsWith(prefix) || !/^[0-9A-Za-z]+$/.test(token.slice(prefix.length))) return false;
  if (token.length !== prefix.length + BODY + CHECK) return false;
  const body = token.slice(prefix.length, prefix.length + BODY);
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
