/**
 * The client API (`/api/v1/clients/{slug}/…`) with scoped client tokens: what each token may read,
 * every way a token is refused, the change feed's cursors (pages, empty pages, garbled, another
 * client's, expired), "full read, then follow", and the long-poll.
 */
import assert from "node:assert/strict";
import { AccessControl } from "../../lib/admin/access.ts";
import { tokenHash } from "../../lib/domain/tokens.ts";
import { HttpError } from "../../lib/errors.ts";
import { backupLines } from "../../lib/store/backup.ts";
import { trimLog } from "../../lib/store/changes.ts";
import { createToken } from "../../lib/store/tokens.ts";
import {
  addClient,
  ADMIN_TOKEN,
  bookingCreated,
  type ErrorAnswer,
  type FeedEntry,
  type JobView,
  type TestServer,
  waitSettled,
  withServer,
} from "../_helpers.ts";

interface IssuedToken {
  id: string;
  name: string;
  scopes: string[];
  token: string;
  created_at: string;
  expires_at: string | null;
}
interface FeedPage {
  items: FeedEntry[];
  next_cursor: string;
  has_more: boolean;
}

async function issue(
  server: TestServer,
  slug: string,
  scopes: string[],
  name = "dispatch",
): Promise<IssuedToken> {
  const res = await server.admin<IssuedToken>("POST", `/admin/clients/${slug}/tokens`, { name, scopes });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

/** A client API call with `token`; the status and JSON answer. */
async function call<T = ErrorAnswer>(server: TestServer, token: string | null, path: string) {
  const res = await server.fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json() as T };
}

async function book(server: TestServer, slug: string, uid: string) {
  const res = await server.post(slug, bookingCreated(uid, `${uid}@example.com`));
  assert.equal(res.status, 202);
  await res.body?.cancel();
}

Deno.test("client tokens: shown once, listed without their value, scoped to one client, revoked at once, never logged", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "other");
    await book(server, "acme", "t-1");
    const reader = await issue(server, "acme", ["jobs:read", "contacts:read"]);
    assert.match(reader.token, /^cit_[0-9A-Za-z]{36}$/);
    assert.deepEqual(reader.scopes, ["jobs:read", "contacts:read"]);
    assert.equal(reader.expires_at, null);

    const listed = await server.admin<{ items: Record<string, unknown>[] }>(
      "GET",
      "/admin/clients/acme/tokens",
    );
    assert.deepEqual(listed.body.items.map((t) => t.id), [reader.id]);
    assert.ok(!JSON.stringify(listed.body).includes(reader.token), "the list never shows the token");
    assert.ok(!("token_hash" in listed.body.items[0]));

    const jobs = await call<{ items: JobView[]; changes_cursor: string }>(
      server,
      reader.token,
      "/api/v1/clients/acme/jobs",
    );
    assert.equal(jobs.status, 200);
    assert.equal(jobs.body.items[0].calcom_event_id, "t-1");
    assert.equal(typeof jobs.body.changes_cursor, "string");
    const one = await call<JobView>(
      server,
      reader.token,
      `/api/v1/clients/acme/jobs/${jobs.body.items[0].id}`,
    );
    assert.equal(one.body.id, jobs.body.items[0].id);
    assert.equal((await call(server, reader.token, "/api/v1/clients/acme/contacts")).status, 200);

    // A scope it does not hold; another client; no token; the admin token (which may do anything).
    const feed = await call(server, reader.token, "/api/v1/clients/acme/changes");
    assert.equal(feed.status, 403);
    assert.equal(feed.body.error.code, "insufficient_scope");
    const elsewhere = await call(server, reader.token, "/api/v1/clients/other/jobs");
    assert.equal(elsewhere.status, 404);
    assert.equal(elsewhere.body.error.code, "unknown_client");
    assert.equal((await call(server, null, "/api/v1/clients/acme/jobs")).status, 401);
    assert.equal((await call(server, ADMIN_TOKEN, "/api/v1/clients/acme/changes")).status, 200);
    const theirs = await issue(server, "other", ["jobs:read"]);
    assert.equal((await call(server, theirs.token, "/api/v1/clients/acme/jobs")).status, 404);
    // A client token is no admin token.
    assert.equal((await call(server, reader.token, "/admin/clients/acme")).status, 401);

    // A typo in the token; one that never existed; a revoked one.
    const typo = reader.token.slice(0, -1) + (reader.token.endsWith("a") ? "b" : "a");
    const badChecksum = await call(server, typo, "/api/v1/clients/acme/jobs");
    assert.equal(badChecksum.status, 401);
    assert.equal(badChecksum.body.error.code, "invalid_token");
    const revoked = await server.admin("DELETE", `/admin/clients/acme/tokens/${reader.id}`);
    assert.equal(revoked.status, 200);
    const after = await call(server, reader.token, "/api/v1/clients/acme/jobs");
    assert.equal(after.status, 401);
    assert.equal(after.body.error.code, "invalid_token");
    assert.equal((await server.admin("DELETE", `/admin/clients/acme/tokens/${reader.id}`)).status, 404);

    const tokenLines = server.logs.filter((l) =>
      l.includes('"token.create"') || l.includes('"token.revoke"')
    );
    assert.equal(tokenLines.length, 3, "audited: two created, one revoked");
    for (const t of [reader.token, theirs.token, typo]) {
      assert.ok(!server.logs.some((l) => l.includes(t)), "no token in any log line");
    }
    // A backup holds only the hash: restored elsewhere, no token can be read out of it.
    const backup = (await Array.fromAsync(backupLines(server.kv, "now"))).join("\n");
    assert.ok(!backup.includes(theirs.token));
    assert.ok(backup.includes(tokenHash(theirs.token)));
  });
});

