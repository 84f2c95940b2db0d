/**
 * What production throws at the service, through the real HTTP server: a client deleted while its
 * deliveries are in flight, one oversized body among hundreds of valid ones, a flood of unsigned
 * bodies, hostile Host headers, garbage admin ids and cursors, weak secrets and odd email spellings.
 */
import assert from "node:assert/strict";
import type { Operations } from "../../lib/admin/operations.ts";
import {
  addClient,
  bookingCreated,
  type ClientView,
  type ContactView,
  type ErrorAnswer,
  FIXTURE_SECRET,
  listAll,
  type PageAnswer,
  waitSettled,
  withServer,
} from "../_helpers.ts";

type PutAnswer = Awaited<ReturnType<Operations["putClient"]>>;

const at = (i: number) => new Date(Date.UTC(2026, 9, 1) + i * 1000).toISOString();

Deno.test("a client deleted while its deliveries are in flight leaves nothing behind; re-created, it starts empty", async () => {
  await withServer({ port: true }, async (server) => {
    await addClient(server, "acme");
    const bodies = Array.from(
      { length: 300 },
      (_, i) => bookingCreated(`race-${i}`, `p${i % 30}@example.com`, at(i)),
    );
    const statuses: number[] = [];
    let deleted: Promise<number> | null = null;
    await Promise.all(bodies.map(async (body, i) => {
      // Stagger the sends so some land before, during and after the delete.
      await new Promise((r) => setTimeout(r, i * 3));
      // Once a third has been sent (not answered: on a slow machine answers can lag the whole
      // stream, and the delete then came after every delivery was stored).
      if (i === 100) deleted = server.admin("DELETE", "/admin/clients/acme").then((r) => r.status);
      const res = await server.post("acme", body);
      await res.body?.cancel();
      statuses.push(res.status);
    }));
    assert.equal(await deleted, 200);
    assert.ok(statuses.every((s) => s === 202 || s === 404), `only 202 or 404: ${[...new Set(statuses)]}`);
    assert.ok(
      statuses.includes(202) && statuses.includes(404),
      `the delete happened mid-stream: ${statuses}`,
    );
    await server.service.idle();
    await server.service.sweeper.sweepOnce();

    assert.equal((await server.admin("PUT", "/admin/clients/acme", { secret: FIXTURE_SECRET })).status, 201);
    assert.deepEqual(await listAll(server, "/admin/clients/acme/submissions"), []);
    assert.deepEqual(await listAll(server, "/admin/clients/acme/jobs"), []);
    assert.deepEqual(await listAll(server, "/admin/clients/acme/contacts"), []);
    // Nothing of the old client anywhere in KV but the new client's own records.
    const left = await Array.fromAsync(server.kv.list({ prefix: [] }), (e) => e.key);
    const old = left.filter((k) =>
      k.includes("acme") && !["clients", "client_secrets", "client_generations"].includes(String(k[0]))
    );
    assert.deepEqual(old, []);
  });
});

Deno.test("one oversized body among 800 valid concurrent deliveries fails nobody: 801 × 202", async () => {
  await withServer({ port: true }, async (server) => {
    await addClient(server, "acme");
    const long = "x".repeat(3500);
    const fat = bookingCreated("fat", "fat@example.com", at(0), {
      title: long,
      attendees: [{ email: "fat@example.com", name: long, timeZone: "UTC" }],
      description: "y".repeat(50_000),
    });
    assert.ok(fat.length > 55_000);
    const bodies = Array.from(
      { length: 800 },
      (_, i) => bookingCreated(`ok-${i}`, `p${i}@example.com`, at(i + 1)),
    );
    bodies.splice(400, 0, fat);
    const statuses = await Promise.all(bodies.map(async (body) => {
      const res = await server.post("acme", body);
      await res.body?.cancel();
      return res.status;
    }));
    assert.deepEqual(statuses.filter((s) => s !== 202), []);
    const settled = await waitSettled(server, "acme", 60_000);
    assert.equal(settled.length, 801);
    assert.ok(settled.every((s) => s.status === "processed"));
  });
});

