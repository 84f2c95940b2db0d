/**
 * Outbound webhooks, pure: what a delivery of a change-log entry carries on the wire (Standard
 * Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` over `id.timestamp.body`), an
 * endpoint's record and the rules that change it (create, edit, disable and enable, rotate,
 * recover), the secrets' format, the retry schedule, and which addresses a delivery may never go to.
 */
import { createHmac } from "node:crypto";
import { isIP } from "node:net";
import { type ChangeEntry, changeEntry, type ChangeType } from "./changes.ts";
import type { Job } from "./job.ts";

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

export interface EndpointSecret {
  secret: string;
  created_at: string;
  /** A rotated-out secret signs until then too; null for the current one. */
  expires_at: string | null;
}

/** An outbound endpoint; `P` is its position in the change log (the store's type). */
export interface EndpointRecord<P> {
  id: string;
  client: string;
  url: string;
  /** The change types it gets; null: all. */
  event_types: ChangeType[] | null;
  description: string | null;
  /** `behind_retention`: stopped, its position older than the change log keeps (only recover helps). */
  state: EndpointState;
  disabled_reason: string | null;
  disabled_at: string | null;
  secrets: EndpointSecret[];
  created_at: string;
  updated_at: string;
  /** Everything up to here was delivered (or not subscribed to). */
  position: P;
  /** Failed attempts of the next entry. */
  failures: number;
  next_attempt_at: string | null;
  failing_since: string | null;
  last_success_at: string | null;
}

export type EndpointState = "active" | "disabled" | "behind_retention";

export interface Attempt {
  id: string;
  /** The entry sent (null: no entry could be read, `kind` "log_read"). */
  event_id: string | null;
  type: string | null;
  attempt: number;
  at: string;
  status: number | null;
  error: string | null;
  duration_ms: number;
  /** The first 1 KiB of the answer's body. */
  response_body: string | null;
  next_retry_at: string | null;
  /**
   * "resend": sent on request, outside the endpoint's order; "test": a test event sent by hand
   * (never a change-log entry); "log_read": the log could not be read.
   */
  kind: "delivery" | "resend" | "test" | "log_read";
  /** The headers it was sent with (never the signature); absent on attempts recorded before. */
  request_headers?: Record<string, string>;
}

/** What re-enabling an endpoint clears: it starts afresh on its next entry. */
export const RETRY_RESET = { failures: 0, next_attempt_at: null, failing_since: null } as const;

/** A new endpoint: active, with one fresh secret, getting every change after `position`. */
export function newEndpointRecord<P>(
  fields: Pick<EndpointRecord<P>, "id" | "client" | "url" | "event_types" | "description" | "position">,
  now: string,
): EndpointRecord<P> {
  return {
    ...fields,
    state: "active",
    disabled_reason: null,
    disabled_at: null,
    secrets: [{ secret: newEndpointSecret(), created_at: now, expires_at: null }],
    created_at: now,
    updated_at: now,
    ...RETRY_RESET,
    last_success_at: null,
  };
}

/** The current signing secret (the one a create or rotate answers). */
export function currentSecret(e: EndpointRecord<unknown>): string {
  return e.secrets.find((s) => s.expires_at === null)?.secret ?? e.secrets.at(-1)!.secret;
}

/**
 * An edit: new url, types or description; disabling records why and when; enabling clears the
 * retry state, so it goes on from its position and nothing it missed while disabled is skipped.
 */
export function editedEndpoint<E extends EndpointRecord<unknown>>(
  e: E,
  change: {
    url?: string;
    event_types?: ChangeType[] | null;
    description?: string | null;
    state?: "active" | "disabled";
  },
  now: string,
): E {
  return {
    ...e,
    ...(change.url !== undefined ? { url: change.url } : {}),
    ...(change.event_types !== undefined ? { event_types: change.event_types } : {}),
    ...(change.description !== undefined ? { description: change.description } : {}),
    ...(change.state === "disabled" && e.state !== "disabled"
      ? { state: "disabled", disabled_reason: "Disabled by hand.", disabled_at: now }
      : {}),
    ...(change.state === "active"
      ? { ...RETRY_RESET, state: "active", disabled_reason: null, disabled_at: null }
      : {}),
    updated_at: now,
  };
}

