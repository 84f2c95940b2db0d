/**
 * The business's side of the client portal: a link's key (from the link's fragment, sent in a body,
 * never in a URL) opens a session once; the session's token (`cps_…`) then calls the client API
 * like a client token, within the capabilities the operator gave the link (`admin/access.ts`).
 * The business signs out by ending its own session. The operator's side is `admin/portal.ts`.
 */
import { newId } from "../domain/ids.ts";
import {
  isWellFormedToken,
  LINK_KEY_PREFIX,
  newToken,
  scopesWithin,
  SESSION_PREFIX,
  tokenHash,
} from "../domain/tokens.ts";
import { HttpError } from "../errors.ts";
import { endSession, openLink, type PortalSession } from "../store/portal.ts";
import { nowIso } from "../time.ts";
import type { OpsContext } from "./context.ts";
import type { OpInput } from "./operation.ts";

const ASK_AGAIN = "Ask the person who sent it for a new link.";

/** Exchanges a link's key for a session: answered once, with the session's token. */
export async function openPortalSessionOp(ctx: OpsContext, input: OpInput) {
  const key = typeof input.key === "string" ? input.key.trim() : "";
  if (!isWellFormedToken(key, LINK_KEY_PREFIX)) {
    throw new HttpError(
      404,
      "portal_link_unknown",
      `This portal link is not valid (it may have been copied only in part). ${ASK_AGAIN}`,
    );
  }
  const token = newToken(SESSION_PREFIX);
  const now = nowIso();
  const opened = await openLink(ctx.kv, tokenHash(key), (link): PortalSession => ({
    id: newId(),
    link_id: link.id,
    capabilities: link.capabilities,
    token_hash: tokenHash(token),
    opened_at: now,
    expires_at: new Date(Date.parse(now) + link.session_seconds * 1000).toISOString(),
  }), now);
  if ("refused" in opened) {
    ctx.audit("portal.link_refused", { reason: opened.refused });
    if (opened.refused === "used") {
      throw new HttpError(
        410,
        "portal_link_used",
        `This portal link was used already: each opens once. ${ASK_AGAIN}`,
      );
    }
    if (opened.refused === "expired") {
      throw new HttpError(410, "portal_link_expired", `This portal link has expired. ${ASK_AGAIN}`);
    }
    throw new HttpError(404, "portal_link_unknown", `This portal link is not valid. ${ASK_AGAIN}`);
  }
  const { slug, client, session } = opened;
  ctx.audit("portal.session_open", {
    slug,
    session_id: session.id,
    link_id: session.link_id,
    capabilities: session.capabilities,
    expires_at: session.expires_at,
  });
  return {
    token,
    session_id: session.id,
    slug,
    client_name: client.name ?? null,
    time_zone: client.time_zone ?? null,
    capabilities: session.capabilities,
    token_scopes: scopesWithin(session.capabilities),
    expires_at: session.expires_at,
  };
}

/** Ends the calling session (signing out of the portal). */
export async function endPortalSessionOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const caller = input.caller;
  if (caller?.kind !== "portal") {
    throw new HttpError(400, "not_a_portal_session", "Only a portal session can sign itself out.");
  }
  await endSession(ctx.kv, client.slug, caller.sessionId);
  ctx.audit("portal.session_end", { slug: client.slug, session_id: caller.sessionId });
  return { ended: caller.sessionId };
}
