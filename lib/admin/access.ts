/**
 * Who may call what: the admin token may call everything; a client token (`cit_…`) only the client
 * API of its own client, with the scopes it was given, until it expires or is revoked. Tokens are
 * compared by their SHA-256 (the admin token in constant time; a client token is looked up by its
 * hash, after its checksum is checked without any KV read). No token is ever logged.
 */
import { timingSafeEqual } from "node:crypto";
import {
  type Caller,
  isWellFormedToken,
  TOKEN_PREFIX,
  tokenHash,
  type TokenScope,
} from "../domain/tokens.ts";
import { HttpError } from "../errors.ts";
import { findToken, touchToken } from "../store/tokens.ts";
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
   * The client API of `slug`: the admin token, or a live token of that client holding `scope`.
   * Another client's token is answered as if the client did not exist (404): it learns nothing.
   */
  async client(authorization: string | null, slug: string, scope: TokenScope): Promise<Caller> {
    const given = bearer(authorization);
    if (given === null) {
      throw refused(
        "unauthorized",
        "Send 'Authorization: Bearer <token>': a client token (cit_…) or the admin token.",
      );
    }
    if (await this.#isAdmin(given)) return { kind: "admin" };
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
    if (found.slug !== slug) {
      throw new HttpError(
        404,
        "unknown_client",
        `No client "${slug.slice(0, 80)}" is reachable with this token.`,
      );
    }
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

function refused(code: string, message: string): HttpError {
  return new HttpError(401, code, message, { "www-authenticate": `Bearer error="invalid_token"` });
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}
