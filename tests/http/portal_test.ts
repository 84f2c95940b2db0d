/**
 * The client portal's API side, in process: a link opens once (a second use, an expired link and a
 * voided one are refused with what to do), a session reaches only its own client (every client-API
 * row of the table, with another client's slug) and only what its capabilities allow (every row,
 * per capability), it cannot call the operator's rows, its tokens stay within its capabilities,
 * "end all" ends it at once, every step is audited, and no key or token reaches a log line.
 */
import assert from "node:assert/strict";
import { CLIENT_API_OPERATIONS } from "../../lib/api/table.ts";
import { ADMIN_OPERATIONS } from "../../lib/admin/table.ts";
import { capabilityOf, fillPath, pathParams } from "../../lib/api/operation.ts";
import {
  LINK_KEY_PREFIX,
  LINK_TTL_MS,
  newToken,
  PORTAL_CAPABILITIES,
  type PortalCapability,
  tokenHash,
} from "../../lib/domain/tokens.ts";
import { createLink } from "../../lib/store/portal.ts";
import { addClient, bookingCreated, type TestServer, withServer } from "../_helpers.ts";

interface Issued {
  id: string;
  url: string | null;
  path: string;
}

/** A portal link of acme with `capabilities`, opened: the session's token. */
async function session(server: TestServer, slug: string, capabilities: PortalCapability[]) {
  const link = await server.admin<Issued>("POST", `/admin/clients/${slug}/portal-links`, { capabilities });
  assert.equal(link.status, 201, JSON.stringify(link.body));
  const key = link.body.path.split("#key=")[1];
  const opened = await open(server, key);
  assert.equal(opened.status, 201, JSON.stringify(opened.body));
  return { key, token: (opened.body as { token: string }).token, link: link.body };
}

async function open(server: TestServer, key: string) {
  const res = await server.fetch("/api/v1/portal/sessions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ key }),
  });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

/** Calls `row` as `token`, with every path parameter filled (slug given, others made up). */
async function callRow(
  server: TestServer,
  token: string,
  row: { method: string; path: string },
  slug: string,
) {
  const params = Object.fromEntries(pathParams(row.path).map((p) => [p, p === "slug" ? slug : "unknown"]));
  const res = await server.fetch(fillPath(row.path, params), {
    method: row.method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: row.method === "GET" || row.method === "DELETE" ? undefined : "{}",
  });
  const body = await res.json().catch(() => null) as { error?: { code: string } } | null;
  return { status: res.status, code: body?.error?.code ?? null };
}

const ROWS = Object.entries(CLIENT_API_OPERATIONS).filter(([, row]) => !("public" in row && row.public));

