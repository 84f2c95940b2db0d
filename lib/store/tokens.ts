/**
 * Client tokens in KV: a record per token under its client (`client_tokens`), and an index by the
 * token's SHA-256 (`client_tokens_by_hash`) written in the same atomic, so a presented token is
 * found with one read. The token itself is never stored. Deleting a client deletes its records; an
 * index entry whose record is gone finds nothing.
 */
import type { TokenScope } from "../domain/tokens.ts";
import { clientKey, clientTokenByHashKey, clientTokenKey, clientTokensPrefix } from "./keys.ts";

export interface ClientToken {
  id: string;
  name: string;
  scopes: TokenScope[];
  token_hash: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** Stores a new token's record; false when the client does not exist. */
export async function createToken(kv: Deno.Kv, slug: string, record: ClientToken): Promise<boolean> {
  const client = await kv.get(clientKey(slug));
  if (!client.value) return false;
  const result = await kv.atomic()
    .check(client)
    .check({ key: clientTokenByHashKey(record.token_hash), versionstamp: null })
    .set(clientTokenKey(slug, record.id), record)
    .set(clientTokenByHashKey(record.token_hash), { slug, id: record.id }).commit();
  return result.ok ? true : await createToken(kv, slug, record);
}

export async function listTokens(kv: Deno.Kv, slug: string): Promise<ClientToken[]> {
  return await Array.fromAsync(kv.list<ClientToken>({ prefix: clientTokensPrefix(slug) }), (e) => e.value);
}

/** Revokes a token at once (its record and index entry go together); false when there is none. */
export async function revokeToken(kv: Deno.Kv, slug: string, id: string): Promise<boolean> {
  const entry = await kv.get<ClientToken>(clientTokenKey(slug, id));
  if (!entry.value) return false;
  const result = await kv.atomic().check(entry).delete(entry.key).delete(
    clientTokenByHashKey(entry.value.token_hash),
  ).commit();
  return result.ok ? true : await revokeToken(kv, slug, id);
}

/** The token a hash belongs to, with its client; null for a revoked, deleted or unknown one. */
export async function findToken(
  kv: Deno.Kv,
  hash: string,
): Promise<{ slug: string; token: ClientToken } | null> {
  const found = await findByHash<ClientToken>(
    kv,
    clientTokenByHashKey(hash),
    clientTokenKey,
    (t) => t.token_hash === hash,
  );
  return found && { slug: found.slug, token: found.record };
}

/**
 * The record a `<coll>_by_hash` index entry points at, with its client: null when the entry or the
 * record is gone, or the record is another one now (`matches` says whether it is the one hashed).
 */
export async function findByHash<T>(
  kv: Deno.Kv,
  indexKey: Deno.KvKey,
  recordKey: (slug: string, id: string) => Deno.KvKey,
  matches: (record: T) => boolean,
): Promise<{ slug: string; record: T } | null> {
  const index = await kv.get<{ slug: string; id: string }>(indexKey);
  if (!index.value) return null;
  const record = await kv.get<T>(recordKey(index.value.slug, index.value.id));
  if (!record.value || !matches(record.value)) return null;
  return { slug: index.value.slug, record: record.value };
}

/** Notes when a token was last used (its record may be gone meanwhile: then nothing is written). */
export async function touchToken(kv: Deno.Kv, slug: string, id: string, at: string): Promise<void> {
  const entry = await kv.get<ClientToken>(clientTokenKey(slug, id));
  if (!entry.value) return;
  await kv.atomic().check(entry).set(entry.key, { ...entry.value, last_used_at: at }).commit();
}