/** Why an endpoint stopped when its position fell out of the change log's retention, and the fix. */
export const BEHIND_RETENTION_REASON =
  "It was behind for longer than the change log keeps (CHANGE_LOG_RETENTION_DAYS), so entries it never got are gone. Recover it since a time the log still holds (Recover in the dashboard, or deno task admin endpoint recover SLUG ID --since ISO): it delivers everything from there.";

/** Stopped: its position is older than what the log keeps; nothing more is tried until a recover. */
export function behindRetention<E extends EndpointRecord<unknown>>(e: E, now: string): E {
  return {
    ...e,
    ...RETRY_RESET,
    state: "behind_retention",
    disabled_reason: BEHIND_RETENTION_REASON,
    disabled_at: now,
    updated_at: now,
  };
}

/** A new secret beside the live ones; each old one keeps signing for OLD_SECRET_OVERLAP_MS (expired ones go). */
export function rotatedEndpoint<E extends EndpointRecord<unknown>>(e: E, now: number): E {
  return {
    ...e,
    secrets: [
      ...e.secrets
        .filter((s) => !s.expires_at || Date.parse(s.expires_at) > now)
        .map((s) => ({
          ...s,
          expires_at: s.expires_at ?? new Date(now + OLD_SECRET_OVERLAP_MS).toISOString(),
        })),
      { secret: newEndpointSecret(), created_at: new Date(now).toISOString(), expires_at: null },
    ],
    updated_at: new Date(now).toISOString(),
  };
}

/** Moved back to `position` and enabled, retry state cleared: everything after it is delivered again. */
export function recoveredEndpoint<P, E extends EndpointRecord<P>>(e: E, position: P, now: string): E {
  return {
    ...e,
    ...RETRY_RESET,
    position,
    state: "active",
    disabled_reason: null,
    disabled_at: null,
    updated_at: now,
  };
}

/** The body of a delivery: the entry's type and time, its data with the Job's id and version added. */
export function deliveryBody(entry: ChangeEntry, test = false): string {
  return JSON.stringify({
    type: entry.type,
    timestamp: entry.occurred_at,
    ...(test ? { test: true } : {}),
    data: { ...entry.data, job_id: entry.job_id, job_version: entry.job_version },
  });
}

/** A test event's id: `test_` and 32 hex digits, which no change-log entry's id (`chg_…`) can be. */
export function testEventId(): string {
  return "test_" +
    [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A test event of `type` for a client: a made-up Job (a test person, a booking tomorrow) in an
 * entry with a `test_…` id, so a receiver can check its handling before a real change arrives.
 */
export function testEntry(client: string, type: ChangeType, now: number): ChangeEntry {
  const at = (ms: number) => new Date(now + ms).toISOString();
  const job: Job = {
    id: "job_test",
    version: 1,
    client,
    contact_id: null,
    calcom_event_id: "test-booking-uid",
    previous_event_ids: type === "job.rescheduled" ? ["test-earlier-booking-uid"] : [],
    status: type === "job.cancelled" ? "cancelled" : "scheduled",
    title: "Test event from calcom-intake",
    start_time: at(86_400_000),
    end_time: at(86_400_000 + 3_600_000),
    location: null,
    organizer_email: null,
    responses: {},
    booker_email: "test.person@example.com",
    booker_time_zone: "UTC",
    attendees: [{ contact_id: null, email: "test.person@example.com", name: "Test Person", no_show: false }],
    cancellation_reason: type === "job.cancelled" ? "A test cancellation" : null,
    rejection_reason: null,
    payment_status: null,
    payment_id: null,
    seated: false,
    events: [],
    created_at: at(0),
    updated_at: at(0),
  };
  const entry = changeEntry(client, null, job, at(0), type);
  const merged = type === "job.merged" ? { job: null, changes: {}, merged_into: "job_test_survivor" } : {};
  return { ...entry, id: testEventId(), data: { ...entry.data, ...merged } };
}

/** The headers a delivery is sent with, as its attempt records them (the signature is left out). */
export function recordedHeaders(id: string, timestamp: number): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
  };
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
