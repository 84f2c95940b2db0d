/**
 * Clients (the businesses) and their webhook secrets. Secrets live under their own keys so no
 * client read ever carries one; every secret change also rewrites the client record, whose
 * versionstamp then invalidates the cached signing keys.
 */
import { importSigningKey, newCalcomWebhookSecret, type SigningKey } from "../calcom/signature.ts";
import {
  clientApiKeyKey,
  clientGenerationKey,
  clientKey,
  clientPingKey,
  clientReconcileKey,
  clientSecretKey,
  clientSecretsPrefix,
  clientsPrefix,
  perClientKeys,
  perClientPrefixes,
  reconcileDueKey,
} from "./keys.ts";
import { withOccRetry } from "./kv.ts";
import { newId } from "../domain/ids.ts";
import { nowIso } from "../time.ts";

export interface Client {
  slug: string;
  name: string | null;
  /** Base URL of the client's Cal.com API (null: Cal.com's hosted default). */
  calcom_api_url?: string | null;
  /** The business's IANA time zone, for showing times (null: UTC). */
  time_zone?: string | null;
  /** Alarm after this many days without a delivery (null: when quieter than its usual gap). */
  silence_days?: number | null;
  /** Write-back: the client's systems may act on its Jobs in Cal.com (off unless the operator turns it on). */
  write_back?: boolean;
  /** Whether `client_counts` cover all of its data (absent for a client older than the counts). */
  counts_built?: boolean;
  created_at: string;
  updated_at: string;
}

/** The client's Cal.com API key, under its own key so no client read ever carries it. */
export interface ClientApiKey {
  api_key: string;
  set_at: string;
}

export interface ClientSecret {
  id: string;
  secret: string;
  created_at: string;
}

/** Which life of a slug a client record belongs to; `deleted_at` marks a deleted one. */
export interface ClientGeneration {
  id: string;
  deleted_at: string | null;
}

/**
 * What an intake commit checks for its client: the generation entry as it was when the client's
 * keys were read. A delete (or re-create) changes its versionstamp, and the commit fails.
 */
export interface ClientGuard {
  slug: string;
  key: Deno.KvKey;
  versionstamp: string | null;
}

/**
 * The guard for a client as it is now (code that stores submissions outside the webhook route,
 * like reconciliation); throws ClientGoneError for a client that does not exist (or was deleted).
 */
export async function clientGuard(kv: Deno.Kv, slug: string): Promise<ClientGuard> {
  const generation = await kv.get<ClientGeneration>(clientGenerationKey(slug));
  if (!generation.value || generation.value.deleted_at) throw new ClientGoneError(slug);
  return guardFrom(slug, generation);
}

function guardFrom(slug: string, generation: Deno.KvEntryMaybe<unknown>): ClientGuard {
  return { slug, key: generation.key, versionstamp: generation.versionstamp };
}

/** Thrown by an intake commit whose client was deleted (or re-created) after its keys were read. */
export class ClientGoneError extends Error {
  constructor(readonly slug: string) {
    super(`Client "${slug}" was deleted while the delivery was being stored.`);
    this.name = "ClientGoneError";
  }
}

export interface ClientPing {
  at: string;
  signature_valid: boolean;
  secret_id: string | null;
}

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

export async function getClient(kv: Deno.Kv, slug: string): Promise<Client | null> {
  return (await kv.get<Client>(clientKey(slug))).value;
}

export async function listClients(kv: Deno.Kv): Promise<Client[]> {
  return await Array.fromAsync(kv.list<Client>({ prefix: clientsPrefix() }), (e) => e.value);
}

/** Shorter secrets are accepted (Cal.com lets its users type any) but flagged as weak. */
export const WEAK_SECRET_LENGTH = 16;

export interface SecretSummary {
  id: string;
  created_at: string;
  weak: boolean;
}

/** A client's secrets without their values. */
export async function listSecretSummaries(kv: Deno.Kv, slug: string): Promise<SecretSummary[]> {
  return (await listSecrets(kv, slug)).map(secretSummary);
}

/** A secret as answers show it: never its value. */
export function secretSummary(s: ClientSecret): SecretSummary {
  return { id: s.id, created_at: s.created_at, weak: isWeakSecret(s.secret) };
}

/** A client's live secrets with their values (for comparing with what Cal.com holds; never shown). */
export async function listSecrets(kv: Deno.Kv, slug: string): Promise<ClientSecret[]> {
  return await Array.fromAsync(kv.list<ClientSecret>({ prefix: clientSecretsPrefix(slug) }), (e) => e.value);
}

export function isWeakSecret(secret: string): boolean {
  return secret.length < WEAK_SECRET_LENGTH;
}

