/**
 * Portal links and sessions in KV. A link's record (its key's hash, never the key) and its index by
 * that hash are written in one atomic; opening it marks it used and writes the session (and its
 * index by its token's hash) in one atomic that checks the link was still unused, so two tabs
 * opening one link at once get one session between them. Every link made, opened or refused, and
 * every "end all sessions", is kept in the client's portal audit. Records expire on their own (KV
 * `expireIn`); every read checks the time too, since KV drops expired keys only eventually.
 */
import type { PortalCapability } from "../domain/tokens.ts";
import { newId } from "../domain/ids.ts";
import {
  clientKey,
  portalAuditKey,
  portalAuditPrefix,
  portalLinkByHashKey,
  portalLinkKey,
  portalLinksPrefix,
  portalSessionByHashKey,
  portalSessionKey,
  portalSessionsPrefix,
} from "./keys.ts";
import { findByHash } from "./tokens.ts";
import type { Client } from "./clients.ts";

export interface PortalLink {
  id: string;
  capabilities: PortalCapability[];
  /** How long the session it opens lasts. */
  session_seconds: number;
  key_hash: string;
  created_at: string;
  /** Unopened by then, it opens nothing. */
  expires_at: string;
  used_at: string | null;
  session_id: string | null;
}

export interface PortalSession {
  id: string;
  link_id: string;
  capabilities: PortalCapability[];
  token_hash: string;
  opened_at: string;
  expires_at: string;
}

export type PortalAuditAction =
  | "portal_link.created"
  | "portal_link.opened"
  | "portal_link.refused"
  | "portal_sessions.ended";

export interface PortalAuditEntry {
  id: string;
  at: string;
  action: PortalAuditAction;
  link_id: string | null;
  session_id: string | null;
  capabilities: PortalCapability[] | null;
  /** Why a link was refused, or what ending sessions ended. */
  detail: string | null;
  /** Who: the operator's adapter (api, cli, dashboard) or the portal. */
  source: string;
}

/** The audit keeps 90 days. */
const AUDIT_RETENTION_MS = 90 * 86_400_000;

/** Adds one audit entry to `op` (kept 90 days). */
function audited(op: Deno.AtomicOperation, slug: string, fields: Omit<PortalAuditEntry, "id">) {
  const entry: PortalAuditEntry = { id: newId(), ...fields };
  return op.set(portalAuditKey(slug, entry.id), entry, { expireIn: AUDIT_RETENTION_MS });
}

/** How long a link's records stay: past its expiry by a day, so a late second use is told "already used". */
function linkKeepMs(link: PortalLink): number {
  return untilMs(link.expires_at) + 86_400_000;
}

/** How long until `iso`, at least a second (KV's expireIn must be positive). */
function untilMs(iso: string): number {
  return Math.max(1000, Date.parse(iso) - Date.now());
}

/** Stores a new link (and its audit entry); false when the client does not exist. */
export async function createLink(
  kv: Deno.Kv,
  slug: string,
  link: PortalLink,
  source: string,
): Promise<boolean> {
  const client = await kv.get(clientKey(slug));
  if (!client.value) return false;
  const keep = linkKeepMs(link);
  const op = kv.atomic()
    .check(client)
    .check({ key: portalLinkByHashKey(link.key_hash), versionstamp: null })
    .set(portalLinkKey(slug, link.id), link, { expireIn: keep })
    .set(portalLinkByHashKey(link.key_hash), { slug, id: link.id }, { expireIn: keep });
  const result = await audited(op, slug, {
    at: link.created_at,
    action: "portal_link.created",
    link_id: link.id,
    session_id: null,
    capabilities: link.capabilities,
    detail: `session ${link.session_seconds} s`,
    source,
  }).commit();
  return result.ok ? true : await createLink(kv, slug, link, source);
}

export type OpenRefusal = "unknown" | "used" | "expired";

/**
 * Opens the link whose key hashes to `keyHash` with `session` (made by the caller from the link, see
 * `makeSession`): the session, or why not. A refusal of a link that exists is audited.
 */