Deno.test("client tokens: bad input is refused with a reason; an expired token is refused", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const bad = async (body: unknown) =>
      (await server.admin("POST", "/admin/clients/acme/tokens", body)).body;
    assert.equal((await bad({ scopes: ["jobs:read"] })).error.code, "invalid_name");
    assert.equal((await bad({ name: "x", scopes: ["jobs:delete"] })).error.code, "invalid_scopes");
    assert.equal((await bad({ name: "x", scopes: [] })).error.code, "invalid_scopes");
    assert.equal(
      (await bad({ name: "x", scopes: ["jobs:read"], expires_at: "2020-01-01T00:00:00Z" })).error.code,
      "invalid_expires_at",
    );
    assert.equal(
      (await server.admin("POST", "/admin/clients/nobody/tokens", { name: "x", scopes: ["jobs:read"] }))
        .status,
      404,
    );

    const token = "cit_" + "A".repeat(30);
    const withSum = (await import("../../lib/domain/tokens.ts")).newToken();
    // Stored as if issued a year ago with a day's life (the API never accepts a past expiry).
    await createToken(server.kv, "acme", {
      id: "OLD",
      name: "old",
      scopes: ["jobs:read"],
      token_hash: tokenHash(withSum),
      created_at: "2025-01-01T00:00:00.000Z",
      expires_at: "2025-01-02T00:00:00.000Z",
      last_used_at: null,
    });
    const expired = await call(server, withSum, "/api/v1/clients/acme/jobs");
    assert.equal(expired.status, 401);
    assert.equal(expired.body.error.code, "token_expired");
    assert.equal((await call(server, token, "/api/v1/clients/acme/jobs")).body.error.code, "invalid_token");
  });
});

Deno.test("a token with a wrong checksum is refused without reading KV", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let reads = 0;
    const counted = new Proxy(kv, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "get" || prop === "getMany" || prop === "list") reads++;
          return value.apply(target, args);
        };
      },
    });
    const access = new AccessControl(counted, "admin-secret-token");
    const refusal = await access.client("Bearer cit_" + "x".repeat(36), "acme", "jobs:read").catch((e) => e);
    assert.ok(refusal instanceof HttpError);
    assert.equal(refusal.code, "invalid_token");
    assert.equal(reads, 0, "refused on its checksum alone");
    // A well-formed token is looked up (and, unknown, refused the same way).
    const { newToken } = await import("../../lib/domain/tokens.ts");
    const unknown = await access.client(`Bearer ${newToken()}`, "acme", "jobs:read").catch((e) => e);
    assert.equal(unknown.code, "invalid_token");
    assert.ok(reads > 0);
  } finally {
    kv.close();
  }
});