Deno.test("a flood of unsigned large bodies is refused without taking memory, while signed webhooks keep being accepted", async () => {
  await withServer({ port: true, env: { BODY_BUDGET_MB: "8" } }, async (server) => {
    await addClient(server, "acme");
    const big = "z".repeat(1024 * 1024 - 100);
    const flood = Array.from({ length: 60 }, async () => {
      try {
        const res = await server.fetch("/webhooks/calcom/acme", {
          method: "POST",
          headers: { "x-cal-signature-256": "0".repeat(64) },
          body: big,
        });
        await res.body?.cancel();
        return res.status;
      } catch {
        return 0; // The server may answer 503 before the client finished sending, and close.
      }
    });
    const signed = Array.from({ length: 40 }, async (_, i) => {
      const res = await server.post("acme", bookingCreated(`during-${i}`, `d${i}@example.com`, at(i)));
      await res.body?.cancel();
      return res.status;
    });
    const floodStatuses = await Promise.all(flood);
    assert.deepEqual(
      await Promise.all(signed),
      Array(40).fill(202),
      "webhooks are admitted during the flood",
    );
    assert.ok(
      floodStatuses.every((s) => s === 401 || s === 503 || s === 0),
      String([...new Set(floodStatuses)]),
    );
    assert.ok(floodStatuses.includes(503), "past the budget, large bodies are refused");
    const health = await server.fetch("/healthz");
    assert.equal(health.status, 200);
    await health.body?.cancel();
  });
});

/** Sends raw HTTP/1.1 (any Host header) and returns the status line and body. */
async function raw(url: string, request: string): Promise<{ status: string; body: string }> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buf = new Uint8Array(8192);
    while (!text.includes("\r\n\r\n") || !/\}\s*$/.test(text)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return { status: text.split("\r\n")[0], body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}

