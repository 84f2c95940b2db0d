/**
 * Hostile and broken requests: each gets the right status and a clear message, the server keeps
 * serving, unverified requests leave nothing in KV, and nothing secret leaks into logs or answers.
 */
import assert from "node:assert/strict";
import { signBody } from "../../lib/calcom/signature.ts";
import {
  addClient,
  ADMIN_TOKEN,
  calcomBody,
  fixture,
  FIXTURE_SECRET,
  listAll,
  type TestServer,
  withServer,
} from "../_helpers.ts";

const created = fixture("booking_created").body;
const hex = (n: number) => "a".repeat(n);

interface Case {
  name: string;
  path?: string;
  method?: string;
  body?: BodyInit | (() => BodyInit);
  headers?: Record<string, string> | ((server: TestServer) => Promise<Record<string, string>>);
  status: number | number[];
  /** The error code the answer must carry (every refusal names one a client can act on). */
  code: string;
}

const signed = (body: string | Uint8Array, secret = FIXTURE_SECRET) => async () => ({
  "x-cal-signature-256": await signBody(secret, body),
});

/** Requests that must be refused without storing anything. */
const UNVERIFIED: Case[] = [
  { name: "no signature header", body: created, status: 401, code: "signature_missing" },
  {
    name: "empty signature",
    code: "signature_missing",
    body: created,
    headers: { "x-cal-signature-256": "" },
    status: 401,
  },
  {
    name: "no-secret-provided on a booking",
    body: created,
    headers: { "x-cal-signature-256": "no-secret-provided" },
    status: 401,
    code: "signature_no_secret_provided",
  },
  {
    name: "sha256= prefix",
    body: created,
    headers: { "x-cal-signature-256": `sha256=${hex(64)}` },
    status: 401,
    code: "signature_malformed",
  },
  {
    name: "63 hex characters",
    code: "signature_malformed",
    body: created,
    headers: { "x-cal-signature-256": hex(63) },
    status: 401,
  },
  {
    name: "65 hex characters",
    code: "signature_malformed",
    body: created,
    headers: { "x-cal-signature-256": hex(65) },
    status: 401,
  },
  {
    name: "64 non-hex characters",
    code: "signature_malformed",
    body: created,
    headers: { "x-cal-signature-256": "z".repeat(64) },
    status: 401,
  },
  {
    name: "wrong secret",
    code: "invalid_signature",
    body: created,
    headers: signed(created, "not-the-secret-at-all"),
    status: 401,
  },
  {
    name: "signed for client A, sent to client B",
    path: "/webhooks/calcom/bravo",
    body: created,
    headers: signed(created),
    status: 401,
    code: "invalid_signature",
  },
  {
    name: "signature of another body",
    code: "invalid_signature",
    body: created,
    headers: signed(created + " "),
    status: 401,
  },
  {
    name: "huge signature header",
    code: "signature_malformed",
    body: created,
    headers: { "x-cal-signature-256": hex(16 * 1024) },
    status: [401, 431],
  },
  {
    name: "many junk headers",
    code: "signature_missing",
    body: created,
    headers: Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`x-junk-${i}`, hex(100)])),
    status: 401,
  },
  { name: "empty body, no signature", code: "signature_missing", body: "", status: 401 },
  {
    name: "unknown slug",
    path: "/webhooks/calcom/nobody-here",
    body: created,
    status: 404,
    code: "unknown_client",
  },
  {
    name: "uppercase slug",
    code: "unknown_client",
    path: "/webhooks/calcom/ALPHA",
    body: created,
    status: 404,
  },
  {
    name: "slug path traversal",
    code: "unknown_client",
    path: "/webhooks/calcom/..%2Fadmin",
    body: created,
    status: 404,
  },
  {
    name: "extra path segment",
    code: "not_found",
    path: "/webhooks/calcom/alpha/extra",
    body: created,
    status: 404,
  },
  {
    name: "slug of 64 characters",
    code: "unknown_client",
    path: `/webhooks/calcom/${"a".repeat(64)}`,
    body: created,
    status: 404,
  },
  {
    name: "encoded slash in slug",
    code: "unknown_client",
    path: "/webhooks/calcom/alpha%2F..",
    body: created,
    status: 404,
  },
  {
    name: "dot segments",
    code: "not_found",
    path: "/webhooks/calcom/./alpha/..",
    body: created,
    status: 404,
  },
  { name: "GET", method: "GET", status: 405, code: "method_not_allowed" },
  { name: "PUT", code: "method_not_allowed", method: "PUT", body: created, status: 405 },
  { name: "DELETE", code: "method_not_allowed", method: "DELETE", status: 405 },
  { name: "HEAD", method: "HEAD", status: 405, code: "method_not_allowed" },
  {
    name: "declared body over 1 MiB",
    body: "x".repeat(1024 * 1024 + 10),
    headers: signed("x".repeat(1024 * 1024 + 10)),
    status: 413,
    code: "body_too_large",
  },
  {
    name: "streamed body over 1 MiB without Content-Length",
    body: () =>
      new ReadableStream({
        start(c) {
          for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(64 * 1024).fill(120));
          c.close();
        },
      }),
    status: 413,
    code: "body_too_large",
  },
  { name: "admin without token", path: "/admin/clients", method: "GET", status: 401, code: "unauthorized" },
  {
    name: "admin with wrong token",
    code: "unauthorized",
    path: "/admin/clients",
    method: "GET",
    headers: { authorization: "Bearer nope" },
    status: 401,
  },
  {
    name: "admin token in the query",
    code: "unauthorized",
    path: `/admin/clients?token=${ADMIN_TOKEN}`,
    method: "GET",
    status: 401,
  },
  {
    name: "admin with Basic auth",
    code: "unauthorized",
    path: "/admin/clients",
    method: "GET",
    headers: { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` },
    status: 401,
  },
  { name: "unknown path", path: "/wp-login.php", method: "GET", status: 404, code: "not_found" },
];

const deepJson = "[".repeat(100_000) + "]".repeat(100_000);
const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
const noUid = calcomBody("BOOKING_CREATED", "2026-10-01T00:00:00Z", {
  startTime: "2026-10-02T10:00:00Z",
  attendees: [{ email: "a@b.example" }],
});
const noEmail = calcomBody("BOOKING_CREATED", "2026-10-01T00:00:00Z", {
  uid: "x1",
  startTime: "2026-10-02T10:00:00Z",
  attendees: [{ name: "Nobody" }],
});
const noTimes = calcomBody("BOOKING_CREATED", "2026-10-01T00:00:00Z", {
  uid: "x2",
  attendees: [{ email: "a@b.example" }],
});

/** Signed but unusable: stored as quarantined, answered 422. */
const SIGNED_BAD: Case[] = [
  {
    name: "invalid UTF-8",
    body: invalidUtf8,
    headers: signed(invalidUtf8),
    status: 422,
    code: "unusable_payload",
  },
  { name: "JSON array", code: "payload_template", body: "[1,2,3]", headers: signed("[1,2,3]"), status: 422 },
  {
    name: "literal false from a broken template",
    code: "payload_template",
    body: "false",
    headers: signed("false"),
    status: 422,
  },
  {
    name: "deeply nested JSON",
    code: "unusable_payload",
    body: deepJson,
    headers: signed(deepJson),
    status: 422,
  },
  {
    name: "form-encoded template body",
    code: "payload_template",
    body: "uid=abc&name=Pat",
    headers: async () => ({
      ...(await signed("uid=abc&name=Pat")()),
      "content-type": "application/x-www-form-urlencoded",
    }),
    status: 422,
  },
  {
    name: "truncated JSON",
    code: "payload_template",
    body: created.slice(0, 200),
    headers: signed(created.slice(0, 200)),
    status: 422,
  },
  { name: "missing uid", code: "unusable_payload", body: noUid, headers: signed(noUid), status: 422 },
  {
    name: "missing attendee email",
    code: "unusable_payload",
    body: noEmail,
    headers: signed(noEmail),
    status: 422,
  },
  {
    name: "missing start time",
    code: "unusable_payload",
    body: noTimes,
    headers: signed(noTimes),
    status: 422,
  },
];

async function send(server: TestServer, c: Case): Promise<Response> {
  const headers = typeof c.headers === "function" ? await c.headers(server) : c.headers ?? {};
  return await server.fetch(`${c.path ?? "/webhooks/calcom/alpha"}`, {
    method: c.method ?? "POST",
    headers,
    body: typeof c.body === "function" ? c.body() : c.body,
  });
}

async function kvDump(server: TestServer) {
  return await Array.fromAsync(server.kv.list({ prefix: [] }), (e) => [e.key, e.versionstamp]);
}

async function check(server: TestServer, c: Case): Promise<void> {
  const res = await send(server, c);
  const expected = Array.isArray(c.status) ? c.status : [c.status];
  assert.ok(expected.includes(res.status), `${c.name}: got ${res.status}, want ${expected}`);
  if (c.method === "HEAD" || res.status === 431) return void await res.body?.cancel();
  const answer = await res.json();
  assert.equal(answer.error.code, c.code, c.name);
  assert.equal(typeof answer.error.message, "string", c.name);
  if (res.status === 405) assert.ok(res.headers.get("allow"), c.name);
}

Deno.test(`${UNVERIFIED.length + SIGNED_BAD.length} hostile requests get clear answers`, async (t) => {
  await withServer({}, async (server) => {
    await addClient(server, "alpha");
    await addClient(server, "bravo", "bravo-secret-0123456789");
    const before = await kvDump(server);

    for (const c of UNVERIFIED) await t.step(c.name, () => check(server, c));
    assert.deepEqual(await kvDump(server), before, "unverified requests left something in KV");

    for (const c of SIGNED_BAD) await t.step(`signed: ${c.name}`, () => check(server, c));
    const quarantined = await listAll(server, "/admin/clients/alpha/submissions?status=quarantined");
    assert.equal(quarantined.length, SIGNED_BAD.length, "every signed unusable body is kept for replay");
    assert.ok(quarantined.every((s) => typeof s.error === "string" && s.error.length > 10));

    const health = await server.fetch(`/healthz`);
    assert.equal(health.status, 200, "the server keeps serving");
    await health.body?.cancel();
  });
});

Deno.test("emails with spaces and capitals are normalised, not refused", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "alpha");
    const body = calcomBody("BOOKING_CREATED", "2026-10-01T00:00:00Z", {
      uid: "caps",
      startTime: "2026-10-02T10:00:00Z",
      attendees: [{ email: "  MiXeD.Case@Example.COM\t", name: "Mixed" }],
    });
    const res = await server.post("alpha", body);
    assert.equal(res.status, 202);
    await res.body?.cancel();
    const contacts = await listAll(server, "/admin/clients/alpha/contacts");
    assert.deepEqual(contacts.map((c) => c.email), ["mixed.case@example.com"]);
  });
});

Deno.test("a slow client does not hold up other requests", async () => {
  await withServer({ port: true }, async (server) => {
    await addClient(server, "alpha");
    const bytes = new TextEncoder().encode(created);
    const { promise: healthDone, resolve: markHealthDone } = Promise.withResolvers<void>();
    let sentAfterHealth = false;
    const slow = server.fetch(`/webhooks/calcom/alpha`, {
      method: "POST",
      headers: { "x-cal-signature-256": await signBody(FIXTURE_SECRET, bytes) },
      body: new ReadableStream({
        async pull(c) {
          c.enqueue(bytes.slice(0, 100));
          await healthDone;
          sentAfterHealth = true;
          c.enqueue(bytes.slice(100));
          c.close();
        },
      }),
    });
    const health = await server.fetch(`/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(sentAfterHealth, false, "healthz answered while the slow body was still arriving");
    markHealthDone();
    const res = await slow;
    assert.equal(res.status, 202);
    await res.body?.cancel();
  });
});