Deno.test("the change feed: pages in commit order, a cursor on every page, refused cursors, 410 past retention, full read then follow", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "other");
    const reader = (await issue(server, "acme", ["changes:read", "jobs:read"])).token;
    const feed = (query = "") =>
      call<FeedPage & ErrorAnswer>(server, reader, `/api/v1/clients/acme/changes${query}`);

    const empty = await feed();
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body.items, []);
    assert.equal(empty.body.has_more, false);
    assert.equal(typeof empty.body.next_cursor, "string", "a cursor to keep even on an empty page");

    for (const uid of ["f-1", "f-2", "f-3"]) {
      await book(server, "acme", uid);
      await new Promise((r) => setTimeout(r, 5)); // each commit at its own millisecond (retention below)
    }
    const fromStart = await feed(`?cursor=${encodeURIComponent(empty.body.next_cursor)}`);
    assert.deepEqual(fromStart.body.items.map((e) => e.data.job?.calcom_event_id), ["f-1", "f-2", "f-3"]);
    assert.ok(fromStart.body.items.every((e) => e.type === "job.created" && e.job_version === 1));

    // One at a time: the same three, and then an empty page that still hands out a cursor.
    const seen: string[] = [];
    let cursor = "";
    for (let i = 0; i < 4; i++) {
      const page = await feed(`?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      seen.push(...page.body.items.map((e) => e.id));
      assert.equal(page.body.has_more, i < 2);
      cursor = page.body.next_cursor;
    }
    assert.deepEqual(seen, fromStart.body.items.map((e) => e.id));

    for (
      const [query, code] of [
        ["?cursor=AAAA", "invalid_cursor"],
        ["?cursor=AQID", "invalid_cursor"],
        ["?limit=0", "invalid_limit"],
        ["?limit=501", "invalid_limit"],
        ["?wait=31", "invalid_wait"],
      ]
    ) {
      const refused = await call(server, reader, `/api/v1/clients/acme/changes${query}`);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error.code, code, query);
    }
    // A cursor of another client's feed.
    const theirs = await call<FeedPage>(server, ADMIN_TOKEN, "/api/v1/clients/other/changes");
    const crossed = await feed(`?cursor=${encodeURIComponent(theirs.body.next_cursor)}`);
    assert.equal(crossed.status, 400);
    assert.equal(crossed.body.error.code, "invalid_cursor");

    // Full read, then follow: what changes after the listing comes from its changes_cursor.
    const listing = await call<{ changes_cursor: string }>(server, reader, "/api/v1/clients/acme/jobs");
    await book(server, "acme", "f-4");
    const followed = await feed(`?cursor=${encodeURIComponent(listing.body.changes_cursor)}`);
    assert.deepEqual(followed.body.items.map((e) => e.data.job?.calcom_event_id), ["f-4"]);

    // Retention drops the first commit: a cursor from before it answers 410 with what to do; one at
    // its end lost nothing and goes on; a read without a cursor starts at the oldest kept.
    const afterFirst = (await feed("?limit=1")).body.next_cursor;
    await trimLog(server.kv, "acme", fromStart.body.items[1].occurred_at, new Date().toISOString());
    const gone = await feed(`?cursor=${encodeURIComponent(empty.body.next_cursor)}`);
    assert.equal(gone.status, 410);
    assert.equal(gone.body.error.code, "cursor_expired");
    assert.match(gone.body.error.message, /Read every Job again/);
    const goesOn = await feed(`?cursor=${encodeURIComponent(afterFirst)}`);
    assert.equal(goesOn.status, 200);
    assert.deepEqual(goesOn.body.items.map((e) => e.data.job?.calcom_event_id), ["f-2", "f-3", "f-4"]);
    const fresh = await feed();
    assert.equal(fresh.status, 200);
    assert.ok(fresh.body.items.length >= 1 && fresh.body.items.length < 4);
  });
});

Deno.test("the long-poll answers as soon as a change is committed, and lets go when the caller leaves", async () => {
  await withServer({ mode: "inline", port: true }, async (server) => {
    await addClient(server, "acme");
    const start = await call<FeedPage>(server, ADMIN_TOKEN, "/api/v1/clients/acme/changes");
    const cursor = encodeURIComponent(start.body.next_cursor);
    const held = fetch(`${server.url}/api/v1/clients/acme/changes?cursor=${cursor}&wait=20`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    await new Promise((r) => setTimeout(r, 300));
    const committed = performance.now();
    await book(server, "acme", "lp-1");
    const res = await held;
    const answeredAfter = performance.now() - committed;
    const page: FeedPage = await res.json();
    assert.deepEqual(page.items.map((e) => e.data.job?.calcom_event_id), ["lp-1"]);
    // Woken by the commit, not by the wait running out (how soon is the bench's to measure).
    assert.ok(answeredAfter < 15_000, `answered ${Math.round(answeredAfter)} ms after the commit`);

    // A caller that goes away: the request ends at once (its watch is released; the test's
    // resource sanitizer would flag a leaked one).
    const leaving = new AbortController();
    const next = encodeURIComponent(page.next_cursor);
    const abandoned = server.service.handler(
      new Request(`http://x/api/v1/clients/acme/changes?cursor=${next}&wait=20`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        signal: leaving.signal,
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const left = performance.now();
    leaving.abort();
    const answer = await abandoned;
    await answer.body?.cancel();
    assert.ok(performance.now() - left < 15_000, "released when the caller left, not after 20 s");
  });
});

