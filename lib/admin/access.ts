/**
 * Who may call what: the admin token may call everything; a client token (`cit_…`) only the client
 * API of its own client, with the scopes it was given, until it expires or is revoked; a portal
 * session (`cps_…`) likewise, with the capabilities its link gave, until it expires or is ended. Tokens are
 * compared by their SHA-256 (the admin token in constant time; a client token is looked up by its
 * hash, after its checksum is checked without any KV read). No token is ever logged.
 */
import { timingSafeEqual } from "node:crypto";
import {
  type Caller,
  isWellFormedToken,
  type PortalCapability,
  SESSION_PREFIX,
  TOKEN_PREFIX,
  tokenHash,
  type TokenScope,
} from "../domain/tokens.ts";
import { HttpError } from "../errors.ts";
import { findToken, touchToken } from "../store/tokens.ts";
import { findSession } from "../store/portal.ts";
import { nowIso } from "../time.ts";

export type { Caller };

/** last_used_at is written at most this often per token (a write per request would cost more than the read). */
const TOUCH_EVERY_MS = 60_000;

export class AccessControl {
  readonly #admin: Promise<Uint8Array> | null;
  readonly #touched = new Map<string, number>();

  constructor(private readonly kv: Deno.Kv, adminToken: string | null) {
    this.#admin = adminToken ? digest(adminToken) : null;
  }

  /** The admin API: the admin token, or 503 when none is configured, or 401. */
  async admin(authorization: string | null): Promise<Caller> {
    if (!this.#admin) {
      throw new HttpError(
        503,
        "admin_disabled",
        "The admin API is disabled. Set the ADMIN_TOKEN environment variable and restart the service to enable it.",
      );
    }
    if (await this.#isAdmin(bearer(authorization))) return { kind: "admin" };
    throw new HttpError(
      401,
      "unauthorized",
      "Send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>'.",
      {
        "www-authenticate": "Bearer",
      },
    );
  }

  /**
   * The client API of `slug`: the admin token, a live token of that client holding `scope`, or a
   * live portal session of that client holding `capability` (null: no session may call the row).
   * Another client's token or session is answered as if the client did not exist (404): it learns
   * nothing.
   */
  async client(
    authorization: string | null,
    slug: string,
    scope: TokenScope,
    capability: PortalCapability | null = null,
  ): Promise<Caller> {
    const given = bearer(authorization);
    if (given === null) {
      throw refused(
        "unauthorized",
        "Send 'Authorization: Bearer <token>': a client token (cit_…), a portal session or the admin token.",
      );
    }
    if (await this.#isAdmin(given)) return { kind: "admin" };
    if (given.startsWith(SESSION_PREFIX)) return await this.#session(given, slug, capability);
    if (!given.startsWith(TOKEN_PREFIX) || !isWellFormedToken(given)) {
      throw refused(
        "invalid_token",
        "That is not a valid client token (they start cit_ and end in a checksum); check it was copied whole.",
      );
    }
    const found = await findToken(this.kv, tokenHash(given));
    if (!found) {
      throw refused("invalid_token", "This client token was revoked or never existed. Ask for a new one.");
    }
    const { token } = found;
    if (token.expires_at && Date.parse(token.expires_at) <= Date.now()) {
      throw refused("token_expired", `This client token expired at ${token.expires_at}. Ask for a new one.`);
    }
    if (found.slug !== slug) throw unreachable(slug);
    if (!token.scopes.includes(scope)) {
      throw new HttpError(
        403,
        "insufficient_scope",
        `This token lacks the scope ${scope} (it has ${
          token.scopes.join(", ") || "none"
        }). Create a token with it.`,
      );
    }
    this.#touch(slug, token.id);
    return { kind: "token", slug, tokenId: token.id, scopes: token.scopes, expiresAt: token.expires_at };
  }

  async #session(given: string, slug: string, capability: PortalCapability | null): Promise<Caller> {
    const ended = "This portal session has ended. Ask for a new portal link.";
    if (!isWellFormedToken(given, SESSION_PREFIX)) throw refused("invalid_session", ended);
    const found = await findSession(this.kv, tokenHash(given));
    if (!found) throw refused("invalid_session", ended);
    const { session } = found;
    if (Date.parse(session.expires_at) <= Date.now()) {
      throw refused(
        "session_expired",
        `This portal session expired at ${session.expires_at}. Ask for a new link.`,
      );
    }
    if (found.slug !== slug) throw unreachable(slug);
    if (capability === null || !session.capabilities.includes(capability)) {
      throw new HttpError(
        403,
        "capability_not_held",
        capability === null
          ? "A portal session cannot do this."
          : `This portal session may not do this: it needs the "${capability}" capability (it has ${
            session.capabilities.join(", ")
          }). Ask for a link that gives it.`,
      );
    }
    return {
      kind: "portal",
      slug,
      sessionId: session.id,
      capabilities: session.capabilities,
      expiresAt: session.expires_at,
    };
  }

  async #isAdmin(given: string | null): Promise<boolean> {
    if (!this.#admin || given === null) return false;
    return timingSafeEqual(await digest(given), await this.#admin);
  }

  #touch(slug: string, id: string): void {
    const now = Date.now();
    if (now - (this.#touched.get(id) ?? 0) < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    touchToken(this.kv, slug, id, nowIso()).catch(() => {});
  }
}

function bearer(header: string | null): string | null {
  const match = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? "");
  return match ? match[1].trim() : null;
}

function unreachable(slug: string): HttpError {
  return new HttpError(
    404,
    "unknown_client",
    `No client "${slug.slice(0, 80)}" is reachable with this token.`,
  );
}

function refused(code: string, message: string): HttpError {
  return new HttpError(401, code, message, { "www-authenticate": `Bearer error="invalid_token"` });
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}
