/**
 * Client tokens (`cit_…`): made by the operator, by a client token with `tokens:write` within its
 * own scopes and expiry, or by a portal session with `tokens` within its capabilities (a business
 * hands out its developers' tokens itself); listed without
 * their values; revoked at once. A token's value is answered only by the call that made it; only
 * its hash is kept.
 */
import { newId } from "../domain/ids.ts";
import { type Caller, newToken, scopesWithin, tokenHash } from "../domain/tokens.ts";
import { HttpError } from "../errors.ts";
import { type ClientToken, createToken, listTokens, revokeToken } from "../store/tokens.ts";
import { nowIso } from "../time.ts";
import type { OpsContext } from "./context.ts";
import { MAX_NAME_LENGTH, noClient, optionalExpiry, optionalString, validId, validScopes } from "./inputs.ts";
import type { OpInput } from "./operation.ts";

/** A new client token, answered once with its value (only its hash is kept). */
export async function createTokenOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const name = optionalString(input.name, "name", MAX_NAME_LENGTH);
  if (!name) throw new HttpError(400, "invalid_name", 'Give the token a "name" that says who uses it.');
  const scopes = validScopes(input.scopes);
  const caller = input.caller;
  let expiresAt = optionalExpiry(input.expires_at, Date.now());
  if (caller?.kind === "portal") {
    // A portal session gives only scopes whose every power its capabilities hold.
    const allowed = scopesWithin(caller.capabilities);
    const missing = scopes.filter((scope) => !allowed.includes(scope));
    if (missing.length > 0) {
      throw new HttpError(
        403,
        "scope_not_held",
        `This portal session cannot give ${missing.join(", ")}: with its capabilities (${
          caller.capabilities.join(", ")
        }) it may give ${allowed.join(", ")}.`,
      );
    }
  }
  if (caller?.kind === "token") {
    // A client token makes tokens within what it may do itself, and until it expires at the latest.
    const missing = scopes.filter((scope) => !caller.scopes.includes(scope));
    if (missing.length > 0) {
      throw new HttpError(
        403,
        "scope_not_held",
        `This token cannot give scopes it lacks (${missing.join(", ")}); it holds ${
          caller.scopes.join(", ")
        }.`,
      );
    }
    if (caller.expiresAt && (expiresAt === null || expiresAt > caller.expiresAt)) {
      if (input.expires_at !== undefined && input.expires_at !== null && input.expires_at !== "") {
        throw new HttpError(
          403,
          "expiry_beyond_own",
          `This token expires at ${caller.expiresAt}; a token it makes cannot outlive it.`,
        );
      }
      expiresAt = caller.expiresAt;
    }
  }
  const token = newToken();
  const record: ClientToken = {
    id: newId(),
    name,
    scopes,
    token_hash: tokenHash(token),
    created_at: nowIso(),
    expires_at: expiresAt,
    last_used_at: null,
  };
  if (!(await createToken(ctx.kv, client.slug, record))) throw noClient(client.slug);
  ctx.audit("token.create", {
    slug: client.slug,
    token_id: record.id,
    scopes,
    expires_at: expiresAt,
    ...byWhom(caller),
  });
  const { token_hash: _hash, last_used_at: _used, ...shown } = record;
  return { ...shown, token };
}

export async function listTokensOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const tokens = await listTokens(ctx.kv, client.slug);
  return { items: tokens.map(({ token_hash: _hash, ...shown }) => shown), cursor: null };
}

/** Revokes a token at once: its next request is refused. */
export async function revokeTokenOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const tokenId = validId(input.tokenId, "token");
  if (!(await revokeToken(ctx.kv, client.slug, tokenId))) {
    throw new HttpError(404, "unknown_token", `Client "${client.slug}" has no token ${tokenId}.`);
  }
  ctx.audit("token.revoke", {
    slug: client.slug,
    token_id: tokenId,
    ...byWhom(input.caller),
  });
  return { revoked: tokenId };
}

/** Who made a change, for its audit line, where not the operator. */
export function byWhom(caller: Caller | undefined): Record<string, string> {
  return caller?.kind === "token"
    ? { by_token: caller.tokenId }
    : caller?.kind === "portal"
    ? { by_portal_session: caller.sessionId }
    : {};
}