Deno.test("a portal link opens once; a used, expired or voided one is refused with what to do; all audited", async () => {
  await withServer(
    { mode: "inline", env: { PUBLIC_URL: "https://intake.example.com/base" } },
    async (server) => {
      await addClient(server, "acme");
      const link = await server.admin<Issued>("POST", "/admin/clients/acme/portal-links", {
        capabilities: ["endpoints"],
        expires_in: 3600,
      });
      assert.equal(link.status, 201);
      assert.match(
        link.body.url ?? "",
        /^https:\/\/intake\.example\.com\/base\/portal\/#key=cpl_[0-9A-Za-z]+$/,
      );
      const key = link.body.path.split("#key=")[1];

      const first = await open(server, key);
      assert.equal(first.status, 201);
      assert.deepEqual(first.body.capabilities, ["view", "endpoints"]);
      const lasts = Date.parse(first.body.expires_at as string) - Date.now();
      assert.ok(lasts > 3500_000 && lasts <= 3600_000, "the session lasts expires_in");
      const second = await open(server, key);
      assert.equal(second.status, 410);
      assert.equal((second.body.error as { code: string }).code, "portal_link_used");
      assert.match((second.body.error as { message: string }).message, /new link/);
      const garbled = await open(server, key.slice(0, -2) + "zz");
      assert.equal(garbled.status, 404);

      // A link not opened within its day opens nothing (made as it would be 25 hours ago).
      const staleKey = newToken(LINK_KEY_PREFIX);
      const made = new Date(Date.now() - 25 * 3600_000).toISOString();
      await createLink(server.kv, "acme", {
        id: "01STALELINK",
        capabilities: ["view"],
        session_seconds: 3600,
        key_hash: tokenHash(staleKey),
        created_at: made,
        expires_at: new Date(Date.parse(made) + LINK_TTL_MS).toISOString(),
        used_at: null,
        session_id: null,
      }, "test");
      const stale = await open(server, staleKey);
      assert.equal(stale.status, 410);
      assert.equal((stale.body.error as { code: string }).code, "portal_link_expired");

      // Too long a session, unknown capabilities: refused, nothing made.
      const tooLong = await server.admin("POST", "/admin/clients/acme/portal-links", {
        expires_in: 8 * 86400,
      });
      assert.equal(tooLong.status, 400);
      assert.equal(tooLong.body.error.code, "invalid_expires_in");
      assert.equal((await server.admin("POST", "/admin/clients/nope/portal-links", {})).status, 404);

      // End all: the open session is refused at once, an unopened link opens nothing.
      const unopened = await server.admin<Issued>("POST", "/admin/clients/acme/portal-links", {});
      const listed = await server.admin<{ sessions: unknown[]; links: unknown[] }>(
        "GET",
        "/admin/clients/acme/portal-sessions",
      );
      assert.equal(listed.body.sessions.length, 1);
      assert.equal(listed.body.links.length, 1);
      const token = first.body.token as string;
      assert.equal((await callRow(server, token, CLIENT_API_OPERATIONS.apiListJobs, "acme")).status, 200);
      const ended = await server.admin<{ ended_sessions: number; voided_links: number }>(
        "DELETE",
        "/admin/clients/acme/portal-sessions",
      );
      assert.deepEqual(ended.body, { ended_sessions: 1, voided_links: 1 });
      const after = await callRow(server, token, CLIENT_API_OPERATIONS.apiListJobs, "acme");
      assert.deepEqual(after, { status: 401, code: "invalid_session" });
      assert.equal((await open(server, unopened.body.path.split("#key=")[1])).status, 410);

      const audit = await server.admin<{ items: { action: string }[] }>(
        "GET",
        "/admin/clients/acme/portal-audit",
      );
      assert.deepEqual(audit.body.items.map((e) => e.action).reverse(), [
        "portal_link.created",
        "portal_link.opened",
        "portal_link.refused",
        "portal_link.created",
        "portal_link.refused",
        "portal_link.created",
        "portal_sessions.ended",
        "portal_link.refused",
      ]);

      // Neither the link's key nor the session's token is in any log line.
      const logs = server.logs.join("\n");
      assert.ok(!logs.includes(key) && !logs.includes(token), "no key or token logged");
      assert.ok(logs.includes("portal.session_open"), "the opening is an audit line");
    },
  );
});

Deno.test("a portal session reaches nothing of another client: every client-API row, route by route", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "beta");
    const booked = await server.post("beta", bookingCreated("b-1", "someone@example.com"));
    await booked.body?.cancel();
    assert.ok(booked.ok);
    const { token } = await session(server, "acme", [...PORTAL_CAPABILITIES]);
    for (const [name, row] of ROWS) {
      const answer = await callRow(server, token, row, "beta");
      assert.deepEqual(answer, { status: 404, code: "unknown_client" }, `${name} with beta's slug`);
    }
    // The operator's rows are not a session's at all.
    for (const [name, row] of Object.entries(ADMIN_OPERATIONS)) {
      assert.equal((await callRow(server, token, row, "acme")).status, 401, `${name} as a portal session`);
    }
  });
});

Deno.test("a portal session does only what its capabilities allow: every row, per capability", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    for (const capability of PORTAL_CAPABILITIES) {
      const { token } = await session(server, "acme", [capability]);
      for (const [name, row] of ROWS) {
        const needs = capabilityOf(row);
        const answer = await callRow(server, token, row, "acme");
        if (needs === "view" || needs === capability) {
          assert.ok(
            answer.status !== 403 && answer.status !== 401,
            `${name} with ${capability}: ${answer.code}`,
          );
        } else {
          assert.deepEqual(
            answer,
            { status: 403, code: "capability_not_held" },
            `${name} with ${capability}`,
          );
        }
      }
    }
  });
});

Deno.test("a portal session's client tokens stay within its capabilities", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const create = async (token: string, scopes: string[]) => {
      const res = await server.fetch("/api/v1/clients/acme/tokens", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "developer", scopes }),
      });
      return { status: res.status, body: await res.json() };
    };
    const tokensOnly = await session(server, "acme", ["tokens"]);
    assert.equal((await create(tokensOnly.token, ["jobs:read", "changes:read"])).status, 201);
    const beyond = await create(tokensOnly.token, ["endpoints:write"]);
    assert.equal(beyond.status, 403);
    assert.equal(beyond.body.error.code, "scope_not_held");
    // endpoints:write also rotates and replays: it needs all three capabilities.
    const partial = await session(server, "acme", ["tokens", "endpoints"]);
    assert.equal((await create(partial.token, ["endpoints:write"])).status, 403);
    const whole = await session(server, "acme", ["tokens", "endpoints", "secrets", "replay"]);
    const made = await create(whole.token, ["endpoints:write", "tokens:write"]);
    assert.equal(made.status, 201);
    assert.match(made.body.token, /^cit_/);
  });
});