export async function getApiKey(kv: Deno.Kv, slug: string): Promise<ClientApiKey | null> {
  return (await kv.get<ClientApiKey>(clientApiKeyKey(slug))).value;
}

export async function getLastPing(kv: Deno.Kv, slug: string): Promise<ClientPing | null> {
  return (await kv.get<ClientPing>(clientPingKey(slug))).value;
}

export interface PutClientResult {
  client: Client;
  created: boolean;
  /** The secret added by this call (given or generated), if any. */
  secret: ClientSecret | null;
  /** Why nothing was written: `only` was "create" and the client exists, or "update" and it does not. */
  refused: "exists" | "missing" | null;
}

/**
 * Creates a client (with the given secret or a generated one) or updates its name, Cal.com API
 * access and settings (a setting left out stays as it is). A secret given
 * for an existing client is added beside the current ones unless it is already one of them.
 */
export async function putClient(
  kv: Deno.Kv,
  slug: string,
  input: {
    name?: string | null;
    secret?: string | null;
    /** A new key, or null to remove it; undefined leaves it as it is. */
    apiKey?: string | null;
    apiUrl?: string | null;
    settings?: Partial<Pick<Client, "time_zone" | "silence_days" | "write_back">>;
  },
  /** Only create (refused for an existing slug), only update (refused for a missing one), or either. */
  only: "create" | "update" | null = null,
): Promise<PutClientResult> {
  return await withOccRetry<PutClientResult>("put client", async () => {
    const existing = await kv.get<Client>(clientKey(slug));
    if (only === "create" && existing.value) {
      return {
        op: null,
        result: { client: existing.value, created: false, secret: null, refused: "exists" },
      };
    }
    if (only === "update" && !existing.value) {
      const none = { slug, name: null, calcom_api_url: null, created_at: "", updated_at: "" };
      return { op: null, result: { client: none, created: false, secret: null, refused: "missing" } };
    }
    const now = nowIso();
    const client: Client = existing.value
      ? {
        ...existing.value,
        name: input.name !== undefined ? input.name : existing.value.name,
        calcom_api_url: input.apiUrl !== undefined ? input.apiUrl : existing.value.calcom_api_url ?? null,
        ...input.settings,
        updated_at: now,
      }
      : {
        slug,
        name: input.name ?? null,
        calcom_api_url: input.apiUrl ?? null,
        time_zone: input.settings?.time_zone ?? null,
        silence_days: input.settings?.silence_days ?? null,
        write_back: input.settings?.write_back ?? false,
        counts_built: true,
        created_at: now,
        updated_at: now,
      };
    const op = kv.atomic().check(existing).set(clientKey(slug), client);
    if (input.apiKey) {
      op.set(clientApiKeyKey(slug), { api_key: input.apiKey, set_at: now } satisfies ClientApiKey);
    } else if (input.apiKey === null) op.delete(clientApiKeyKey(slug));
    if (!existing.value) {
      const generation: ClientGeneration = { id: newId(), deleted_at: null };
      op.set(clientGenerationKey(slug), generation);
    }
    let secret: ClientSecret | null = null;
    if (!existing.value || input.secret) {
      const value = input.secret ?? newCalcomWebhookSecret();
      const current = existing.value
        ? await Array.fromAsync(kv.list<ClientSecret>({ prefix: clientSecretsPrefix(slug) }))
        : [];
      const same = current.find((e) => e.value.secret === value);
      if (same) op.check(same);
      else {
        secret = { id: newId(), secret: value, created_at: now };
        op.set(clientSecretKey(slug, secret.id), secret);
      }
      if (same) secret = same.value;
    }
    return { op, result: { client, created: !existing.value, secret, refused: null } };
  });
}

/** Adds a secret (generated unless given) to an existing client; null when the client does not exist. */
export async function addSecret(kv: Deno.Kv, slug: string, given?: string): Promise<ClientSecret | null> {
  return await withOccRetry("add secret", async () => {
    const existing = await kv.get<Client>(clientKey(slug));
    if (!existing.value) return { op: null, result: null };
    const now = nowIso();
    const secret: ClientSecret = { id: newId(), secret: given ?? newCalcomWebhookSecret(), created_at: now };
    const op = kv.atomic().check(existing)
      .set(clientKey(slug), { ...existing.value, updated_at: now })
      .set(clientSecretKey(slug, secret.id), secret);
    return { op, result: secret };
  });
}

export type RemoveSecretResult = "removed" | "no_client" | "no_secret" | "last_secret";

