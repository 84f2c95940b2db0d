/**
 * Outbound webhooks, pure: what a delivery of a change-log entry carries on the wire (Standard
 * Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` over `id.timestamp.body`), the
 * endpoint secrets' format, the retry schedule, and which addresses a delivery may never go to.
 */
import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import type { ChangeEntry, ChangeType } from "./changes.ts";

/** Success is a 2xx within this long. */
export const DELIVERY_TIMEOUT_MS = 15_000;
/** Retries after a failure: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, then every 10 h (about 3 days). */
export const DEFAULT_RETRY_SCHEDULE_MS = [
  0,
  5_000,
  300_000,
  1_800_000,
  7_200_000,
  18_000_000,
  36_000_000,
  36_000_000,
  36_000_000,
  36_000_000,
  36_000_000,
  36_000_000,
];
/** Failing continuously this long disables an endpoint; a day in, its client's health warns. */
export const DISABLE_AFTER_MS = 5 * 86_400_000;
export const WARN_AFTER_MS = 86_400_000;
/** DISABLE_AFTER_MS in words, for every message that names it. */
export const DISABLE_AFTER = `${DISABLE_AFTER_MS / 86_400_000} days`;
/** A rotated-out secret keeps signing this long, so receivers can switch over. */
export const OLD_SECRET_OVERLAP_MS = 86_400_000;
/** Longest `Retry-After` honoured (a later one is capped). */
const MAX_RETRY_AFTER_MS = 86_400_000;

export const USER_AGENT = "calcom-intake-webhooks/1 (Standard Webhooks)";

/** The body of a delivery: the entry's type and time, its data with the Job's id and version added. */
export function deliveryBody(entry: ChangeEntry): string {
  return JSON.stringify({
    type: entry.type,
    timestamp: entry.occurred_at,
    data: { ...entry.data, job_id: entry.job_id, job_version: entry.job_version },
  });
}

/**
 * A new outbound endpoint's signing secret, as Standard Webhooks defines it: `whsec_` and the
 * standard base64 of 32 random bytes, which are the HMAC key (not Cal.com's kind: see
 * `newCalcomWebhookSecret`).
 */
export function newEndpointSecret(): string {
  return "whsec_" + btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** `v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under each secret (the key is the secret's bytes). */
export function signatures(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets.map((secret) => {
    const key = Uint8Array.from(atob(secret.replace(/^whsec_/, "")), (c) => c.charCodeAt(0));
    return "v1," + createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  }).join(" ");
}

/** Whether an endpoint subscribed to an entry's type (no list: every type). */
export function subscribes(eventTypes: readonly ChangeType[] | null, type: ChangeType): boolean {
  return eventTypes === null || eventTypes.length === 0 || eventTypes.includes(type);
}

/**
 * When the next attempt is due after `failures` failed ones: the schedule's interval (its last one
 * repeated), ±10 % jitter, and never before a `Retry-After` the receiver asked for.
 */
export function nextAttemptAt(
  now: number,
  failures: number,
  schedule: readonly number[],
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const base = schedule[Math.min(failures, schedule.length - 1)] ?? 0;
  const jittered = base * (0.9 + 0.2 * random());
  const asked = retryAfterMs === null ? 0 : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return now + Math.max(jittered, asked);
}

/**
 * Why a delivery may not go to this address, or null: loopback, private, link-local (the cloud
 * metadata service among them), unspecified, multicast and other reserved ranges, IPv4 and IPv6
 * (IPv4-mapped included).
 */
export function forbiddenAddress(address: string): string | null {
  const v4 = isIP(address) === 4 ? address : mappedV4(address);
  if (v4) {
    const [a, b] = v4.split(".").map(Number);
    if (a === 127) return "a loopback address";
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "a private address";
    if (a === 169 && b === 254) return "a link-local address (the cloud metadata service lives there)";
    if (a === 100 && b >= 64 && b <= 127) return "a shared (carrier-grade NAT) address";
    if (a === 0 || a >= 224) return "a reserved or multicast address";
    return null;
  }
  if (isIP(address) !== 6) return "not an IP address";
  const lower = address.toLowerCase();
  if (lower === "::1" || lower === "::") return "a loopback or unspecified address";
  if (/^f[cd]/.test(lower)) return "a private (unique local) address";
  if (/^fe[89ab]/.test(lower)) return "a link-local address";
  if (/^ff/.test(lower)) return "a multicast address";
  return null;
}

/**
 * Why a URL's host may never be delivered to, from its name alone (an IP literal, `localhost`), or
 * null; any other name is checked on what it resolves to, when it is sent to.
 */
export function forbiddenHost(host: string): string | null {
  if (host === "localhost" || host.endsWith(".localhost")) return "a loopback address";
  return isIP(host) ? forbiddenAddress(host) : null;
}

/** The IPv4 address inside an IPv4-mapped IPv6 one (`::ffff:10.0.0.1`, or as URLs write it, `::ffff:a00:1`). */
function mappedV4(address: string): string | null {
  const dotted = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex) return null;
  const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/** The risk OUTBOUND_ALLOW_PRIVATE takes, in the words every message about it uses. */
export const ALLOW_PRIVATE_RISK =
  "whoever may add an outbound endpoint (the operator, or a client token with endpoints:write) can then make this service send requests to http:// and private addresses on its own network (docs/outbound.md#ssrf)";
