/**
 * Outbound webhook endpoints in KV: each with its durable position in its client's change log (the
 * entries after it are what it has still to get), its retry state and secrets; a lease so one
 * deliverer at a time sends to it (across processes and instances); and the attempt log, which
 * expires by itself.
 */
import { type Attempt, type EndpointRecord, type EndpointSecret, subscribes } from "../domain/outbound.ts";
import { ExpiredFeedCursorError, type LogPosition, readLog } from "./changes.ts";
import {
  allEndpointsPrefix,
  clientKey,
  endpointAttemptKey,
  endpointAttemptsPrefix,
  endpointKey,
  endpointLeaseKey,
  endpointsPrefix,
} from "./keys.ts";
import { listPage, type Page, withOccRetry } from "./kv.ts";

/** An endpoint as stored: the domain's record, positioned in its client's change log. */
export type Endpoint = EndpointRecord<LogPosition>;
export type { Attempt, EndpointSecret };

/** Stores a new endpoint; false when the client does not exist. */
export async function createEndpoint(kv: Deno.Kv, endpoint: Endpoint): Promise<boolean> {
  const client = await kv.get(clientKey(endpoint.client));
  if (!client.value) return false;
  const result = await kv.atomic().check(client).check({
    key: endpointKey(endpoint.client, endpoint.id),
    versionstamp: null,
  })
    .set(endpointKey(endpoint.client, endpoint.id), endpoint).commit();
  return result.ok || await createEndpoint(kv, endpoint);
}

export async function getEndpoint(kv: Deno.Kv, slug: string, id: string): Promise<Endpoint | null> {
  return (await kv.get<Endpoint>(endpointKey(slug, id))).value;
}

export async function listEndpoints(kv: Deno.Kv, slug: string): Promise<Endpoint[]> {
  return await Array.fromAsync(kv.list<Endpoint>({ prefix: endpointsPrefix(slug) }), (e) => e.value);
}

/** Every endpoint of every client (the minute's delivery sweep). */
export async function* allEndpoints(kv: Deno.Kv): AsyncGenerator<Endpoint> {
  for await (const e of kv.list<Endpoint>({ prefix: allEndpointsPrefix() })) yield e.value;
}

/** Changes an endpoint with `change` (null: leave it), checked against what it read; the result, or null. */
export async function updateEndpoint(
  kv: Deno.Kv,
  slug: string,
  id: string,
  change: (endpoint: Endpoint) => Endpoint | null,
  /** Attempts recorded in the same commit (only if the change is made). */
  log?: { attempts: readonly Attempt[]; retentionMs: number },
): Promise<Endpoint | null> {
  return await withOccRetry(`update endpoint ${id}`, async () => {
    const entry = await kv.get<Endpoint>(endpointKey(slug, id));
    const next = entry.value ? change(entry.value) : null;
    if (!next) return { op: null, result: null };
    const op = kv.atomic().check(entry).set(entry.key, next);
    for (const a of log?.attempts ?? []) {
      op.set(endpointAttemptKey(slug, id, a.id), a, { expireIn: log!.retentionMs });
    }
    return { op, result: next };
  });
}

export async function deleteEndpoint(kv: Deno.Kv, slug: string, id: string): Promise<boolean> {
  const entry = await kv.get<Endpoint>(endpointKey(slug, id));
  if (!entry.value) return false;
  await kv.atomic().check(entry).delete(entry.key).delete(endpointLeaseKey(slug, id)).commit();
  for await (const a of kv.list({ prefix: endpointAttemptsPrefix(slug, id) })) await kv.delete(a.key);
  return true;
}

interface Lease {
  owner: string;
  until: number;
}

/** Takes (or renews) the endpoint's lease for `ms`; false while another owner holds a live one. */
export async function takeLease(
  kv: Deno.Kv,
  slug: string,
  id: string,
  owner: string,
  ms: number,
): Promise<boolean> {
  const entry = await kv.get<Lease>(endpointLeaseKey(slug, id));
  if (entry.value && entry.value.owner !== owner && entry.value.until > Date.now()) return false;
  const result = await kv.atomic().check(entry).set(entry.key, { owner, until: Date.now() + ms }).commit();
  return result.ok;
}

export async function releaseLease(kv: Deno.Kv, slug: string, id: string, owner: string): Promise<void> {
  const entry = await kv.get<Lease>(endpointLeaseKey(slug, id));
  if (entry.value?.owner === owner) await kv.atomic().check(entry).delete(entry.key).commit();
}

/** Records one attempt; it expires after `retentionMs`. */
export async function recordAttempt(
  kv: Deno.Kv,
  slug: string,
  endpointId: string,
  attempt: Attempt,
  retentionMs: number,
): Promise<void> {
  const key = endpointAttemptKey(slug, endpointId, attempt.id);
  await kv.atomic().set(key, attempt, { expireIn: retentionMs }).commit();
}

/** A page of the endpoint's attempts, newest first (ids are ULIDs). Expired ones are left out. */
export async function listAttempts(
  kv: Deno.Kv,
  slug: string,
  endpointId: string,
  page: { limit: number; cursor?: string },
  retentionMs: number,
): Promise<Page<Attempt>> {
  const listed = await listPage<Attempt>(kv, endpointAttemptsPrefix(slug, endpointId), {
    ...page,
    reverse: true,
  });
  const oldest = Date.now() - retentionMs;
  return { ...listed, items: listed.items.filter((a) => Date.parse(a.at) >= oldest) };
}

/** What an endpoint has still to get: entries after its position (counted up to `max`) and the oldest's age. */
export async function endpointBacklog(
  kv: Deno.Kv,
  endpoint: Endpoint,
  max = 1000,
): Promise<{ entries: number; oldest_at: string | null }> {
  // Stopped behind retention, its position names entries the log no longer has: nothing to count.
  if (endpoint.state === "behind_retention") return { entries: 0, oldest_at: null };
  const page = await readLog(kv, endpoint.client, endpoint.position, max).catch((error) => {
    if (error instanceof ExpiredFeedCursorError) return null;
    throw error;
  });
  if (!page) return { entries: 0, oldest_at: null };
  // Only what it is sent: entries of types it does not subscribe to are passed over.
  const wanted = page.items.filter((e) => subscribes(endpoint.event_types, e.type));
  return { entries: wanted.length, oldest_at: wanted[0]?.occurred_at ?? null };
}

/** Disabled endpoints, and the backlog of the active ones (what `/metrics` shows). */
export async function outboundState(
  kv: Deno.Kv,
): Promise<{ disabled: number; backlog: number; oldestAgeSeconds: number }> {
  let disabled = 0;
  let backlog = 0;
  let oldest: number | null = null;
  for await (const endpoint of allEndpoints(kv)) {
    if (endpoint.state !== "active") {
      disabled++;
      continue;
    }
    const b = await endpointBacklog(kv, endpoint);
    backlog += b.entries;
    if (b.oldest_at) oldest = Math.min(oldest ?? Infinity, Date.parse(b.oldest_at));
  }
  return {
    disabled,
    backlog,
    oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
  };
}