/** Retires one secret. The last one cannot be removed: the client would then reject every webhook. */
export async function removeSecret(kv: Deno.Kv, slug: string, secretId: string): Promise<RemoveSecretResult> {
  return await withOccRetry<RemoveSecretResult>("remove secret", async () => {
    const existing = await kv.get<Client>(clientKey(slug));
    if (!existing.value) return { op: null, result: "no_client" };
    const secrets = await Array.fromAsync(kv.list<ClientSecret>({ prefix: clientSecretsPrefix(slug) }));
    const target = secrets.find((e) => e.value.id === secretId);
    if (!target) return { op: null, result: "no_secret" };
    if (secrets.length === 1) return { op: null, result: "last_secret" };
    const op = kv.atomic().check(existing).check(target)
      .set(clientKey(slug), { ...existing.value, updated_at: nowIso() })
      .delete(target.key);
    return { op, result: "removed" };
  });
}

/** Deletes a client, its secrets and all of its data. Returns false when it did not exist. */
export async function deleteClient(kv: Deno.Kv, slug: string): Promise<boolean> {
  const [existing, reconcile] = await kv.getMany<[Client, { due_at?: number | null }]>([
    clientKey(slug),
    clientReconcileKey(slug),
  ]);
  if (!existing.value) return false;
  const due = reconcile.value?.due_at;
  // The client goes first, with a tombstone generation: from this commit on no delivery for it is
  // stored (intake commits check the generation), so nothing of it can come back.
  const tombstone: ClientGeneration = { id: newId(), deleted_at: nowIso() };
  const gone = await perClientKeys(slug).reduce(
    (op, key) => op.delete(key),
    kv.atomic().check(existing, reconcile).delete(clientKey(slug)),
  )
    .set(clientGenerationKey(slug), tombstone).commit();
  if (!gone.ok) return await deleteClient(kv, slug);
  if (due != null) await kv.delete(reconcileDueKey(due, slug));
  for (const prefix of perClientPrefixes(slug)) {
    let op = kv.atomic();
    let n = 0;
    for await (const entry of kv.list({ prefix })) {
      op.delete(entry.key);
      if (++n % 500 === 0) {
        await op.commit();
        op = kv.atomic();
      }
    }
    await op.commit();
  }
  // Processing that committed while the collections were being swept may have written a per-client
  // key again (a change-log head): the last of it goes now, when nothing of the client is left to process.
  await perClientKeys(slug).reduce((op, key) => op.delete(key), kv.atomic()).commit();
  return true;
}

export async function recordPing(kv: Deno.Kv, slug: string, ping: ClientPing): Promise<void> {
  await kv.set(clientPingKey(slug), ping);
}

export interface SigningKeys {
  client: Client;
  keys: { id: string; key: SigningKey }[];
  /** What an intake commit for this client checks. */
  guard: ClientGuard;
}

/** How long a process may use signing keys without checking for changes made elsewhere. */
export const SIGNING_KEY_TTL_MS = 1000;

/**
 * Per-process cache of imported HMAC keys, so the request path reads no KV for a known client.
 * Writes made through this process invalidate their client at once; changes made by another
 * process (the CLI) are seen within `ttlMs`, when the client record's versionstamp is checked again.
 */
export class SigningKeyCache {
  #cache = new Map<string, { versionstamp: string; checkedAt: number; keys: SigningKeys }>();

  constructor(private readonly kv: Deno.Kv, private readonly ttlMs = SIGNING_KEY_TTL_MS) {}

  async get(slug: string): Promise<SigningKeys | null> {
    const cached = this.#cache.get(slug);
    if (cached && performance.now() - cached.checkedAt < this.ttlMs) return cached.keys;
    // One read for both: the guard must belong to the client record it was read with.
    const [entry, generation] = await this.kv.getMany<[Client, ClientGeneration]>([
      clientKey(slug),
      clientGenerationKey(slug),
    ]);
    if (!entry.value || generation.value?.deleted_at) {
      this.#cache.delete(slug);
      return null;
    }
    if (cached?.versionstamp === entry.versionstamp) {
      cached.checkedAt = performance.now();
      return cached.keys;
    }
    const secrets = await Array.fromAsync(this.kv.list<ClientSecret>({ prefix: clientSecretsPrefix(slug) }));
    const keys: SigningKeys = {
      guard: guardFrom(slug, generation),
      client: entry.value,
      keys: await Promise.all(
        secrets.map(async (s) => ({ id: s.value.id, key: await importSigningKey(s.value.secret) })),
      ),
    };
    this.#cache.set(slug, { versionstamp: entry.versionstamp, checkedAt: performance.now(), keys });
    return keys;
  }

  invalidate(slug: string): void {
    this.#cache.delete(slug);
  }
}