Deno.test("an erased person leaves a job.erased entry and no trace in the feed", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await book(server, "acme", "er-1");
    await waitSettled(server, "acme");
    const contacts = await server.admin<{ items: { id: string }[] }>("GET", "/admin/clients/acme/contacts");
    const erased = await server.admin(
      "DELETE",
      `/admin/clients/acme/contacts/${contacts.body.items[0].id}?erase=true`,
    );
    assert.equal(erased.status, 200);
    const feed = await call<FeedPage>(server, ADMIN_TOKEN, "/api/v1/clients/acme/changes");
    assert.deepEqual(feed.body.items.map((e) => [e.type, e.job_version]), [["job.created", 1], [
      "job.erased",
      2,
    ]]);
    assert.ok(!JSON.stringify(feed.body).includes("er-1@example.com"), "no trace of the person in any entry");
  });
});

Deno.test("a token with tokens:write hands out tokens within its own scopes and expiry, lists and revokes them", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "other");
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const res = await server.admin<IssuedToken>("POST", "/admin/clients/acme/tokens", {
      name: "portal",
      scopes: ["tokens:write", "jobs:read"],
      expires_at: expires,
    });
    assert.equal(res.status, 201);
    const parent = res.body.token;
    const send = async (method: string, path: string, body?: unknown) => {
      const r = await server.fetch(path, {
        method,
        headers: { authorization: `Bearer ${parent}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    };
    const child = await send("POST", "/api/v1/clients/acme/tokens", {
      name: "developer",
      scopes: ["jobs:read"],
    });
    assert.equal(child.status, 201, JSON.stringify(child.body));
    assert.equal(child.body.expires_at, expires, "it expires when its maker does, at the latest");
    assert.equal((await call(server, child.body.token, "/api/v1/clients/acme/jobs")).status, 200);
    assert.equal((await call(server, child.body.token, "/api/v1/clients/acme/tokens")).status, 403);

    const wider = await send("POST", "/api/v1/clients/acme/tokens", {
      name: "x",
      scopes: ["endpoints:write"],
    });
    assert.equal(wider.status, 403);
    assert.equal(wider.body.error.code, "scope_not_held");
    const later = await send("POST", "/api/v1/clients/acme/tokens", {
      name: "x",
      scopes: ["jobs:read"],
      expires_at: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    assert.equal(later.status, 403);
    assert.equal(later.body.error.code, "expiry_beyond_own");
    assert.equal(
      (await send("GET", "/api/v1/clients/other/tokens")).status,
      404,
      "another client's: not there",
    );

    const listed = await send("GET", "/api/v1/clients/acme/tokens");
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.items.map((t: { name: string }) => t.name).sort(), ["developer", "portal"]);
    assert.ok(!JSON.stringify(listed.body).includes("cit_"), "never a token's value");
    assert.equal((await send("DELETE", `/api/v1/clients/acme/tokens/${child.body.id}`)).status, 200);
    assert.equal(
      (await call(server, child.body.token, "/api/v1/clients/acme/jobs")).status,
      401,
      "revoked at once",
    );
    assert.ok(server.logs.some((l) => l.includes('"token.create"') && l.includes('"by_token"')));
  });
});

Deno.test("Jobs by start time: start_from ≤ start < start_before, with the other filters; a bad time is refused", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const token = (await issue(server, "acme", ["jobs:read"])).token;
    for (
      const [uid, start] of [["d-1", "2026-10-14T16:00:00Z"], ["d-2", "2026-10-20T09:00:00Z"], [
        "d-3",
        "2026-11-01T00:00:00Z",
      ]]
    ) {
      const res = await server.post(
        "acme",
        bookingCreated(uid, `${uid}@example.com`, "2026-10-02T21:14:07.352Z", {
          startTime: start,
          endTime: start,
        }),
      );
      assert.equal(res.status, 202);
      await res.body?.cancel();
    }
    const uids = async (query: string) =>
      (await call<{ items: { calcom_event_id: string }[] }>(
        server,
        token,
        `/api/v1/clients/acme/jobs?${query}`,
      ))
        .body.items.map((j) => j.calcom_event_id).sort();
    assert.deepEqual(await uids("start_from=2026-10-15T00:00:00Z&start_before=2026-11-01T00:00:00Z"), [
      "d-2",
    ]);
    assert.deepEqual(await uids("start_from=2026-10-20T09:00:00Z"), ["d-2", "d-3"], "from is inclusive");
    assert.deepEqual(await uids("start_before=2026-10-20T09:00:00Z"), ["d-1"], "before is exclusive");
    assert.deepEqual(await uids("start_before=2026-10-21T00:00:00Z&email=d-2@example.com"), ["d-2"]);
    const bad = await call(server, token, "/api/v1/clients/acme/jobs?start_from=yesterday");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_time");
  });
});