export async function openLink(
  kv: Deno.Kv,
  keyHash: string,
  makeSession: (link: PortalLink) => PortalSession,
  now: string,
): Promise<{ slug: string; client: Client; session: PortalSession } | { refused: OpenRefusal }> {
  const index = await kv.get<{ slug: string; id: string }>(portalLinkByHashKey(keyHash));
  if (!index.value) return { refused: "unknown" };
  const { slug } = index.value;
  const [entry, client] = await kv.getMany<[PortalLink, Client]>([
    portalLinkKey(slug, index.value.id),
    clientKey(slug),
  ]);
  const link = entry.value;
  if (!link || link.key_hash !== keyHash || !client.value) return { refused: "unknown" };
  const refusal: OpenRefusal | null = link.used_at !== null
    ? "used"
    : Date.parse(link.expires_at) <= Date.parse(now)
    ? "expired"
    : null;
  if (refusal) {
    await audited(kv.atomic(), slug, {
      at: now,
      action: "portal_link.refused",
      link_id: link.id,
      session_id: link.session_id,
      capabilities: link.capabilities,
      detail: refusal === "used" ? `already used at ${link.used_at}` : `expired at ${link.expires_at}`,
      source: "portal",
    }).commit();
    return { refused: refusal };
  }
  const session = makeSession(link);
  const lasts = untilMs(session.expires_at);
  const op = kv.atomic()
    .check(entry)
    .check(client)
    .set(entry.key, { ...link, used_at: now, session_id: session.id }, { expireIn: linkKeepMs(link) })
    .set(portalSessionKey(slug, session.id), session, { expireIn: lasts })
    .set(portalSessionByHashKey(session.token_hash), { slug, id: session.id }, { expireIn: lasts });
  const result = await audited(op, slug, {
    at: now,
    action: "portal_link.opened",
    link_id: link.id,
    session_id: session.id,
    capabilities: session.capabilities,
    detail: `session until ${session.expires_at}`,
    source: "portal",
  }).commit();
  // Lost a race (the other tab won, or the client went): read again and say so.
  return result.ok ? { slug, client: client.value, session } : await openLink(kv, keyHash, makeSession, now);
}

/** The live session a token hashes to, with its client; null for an ended, expired or unknown one. */
export async function findSession(
  kv: Deno.Kv,
  tokenHash: string,
): Promise<{ slug: string; session: PortalSession } | null> {
  const found = await findByHash<PortalSession>(
    kv,
    portalSessionByHashKey(tokenHash),
    portalSessionKey,
    (s) => s.token_hash === tokenHash,
  );
  return found && { slug: found.slug, session: found.record };
}

/** The client's sessions not yet expired, and its links not yet used or expired. */
export async function listPortal(
  kv: Deno.Kv,
  slug: string,
  now: number,
): Promise<{ sessions: PortalSession[]; links: PortalLink[] }> {
  const sessions = await Array.fromAsync(
    kv.list<PortalSession>({ prefix: portalSessionsPrefix(slug) }),
    (e) => e.value,
  );
  const links = await Array.fromAsync(
    kv.list<PortalLink>({ prefix: portalLinksPrefix(slug) }),
    (e) => e.value,
  );
  return {
    sessions: sessions.filter((s) => Date.parse(s.expires_at) > now),
    links: links.filter((l) => l.used_at === null && Date.parse(l.expires_at) > now),
  };
}

/**
 * Ends every session of the client and voids every link not yet opened, at once: a session's
 * next request is refused. Answers how many of each.
 */
export async function endPortal(
  kv: Deno.Kv,
  slug: string,
  now: string,
  source: string,
): Promise<{ sessions: number; links: number }> {
  let sessions = 0;
  let links = 0;
  for await (const e of kv.list<PortalSession>({ prefix: portalSessionsPrefix(slug) })) {
    if ((await dropSession(kv, e)) && Date.parse(e.value.expires_at) > Date.parse(now)) sessions++;
  }
  for await (const e of kv.list<PortalLink>({ prefix: portalLinksPrefix(slug) })) {
    if (e.value.used_at !== null) continue;
    // Marked used by no session: a later open is told it was used, and a racing open loses.
    const ok = await kv.atomic().check(e).set(e.key, { ...e.value, used_at: now }, {
      expireIn: linkKeepMs(e.value),
    }).commit();
    if (ok.ok && Date.parse(e.value.expires_at) > Date.parse(now)) links++;
  }
  await audited(kv.atomic(), slug, {
    at: now,
    action: "portal_sessions.ended",
    link_id: null,
    session_id: null,
    capabilities: null,
    detail: `${sessions} session(s) ended, ${links} unopened link(s) voided`,
    source,
  }).commit();
  return { sessions, links };
}

/** Ends one session (the business signing out); false when it was gone already. */
export async function endSession(kv: Deno.Kv, slug: string, id: string): Promise<boolean> {
  const entry = await kv.get<PortalSession>(portalSessionKey(slug, id));
  return entry.value !== null && await dropSession(kv, entry as Deno.KvEntry<PortalSession>);
}

/** Deletes a session and its index entry together; false when it changed meanwhile. */
async function dropSession(kv: Deno.Kv, entry: Deno.KvEntry<PortalSession>): Promise<boolean> {
  const deleted = await kv.atomic().check(entry).delete(entry.key)
    .delete(portalSessionByHashKey(entry.value.token_hash)).commit();
  return deleted.ok;
}

/** The client's portal audit, newest first. */
export async function portalAudit(kv: Deno.Kv, slug: string, limit: number): Promise<PortalAuditEntry[]> {
  return await Array.fromAsync(
    kv.list<PortalAuditEntry>({ prefix: portalAuditPrefix(slug) }, { reverse: true, limit }),
    (e) => e.value,
  );
}
