/**
 * Everything an admin view shows of a client besides its record: its secrets (summaries), whether
 * it has an API key, reconciliation state, what deliveries told about its webhook, its last ping,
 * outbound endpoints, its webhook in Cal.com as last checked, and its counts. For one client, a
 * few reads; for every client (the Clients list), one listing per collection, joined here, so the
 * list costs well under one read unit per client instead of several.
 */
import { type CalcomWebhookRecord, getCalcomWebhook, UNCHECKED } from "./calcom_webhooks.ts";
import {
  type Client,
  type ClientPing,
  type ClientSecret,
  getApiKey,
  getLastPing,
  listSecretSummaries,
  type SecretSummary,
  secretSummary,
} from "./clients.ts";
import { type ClientCounts, countsFrom, readCounts } from "./counts.ts";
import { type Endpoint, listEndpoints } from "./endpoints.ts";
import { allEndpointsPrefix, clientsPrefix, wholeCollection } from "./keys.ts";
import {
  getReconcileState,
  getWebhookState,
  type ReconcileState,
  reconcileStateOf,
  type WebhookState,
} from "./reconcile.ts";

export interface ClientParts {
  secrets: SecretSummary[];
  hasApiKey: boolean;
  reconcile: ReconcileState;
  webhook: WebhookState | null;
  lastPing: ClientPing | null;
  endpoints: Endpoint[];
  calcomWebhook: CalcomWebhookRecord;
  counts: ClientCounts;
}

/** One client's parts. */
export async function clientParts(kv: Deno.Kv, slug: string): Promise<ClientParts> {
  const [secrets, apiKey, reconcile, webhook, lastPing, endpoints, calcomWebhook, counts] = await Promise.all(
    [
      listSecretSummaries(kv, slug),
      getApiKey(kv, slug),
      getReconcileState(kv, slug),
      getWebhookState(kv, slug),
      getLastPing(kv, slug),
      listEndpoints(kv, slug),
      getCalcomWebhook(kv, slug),
      readCounts(kv, slug),
    ],
  );
  return {
    secrets,
    hasApiKey: apiKey !== null,
    reconcile,
    webhook,
    lastPing,
    endpoints,
    calcomWebhook,
    counts,
  };
}

/** Every client with its parts, each collection read in one listing. */
export async function everyClientsParts(kv: Deno.Kv): Promise<{ client: Client; parts: ClientParts }[]> {
  const [clients, secrets, keys, reconcile, webhooks, pings, endpoints, hooks, counts] = await Promise.all([
    values<Client>(kv, clientsPrefix()),
    entries<ClientSecret>(kv, wholeCollection("client_secrets")),
    entries<unknown>(kv, wholeCollection("client_api_keys")),
    entries<ReconcileState>(kv, wholeCollection("client_reconcile")),
    entries<WebhookState>(kv, wholeCollection("client_webhook_state")),
    entries<ClientPing>(kv, wholeCollection("client_pings")),
    entries<Endpoint>(kv, allEndpointsPrefix()),
    entries<CalcomWebhookRecord>(kv, wholeCollection("client_calcom_webhooks")),
    entries<unknown>(kv, wholeCollection("client_counts")),
  ]);
  const bySlug = <T>(list: Deno.KvEntry<T>[]) => {
    const out = new Map<string, Deno.KvEntry<T>[]>();
    for (const e of list) {
      const slug = String(e.key[1]);
      out.set(slug, [...(out.get(slug) ?? []), e]);
    }
    return out;
  };
  const [secretsOf, keysOf, reconcileOf, webhookOf, pingOf, endpointsOf, hookOf, countsOf] = [
    bySlug(secrets),
    bySlug(keys),
    bySlug(reconcile),
    bySlug(webhooks),
    bySlug(pings),
    bySlug(endpoints),
    bySlug(hooks),
    bySlug(counts),
  ];
  return clients.map((client) => {
    const slug = client.slug;
    const one = <T>(m: Map<string, Deno.KvEntry<T>[]>) => m.get(slug)?.[0]?.value ?? null;
    return {
      client,
      parts: {
        secrets: (secretsOf.get(slug) ?? []).map((e) => secretSummary(e.value)),
        hasApiKey: keysOf.has(slug),
        reconcile: reconcileStateOf(one(reconcileOf)),
        webhook: one(webhookOf),
        lastPing: one(pingOf),
        endpoints: (endpointsOf.get(slug) ?? []).map((e) => e.value),
        calcomWebhook: { ...UNCHECKED, ...one(hookOf) },
        counts: countsFrom(countsOf.get(slug) ?? []),
      },
    };
  });
}

async function entries<T>(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Deno.KvEntry<T>[]> {
  return await Array.fromAsync(kv.list<T>({ prefix }, { batchSize: 1000 }));
}

async function values<T>(kv: Deno.Kv, prefix: Deno.KvKey): Promise<T[]> {
  return (await entries<T>(kv, prefix)).map((e) => e.value);
}