Deno.test("no secret, signature, admin token or oneTimePassword in logs or admin answers", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "alpha");
    const { body, signature } = fixture("booking_requested");
    const res = await server.post("alpha", body);
    assert.equal(res.status, 202);
    await res.body?.cancel();
    const otp = "3c9e41d2-7b5a-4f08-9d61-2a84e0b7c5f3";
    assert.ok(body.includes(otp), "the fixture carries a oneTimePassword");
    const answers = JSON.stringify([
      await listAll(server, "/admin/clients/alpha/submissions"),
      await listAll(server, "/admin/clients/alpha/jobs"),
      await listAll(server, "/admin/clients/alpha/contacts"),
      (await server.admin("GET", "/admin/clients")).body,
      (await server.admin("GET", "/admin/clients/alpha")).body,
    ]);
    const logs = server.logs.join("\n");
    for (const secret of [FIXTURE_SECRET, signature, ADMIN_TOKEN, otp]) {
      assert.ok(!answers.includes(secret), `admin answers leak ${secret.slice(0, 6)}…`);
      assert.ok(!logs.includes(secret), `logs leak ${secret.slice(0, 6)}…`);
    }
  });
});

/** Sends raw HTTP/1.1 and returns the status line: lets a test stall in the middle of a body. */
async function rawStatusLine(url: string, head: string, partialBody: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(new TextEncoder().encode(head + "\r\n\r\n" + partialBody));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).split("\r\n")[0];
  } finally {
    conn.close();
  }
}

Deno.test("a body that stops arriving is answered 408 and leaves nothing behind", async () => {
  await withServer({ port: true, env: { BODY_TIMEOUT_MS: "300" } }, async (server) => {
    await addClient(server, "alpha");
    const signature = await signBody(FIXTURE_SECRET, created);
    const start = `POST /webhooks/calcom/alpha HTTP/1.1\r\nHost: x\r\nX-Cal-Signature-256: ${signature}`;
    const declared = await rawStatusLine(
      server.url,
      `${start}\r\nContent-Length: ${new TextEncoder().encode(created).length}`,
      created.slice(0, 100),
    );
    assert.equal(declared, "HTTP/1.1 408 Request Timeout");
    const chunked = await rawStatusLine(
      server.url,
      `${start}\r\nTransfer-Encoding: chunked`,
      `64\r\n${created.slice(0, 100)}\r\n`,
    );
    assert.equal(chunked, "HTTP/1.1 408 Request Timeout");
    assert.deepEqual(await listAll(server, "/admin/clients/alpha/submissions"), []);
  });
});