Deno.test("a malformed Host or one with a path gets a JSON 400 and a log line, and never re-routes", async () => {
  await withServer({ port: true }, async (server) => {
    for (const host of ["x:99999", "[::1", "x/admin/clients?", "a b"]) {
      const answer = await raw(
        server.url,
        `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(answer.status, "HTTP/1.1 400 Bad Request", host);
      assert.equal(JSON.parse(answer.body).error.code, "invalid_host", host);
    }
    const lines = server.logs.map((l) => JSON.parse(l)).filter((l) =>
      l.msg === "request" && l.status === 400
    );
    assert.equal(lines.length, 4, "each refused request logged");
    assert.ok(lines.every((l) => l.path === null && typeof l.request_id === "string"));
  });
});

Deno.test("admin ids, booking uids and cursors are validated: 400 with a message, never a 500", async () => {
  await withServer({ port: true }, async (server) => {
    await addClient(server, "acme");
    const long = "a".repeat(3000);
    const cases: [string, string][] = [
      [`/admin/clients/acme/jobs/${long}`, "invalid_job_id"],
      [`/admin/clients/acme/contacts/${long}`, "invalid_contact_id"],
      [`/admin/clients/acme/submissions/${long}`, "invalid_submission_id"],
      [`/admin/clients/acme/jobs?calcom_event_id=${long}`, "invalid_calcom_event_id"],
      ["/admin/clients/acme/jobs?cursor=abc", "invalid_cursor"],
      ["/admin/clients/acme/submissions?cursor=%%%", "invalid_cursor"],
      ["/admin/clients/acme/contacts?cursor=!!!", "invalid_cursor"],
    ];
    for (const [path, code] of cases) {
      const res = await server.admin<ErrorAnswer>("GET", path);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, code, path);
    }
    const secretId = `${"b".repeat(3000)}`;
    const res = await server.admin<ErrorAnswer>("DELETE", `/admin/clients/acme/secrets/${secretId}`);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "invalid_secret_id");
  });
});

Deno.test("one secret rule for create and rotation: any non-empty secret, a short one flagged weak", async () => {
  await withServer({}, async (server) => {
    const created = await server.admin<PutAnswer>("PUT", "/admin/clients/acme", { secret: "short" });
    assert.equal(created.status, 201);
    assert.equal(created.body.secret?.weak, true);
    const added = await server.admin<{ secret: { id: string; weak: boolean } }>(
      "POST",
      "/admin/clients/acme/secrets",
      { secret: "x" },
    );
    assert.equal(added.status, 201);
    assert.equal(added.body.secret.weak, true);
    const strong = await server.admin<{ secret: { weak: boolean } }>(
      "POST",
      "/admin/clients/acme/secrets",
      {},
    );
    assert.equal(strong.body.secret.weak, false, "a generated secret is strong");
    for (const bad of ["", "   ", 42, "s".repeat(501)]) {
      for (
        const [method, path] of [["PUT", "/admin/clients/acme"], ["POST", "/admin/clients/acme/secrets"]]
      ) {
        const res = await server.admin<ErrorAnswer>(method, path, { secret: bad });
        assert.equal(res.status, 400, `${method} ${JSON.stringify(bad).slice(0, 20)}`);
        assert.equal(res.body.error.code, "invalid_secret");
      }
    }
    const shown = await server.admin<ClientView>("GET", "/admin/clients/acme");
    assert.deepEqual(shown.body.secrets.map((s) => s.weak), [true, true, false]);
    // A weak secret still verifies: Cal.com lets its users type any.
    const res = await server.post("acme", bookingCreated("weak", "w@example.com"), "short");
    assert.equal(res.status, 202);
    await res.body?.cancel();
  });
});

Deno.test("one person, one Contact: full-width, zero-width and trailing-dot spellings of an email are the same", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const spellings = [
      "Pat@Example.com",
      "ｐａｔ＠ｅｘａｍｐｌｅ．ｃｏｍ",
      "pat\u200b@example.com",
      "pat@example.com.",
    ];
    for (const [i, email] of spellings.entries()) {
      const res = await server.post("acme", bookingCreated(`spell-${i}`, email, at(i)));
      assert.equal(res.status, 202, email);
      await res.body?.cancel();
    }
    const contacts = await server.admin<PageAnswer<ContactView>>("GET", "/admin/clients/acme/contacts");
    assert.deepEqual(contacts.body.items.map((c) => c.email), ["pat@example.com"]);
    assert.equal(
      contacts.body.items[0].email_as_sent,
      "pat@example.com.",
      "the newest spelling, for display",
    );
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.equal(jobs.length, 4);
    assert.ok(jobs.every((j) => j.contact_id === contacts.body.items[0].id));
  });
});

Deno.test("bodies that could never be processed are refused at ingest with 422, never accepted and then failed", async () => {
  await withServer({ port: true }, async (server) => {
    await addClient(server, "acme");
    const deep = JSON.stringify({
      triggerEvent: "BOOKING_CREATED",
      createdAt: at(0),
      payload: JSON.parse("[".repeat(10_000) + "]".repeat(10_000)),
    });
    const longUid = bookingCreated("u".repeat(3000), "p@example.com", at(1));
    const longEmail = bookingCreated("long-email", `${"e".repeat(3000)}@example.com`, at(2));
    const hugeArray = bookingCreated("huge", "p@example.com", at(3), { tags: Array(6000).fill(1) });
    for (
      const [name, body, reason] of [
        ["10,000 levels deep", deep, /nests deeper than 32 levels/],
        ["a 3,000-character uid", longUid, /"uid" is longer than 256 characters/],
        ["only a 3,000-character email", longEmail, /no attendee has a valid email/],
        ["an array of 6,000 items", hugeArray, /array of 6000 items/],
      ] as const
    ) {
      const res = await server.post("acme", body);
      const answer = await res.json();
      assert.equal(res.status, 422, name);
      assert.equal(answer.error.code, "unusable_payload", name);
      assert.match(answer.error.message, reason, name);
    }
    const stored = await listAll(server, "/admin/clients/acme/submissions");
    assert.equal(stored.length, 4);
    assert.ok(stored.every((s) => s.status === "quarantined"), "kept for replay, never pending");
  });
});

Deno.test("a 500-attendee booking and a 500-seat event: one Job with 500 attendees and 500 Contacts each", async () => {
  await withServer({ port: true, mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const people = Array.from({ length: 500 }, (_, i) => ({
      email: `guest${i}@example.com`,
      name: `Guest Number ${i}`,
      timeZone: "America/Denver",
    }));
    const big = bookingCreated("big-party", people[0].email, at(0), { attendees: people });
    const res = await server.post("acme", big);
    assert.equal(res.status, 202);
    await res.body?.cancel();
    const [party] = await listAll(server, "/admin/clients/acme/jobs?calcom_event_id=big-party");
    assert.equal(party.attendees.length, 500);
    assert.ok(party.attendees.every((a) => a.contact_id !== null));
    assert.equal((await listAll(server, "/admin/clients/acme/contacts")).length, 500);

    await addClient(server, "seats");
    const seat = (i: number) =>
      bookingCreated("seated", `seat${i}@example.com`, at(i), {
        seatsPerTimeSlot: 500,
        attendees: [{ email: `seat${i}@example.com`, name: `Seat ${i}`, timeZone: "UTC" }],
      });
    for (let i = 0; i < 500; i += 25) {
      const statuses = await Promise.all(Array.from({ length: 25 }, async (_, k) => {
        const r = await server.post("seats", seat(i + k));
        await r.body?.cancel();
        return r.status;
      }));
      assert.deepEqual(statuses, Array(25).fill(202));
    }
    const settled = await waitSettled(server, "seats", 60_000);
    assert.ok(settled.every((s) => s.status === "processed"), JSON.stringify(settled.find((s) => s.error)));
    const [seated] = await listAll(server, "/admin/clients/seats/jobs?calcom_event_id=seated");
    assert.equal(seated.attendees.length, 500);
    assert.equal(seated.events.length, 500);
    assert.equal((await listAll(server, "/admin/clients/seats/contacts")).length, 500);
    assert.equal((await listAll(server, "/admin/clients/seats/jobs")).length, 1, "one Job in listings too");
  });
});

Deno.test("admin listing cursors: a made-up one that KV would decode, or one of another listing or client, is 400", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "beta");
    for (const slug of ["acme", "beta"]) {
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (await server.post(slug, bookingCreated(`${slug}-${i}`, `p${i}@example.org`))).status,
          202,
        );
      }
    }
    const first = await server.admin<{ items: unknown[]; cursor: string }>(
      "GET",
      "/admin/clients/acme/jobs?limit=1",
    );
    assert.equal(first.status, 200);
    assert.ok(first.body.cursor);
    const next = await server.admin<{ items: unknown[] }>(
      "GET",
      `/admin/clients/acme/jobs?limit=1&cursor=${first.body.cursor}`,
    );
    assert.equal(next.status, 200, "a cursor the listing gave out continues it");
    assert.equal(next.body.items.length, 1);
    const bare = first.body.cursor.slice(0, first.body.cursor.lastIndexOf("."));
    for (
      const path of [
        "/admin/clients/acme/jobs?cursor=AAAA",
        "/admin/clients/acme/submissions?cursor=AQID",
        `/admin/clients/acme/jobs?cursor=${bare}`,
        `/admin/clients/beta/jobs?cursor=${first.body.cursor}`,
        `/admin/clients/acme/contacts?cursor=${first.body.cursor}`,
      ]
    ) {
      const res = await server.admin<ErrorAnswer>("GET", path);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, "invalid_cursor", path);
    }
  });
});
