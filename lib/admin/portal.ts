/**
 * The operator's side of the client portal: a single-use link for a client with chosen
 * capabilities (answered once: its key is in the URL's fragment, so it reaches no server log or
 * Referer), the client's live sessions and unopened links, "end them all", and the portal audit.
 */
import { newId } from "../domain/ids.ts";
import { LINK_KEY_PREFIX, LINK_TTL_MS, newToken, tokenHash } from "../domain/tokens.ts";
import type { OpsContext } from "../api/context.ts";
import { noClient, validCapabilities, validSessionSeconds } from "../api/inputs.ts";
import type { OpInput } from "../api/operation.ts";
import { createLink, endPortal, listPortal, portalAudit, type PortalLink } from "../store/portal.ts";
import { nowIso } from "../time.ts";

/** Where the portal is served, under PUBLIC_URL. */
export const PORTAL_PATH = "/portal/";

export async function createPortalLinkOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const capabilities = validCapabilities(input.capabilities);
  const sessionSeconds = validSessionSeconds(input.expires_in);
  const key = newToken(LINK_KEY_PREFIX);
  const now = nowIso();
  const link: PortalLink = {
    id: newId(),
    capabilities,
    session_seconds: sessionSeconds,
    key_hash: tokenHash(key),
    created_at: now,
    expires_at: new Date(Date.parse(now) + LINK_TTL_MS).toISOString(),
    used_at: null,
    session_id: null,
  };
  if (!(await createLink(ctx.kv, client.slug, link, ctx.deps.source ?? "api"))) throw noClient(client.slug);
  ctx.audit("portal.link_create", {
    slug: client.slug,
    link_id: link.id,
    capabilities,
    session_seconds: sessionSeconds,
  });
  const path = `${PORTAL_PATH}#key=${key}`;
  const publicUrl = ctx.deps.publicUrl ?? null;
  return {
    id: link.id,
    url: publicUrl ? publicUrl + path : null,
    path,
    url_problem: publicUrl
      ? null
      : "PUBLIC_URL is not set: the link is this service's address followed by `path`.",
    capabilities,
    link_expires_at: link.expires_at,
    session_seconds: sessionSeconds,
  };
}

export async function listPortalOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const { sessions, links } = await listPortal(ctx.kv, client.slug, Date.now());
  return {
    sessions: sessions.map(({ token_hash: _hash, ...shown }) => shown),
    links: links.map(({ key_hash: _hash, used_at: _used, session_id: _session, ...shown }) => shown),
  };
}

/** Ends every session of the client and voids its unopened links. */
export async function endPortalOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const ended = await endPortal(ctx.kv, client.slug, nowIso(), ctx.deps.source ?? "api");
  ctx.audit("portal.end_all", { slug: client.slug, sessions: ended.sessions, links: ended.links });
  return { ended_sessions: ended.sessions, voided_links: ended.links };
}

export async function portalAuditOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const limit = Math.min(500, Math.max(1, Number(input.limit ?? 100) || 100));
  return { items: await portalAudit(ctx.kv, client.slug, limit) };
}
