/**
 * The OpenAPI documents are the contract: served as generated, valid OpenAPI 3.1 (checked by a
 * validator nobody here wrote), one path per table row with its scope, one webhooks entry per
 * change type; every route's real answers, 2xx and errors, validate against them (the test server
 * checks each one, `tests/_contract.ts`); real deliveries validate against `webhooks`; the types a
 * consumer generates with openapi-typescript are the committed ones the examples compile against.
 */
import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { receiver } from "../../docs/examples/receive_jobs.ts";
import { clientApiDocument } from "../../lib/api/openapi.ts";
import { CLIENT_API_OPERATIONS } from "../../lib/api/table.ts";
import { ADMIN_OPERATIONS, OPERATION_LIST } from "../../lib/admin/table.ts";
import { adminApiDocument } from "../../lib/admin/operations.ts";
import { CLIENT_TYPES_FILE, servedClientDocument, typesOf } from "../../lib/cli/contract.ts";
import { CHANGE_TYPES } from "../../lib/domain/changes.ts";
import { contract } from "../_contract.ts";
import { apiBooking, FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";
import { TOKEN_SCOPES } from "../../lib/domain/tokens.ts";
import {
  ADMIN_TOKEN,
  bookingCreated,
  fixture,
  FIXTURE_NAMES,
  FIXTURE_SECRET,
  found,
  type TestServer,
  waitFor,
  withServer,
} from "../_helpers.ts";

type Json = Record<string, unknown>;

async function served(server: TestServer, path: string, token?: string) {
  const res = await server.fetch(path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, type: res.headers.get("content-type"), body: await res.json() };
}

Deno.test("both documents are served as generated and are valid OpenAPI 3.1", async () => {
  await withServer({}, async (server) => {
    const client = await served(server, "/api/v1/openapi.json");
    assert.equal(client.status, 200, "the client API's document needs no token");
    assert.match(String(client.type), /^application\/json/);
    assert.deepEqual(client.body, JSON.parse(JSON.stringify(clientApiDocument(30))));
    assert.equal(
      (await served(server, "/admin/openapi.json")).status,
      401,
      "the operator's needs the admin token",
    );
    const admin = await served(server, "/admin/openapi.json", ADMIN_TOKEN);
    assert.equal(admin.status, 200);
    assert.deepEqual(admin.body, JSON.parse(JSON.stringify(adminApiDocument())));
    for (const doc of [client.body, admin.body]) {
      const validator = new Validator();
      const result = await validator.validate(doc);
      assert.equal(validator.version, "3.1");
      assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    }
  });
});

Deno.test("the validator refuses a broken document (the check above can fail)", async () => {
  const doc = clientApiDocument(30) as Json & { paths: Record<string, Record<string, Json>> };
  // A response object without its required description.
  ((Object.values(doc.paths)[0].get as Json).responses as Record<string, Json>)["200"] = {};
  const result = await new Validator().validate(doc);
  assert.equal(result.valid, false);
});

Deno.test("every row is a path of its document, with its scope, parameters and body", () => {
  const check = (
    doc: Json,
    rows: Record<string, { method: string; path: string; scope?: string; public?: true }>,
  ) => {
    const paths = doc.paths as Record<string, Record<string, Json>>;
    const documented = Object.values(paths).flatMap((methods) => Object.values(methods)).length;
    assert.equal(documented, Object.keys(rows).length, "one operation per row, no more");
    for (const [name, row] of Object.entries(rows)) {
      const operation = paths[row.path.replace(/:(\w+)/g, "{$1}")]?.[row.method.toLowerCase()];
      assert.ok(operation, `${name}: ${row.method} ${row.path} is documented`);
      assert.equal(operation.operationId, name);
      const security = operation.security as Record<string, string[]>[];
      if (row.public) assert.deepEqual(security, [], name);
      else if (row.scope) {
        assert.deepEqual(
          security,
          [{ clientToken: [row.scope] }, { portalSession: [] }, { adminToken: [] }],
          name,
        );
        assert.ok(operation["x-portal-capability"], `${name} names the portal capability it needs`);
      } else assert.deepEqual(security, [{ adminToken: [] }], name);
      const responses = operation.responses as Record<string, Json>;
      assert.ok(Object.keys(responses).some((s) => s.startsWith("2")), `${name} documents its success`);
      assert.ok(responses.default && (row.public || responses["401"]), `${name} documents its errors`);
    }
  };
  check(clientApiDocument(30), CLIENT_API_OPERATIONS);
  check(adminApiDocument(), ADMIN_OPERATIONS);
  const webhooks = clientApiDocument(30).webhooks as Record<
    string,
    { post: { parameters: { name: string }[] } }
  >;
  assert.deepEqual(Object.keys(webhooks), [...CHANGE_TYPES]);
  for (const [type, entry] of Object.entries(webhooks)) {
    assert.deepEqual(
      entry.post.parameters.map((p) => p.name),
      ["webhook-id", "webhook-timestamp", "webhook-signature"],
      type,
    );
  }
});

Deno.test("an answer with a field its schema lacks, or without a required one, breaks the contract", async () => {
  await withServer({}, async (server) => {
    await server.admin("POST", "/admin/clients", { slug: "acme", secret: FIXTURE_SECRET });
    assert.equal((await server.post("acme", bookingCreated("uid-1", "pat@example.com"))).status, 202);
    const jobs = await waitFor("a Job", async () => {
      const listed = await server.admin<{ items: Json[] }>("GET", "/api/v1/clients/acme/jobs");
      return listed.body.items[0];
    });
    const url = `http://x/api/v1/clients/acme/jobs/${jobs.id}`;
    const check = (body: unknown) =>
      contract().checkAnswer("GET", url, 200, "application/json", JSON.stringify(body));
    assert.deepEqual(check(jobs), [], "the real answer keeps the contract");
    assert.deepEqual(check({ ...jobs, internal_note: "x" }), [
      `GET /api/v1/clients/acme/jobs/${jobs.id} → 200: (the answer) must NOT have additional properties (internal_note)`,
    ]);
    const { status: _status, ...missing } = jobs;
    assert.deepEqual(check(missing), [
      `GET /api/v1/clients/acme/jobs/${jobs.id} → 200: (the answer) must have required property 'status'`,
    ]);
    assert.deepEqual(
      contract().checkAnswer("GET", url, 418, "application/json", "{}"),
      [`GET /api/v1/clients/acme/jobs/${jobs.id} → 418: (the answer) must have required property 'error'`],
      "an error answer must have the one error shape",
    );
  });
});

const PUBLIC_URL = "https://intake.example.com";

Deno.test("every route answers a success and an error that keep the contract; deliveries keep theirs", async () => {
  const fake = startFakeCalcom();
  const deliveries: { headers: Headers; body: string }[] = [];
  let verify: ((req: Request) => Promise<Response>) | null = null;
  const events: string[] = [];
  const sink = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    deliveries.push({ headers: req.headers, body: await req.clone().text() });
    return verify ? await verify(req) : new Response(null, { status: 503 });
  });
  try {
    await withServer({
      mode: "inline",
      env: { PUBLIC_URL, OUTBOUND_ALLOW_PRIVATE: "true", OUTBOUND_RETRY_SCHEDULE_MS: "0,50,50" },
    }, async (server) => {
      let token = ADMIN_TOKEN;
      const call = async (method: string, path: string, status: number, body?: unknown): Promise<Json> => {
        const res = await server.fetch(path, {
          method,
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        assert.equal(res.status, status, `${method} ${path}: ${text}`);
        return res.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : {};
      };
      const A = "/admin/clients";
      // Clients, secrets, settings, Cal.com.
      await call("POST", A, 201, {
        slug: "acme",
        secret: FIXTURE_SECRET,
        calcom_api_key: FAKE_API_KEY,
        calcom_api_url: fake.url,
      });
      await call("POST", A, 409, { slug: "acme" });
      await call("GET", A, 200);
      await call("PUT", `${A}/beta`, 201, {});
      await call("PUT", `${A}/Not!A!Slug`, 400, {});
      await call("PATCH", `${A}/acme`, 200, { time_zone: "Europe/Berlin", silence_days: 3 });
      await call("PATCH", `${A}/acme`, 400, { time_zone: "Mars/Olympus" });
      await call("GET", `${A}/acme`, 200);
      await call("GET", `${A}/nope`, 404);
      await call("GET", `${A}/acme/overview`, 200);
      await call("GET", `${A}/nope/overview`, 404);
      await call("POST", `${A}/acme/calcom-webhook`, 200);
      await call("POST", `${A}/nope/calcom-webhook`, 404);
      await call("POST", `${A}/acme/calcom-webhook/check`, 200);
      await call("POST", `${A}/nope/calcom-webhook/check`, 404);
      const added = await call("POST", `${A}/acme/secrets`, 201, {}) as { secret: { id: string } };
      await call("POST", `${A}/nope/secrets`, 404, {});
      await call("DELETE", `${A}/acme/secrets/${added.secret.id}`, 200);
      await call("DELETE", `${A}/acme/secrets/unknown`, 404);

      // An endpoint, so every change below is delivered to the example receiver.
      const endpoint = await call("POST", `${A}/acme/endpoints`, 201, {
        url: `http://127.0.0.1:${sink.addr.port}/hook`,
      }) as { id: string; secret: string };
      verify = receiver(endpoint.secret, (event) => {
        events.push(event.type);
      });
      await call("POST", `${A}/acme/endpoints`, 400, { url: "ftp://example.com" });

      // Bookings in: every fixture (created, rescheduled, cancelled, paid, …).
      for (const name of FIXTURE_NAMES) {
        const f = fixture(name);
        const res = await server.post("acme", f.body);
        await res.body?.cancel();
      }
      const jobs = (await call("GET", `${A}/acme/jobs`, 200) as { items: { id: string }[] }).items;
      const jobId = found(jobs[0]).id;
      await call("GET", `${A}/acme/jobs?status=bogus`, 400);
      await call("GET", `${A}/acme/jobs/${jobId}`, 200);
      await call("GET", `${A}/acme/jobs/unknown`, 404);
      await call("GET", `${A}/acme/jobs/${jobId}/timeline`, 200);
      await call("GET", `${A}/acme/jobs/unknown/timeline`, 404);
      const contacts = (await call("GET", `${A}/acme/contacts`, 200) as { items: { id: string }[] }).items;
      const contactId = found(contacts[0]).id;
      await call("GET", `${A}/acme/contacts?cursor=not-a-cursor`, 400);
      await call("GET", `${A}/acme/contacts/${contactId}`, 200);
      await call("GET", `${A}/acme/contacts/unknown`, 404);
      const submissions =
        (await call("GET", `${A}/acme/submissions`, 200) as { items: { id: string }[] }).items;
      const submissionId = found(submissions[0]).id;
      await call("GET", `${A}/acme/submissions?status=bogus`, 400);
      await call("GET", `${A}/acme/submissions/${submissionId}`, 200);
      await call("GET", `${A}/acme/submissions/unknown`, 404);
      await call("GET", `${A}/acme/submissions/${submissionId}/body`, 200);
      await call("GET", `${A}/acme/submissions/unknown/body`, 404);
      await call("POST", `${A}/acme/submissions/${submissionId}/replay`, 200);
      await call("POST", `${A}/acme/submissions/unknown/replay`, 404);
      await call("POST", `${A}/acme/replay?status=failed`, 200);
      await call("POST", `${A}/acme/replay`, 400);
      await call("GET", `${A}/acme/jobs.csv`, 200);
      await call("GET", `${A}/nope/jobs.csv`, 404);
      await call("GET", `${A}/acme/contacts.csv`, 200);
      await call("GET", `${A}/nope/contacts.csv`, 404);
      await call("POST", `${A}/acme/reconcile`, 200);
      await call("POST", `${A}/nope/reconcile`, 404);
      await call("GET", `${A}/acme/missed_webhooks`, 200);
      await call("GET", `${A}/acme/missed_webhooks?limit=0`, 400);
      const changes = (await call("GET", `${A}/acme/changes`, 200) as { items: { id: string }[] }).items;
      await call("GET", `${A}/nope/changes`, 404);
      await call("GET", "/admin/dead_letters", 200);

      // Client tokens, and the client API with one.
      const issued = await call("POST", `${A}/acme/tokens`, 201, {
        name: "dispatch",
        scopes: [...TOKEN_SCOPES],
      }) as { id: string; token: string };
      await call("POST", `${A}/acme/tokens`, 400, { scopes: ["jobs:read"] });
      await call("GET", `${A}/acme/tokens`, 200);
      await call("GET", `${A}/nope/tokens`, 404);

      // Endpoints, through both APIs.
      for (const base of [`${A}/acme`, "/api/v1/clients/acme"]) {
        token = base.startsWith("/api") ? issued.token : ADMIN_TOKEN;
        const E = `${base}/endpoints`;
        await call("GET", E, 200);
        await call("GET", `${base.replace("acme", "nope")}/endpoints`, 404);
        await call("GET", `${E}/${endpoint.id}`, 200);
        await call("GET", `${E}/unknown`, 404);
        await call("PATCH", `${E}/${endpoint.id}`, 200, { description: "dispatch board" });
        await call("PATCH", `${E}/${endpoint.id}`, 400, { state: "sleeping" });
        await call("POST", `${E}/${endpoint.id}/rotate-secret`, 200);
        await call("POST", `${E}/unknown/rotate-secret`, 404);
        await call("GET", `${E}/${endpoint.id}/secret`, 200);
        await call("GET", `${E}/unknown/secret`, 404);
        await call("POST", `${E}/${endpoint.id}/recover`, 200, { since: "2026-01-01T00:00:00Z" });
        await call("POST", `${E}/${endpoint.id}/recover`, 400, { since: "last tuesday" });
        await call("GET", `${E}/${endpoint.id}/attempts`, 200);
        await call("GET", `${E}/${endpoint.id}/attempts?cursor=not-a-cursor`, 400);
        await call("POST", `${E}/${endpoint.id}/attempts/${found(changes[0]).id}/resend`, 200);
        await call("POST", `${E}/${endpoint.id}/attempts/not-an-event/resend`, 400);
        await call("POST", `${E}/${endpoint.id}/test`, 200, { type: "job.cancelled" });
        await call("POST", `${E}/${endpoint.id}/test`, 400, { type: "job.exploded" });
        const spare = await call("POST", E, 201, { url: "https://receiver.example.com/hook" }) as {
          id: string;
        };
        await call("POST", E, 400, { url: "ftp://example.com" });
        await call("DELETE", `${E}/${spare.id}`, 200);
        await call("DELETE", `${E}/${spare.id}`, 404);
      }
      token = ADMIN_TOKEN;
      verify = receiver(
        (await call("POST", `${A}/acme/endpoints/${endpoint.id}/rotate-secret`, 200) as {
          secret: string;
        }).secret,
        (event) => {
          events.push(event.type);
        },
      );
      token = issued.token;
      const C = "/api/v1/clients/acme";
      await call("GET", `${C}/changes`, 200);
      await call("GET", `${C}/changes?cursor=not-a-cursor`, 400);
      await call("GET", `${C}/jobs`, 200);
      await call("GET", `${C}/jobs?limit=0`, 400);
      await call("GET", `${C}/jobs/${jobId}`, 200);
      await call("GET", `${C}/jobs/unknown`, 404);
      await call("GET", `${C}/contacts`, 200);
      await call("GET", `${C}/contacts?limit=x`, 400);
      await call("GET", `${C}/contacts/${contactId}`, 200);
      await call("GET", `${C}/contacts/unknown`, 404);
      const child = await call("POST", `${C}/tokens`, 201, { name: "dev", scopes: ["jobs:read"] }) as {
        id: string;
      };
      await call("POST", `${C}/tokens`, 400, { name: "dev" });
      await call("GET", `${C}/tokens`, 200);
      await call("DELETE", `${C}/tokens/${child.id}`, 200);
      await call("DELETE", `${C}/tokens/${child.id}`, 404);
      // Write-back: four Jobs, each pending in Cal.com; each action once (the operator's copy replays it),
      // the no-show on the Job just confirmed.
      token = ADMIN_TOKEN;
      await call("PATCH", `${A}/acme`, 200, { write_back: true });
      const acting = (await call("GET", `${A}/acme/jobs?limit=5`, 200) as {
        items: { id: string; calcom_event_id: string; attendees: { email: string }[] }[];
      }).items;
      assert.equal(acting.length, 4);
      const future = new Date(Date.now() + 7 * 86_400_000).toISOString();
      for (const j of acting) {
        fake.put(apiBooking(j.calcom_event_id, {
          start: future,
          end: future,
          status: "pending",
          email: j.attendees[0]?.email,
        }));
      }
      const actions: [string, Json][] = [
        ["confirm", {}],
        ["decline", { reason: "out of area" }],
        ["cancel", { reason: "customer called" }],
        ["reschedule", { start: new Date(Date.now() + 9 * 86_400_000).toISOString() }],
        ["no-show", { attendees: [acting[0].attendees[0].email] }],
      ];
      for (const [n, [action, body]] of actions.entries()) {
        const i = n % 4;
        for (const base of ["/api/v1/clients/acme", `${A}/acme`]) {
          token = base.startsWith("/api") ? issued.token : ADMIN_TOKEN;
          const res = await server.fetch(`${base}/jobs/${acting[i].id}/${action}`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${token}`,
              "content-type": "application/json",
              "idempotency-key": `contract-${action}`,
            },
            body: JSON.stringify(body),
          });
          assert.equal(res.status, 200, `${base} ${action}: ${await res.clone().text()}`);
          await res.body?.cancel();
          await call("POST", `${base}/jobs/${acting[i].id}/${action}`, 400, body);
        }
      }
      for (const base of ["/api/v1/clients/acme", `${A}/acme`]) {
        token = base.startsWith("/api") ? issued.token : ADMIN_TOKEN;
        await call(
          "GET",
          `${base}/slots?start=${future}&end=${future.slice(0, 10)}T23:59:00Z&event_type=55102`,
          200,
        );
        await call("GET", `${base}/slots?start=${future}&end=${future}&event_type=55102`, 400);
      }
      token = issued.token;

      await call("GET", `${C}/connection`, 200);
      await call("GET", "/api/v1/clients/nope/connection", 404);
      token = "cit_not_a_token";
      await call("GET", `${C}/tokens`, 401);
      token = ADMIN_TOKEN;

      // The portal: a link, its session, the operator's view of both, the audit.
      const link = await call("POST", `${A}/acme/portal-links`, 201, { capabilities: ["endpoints"] }) as {
        path: string;
      };
      await call("POST", `${A}/acme/portal-links`, 400, { capabilities: ["everything"] });
      const key = link.path.split("#key=")[1];
      const session = await call("POST", "/api/v1/portal/sessions", 201, { key }) as { token: string };
      await call("POST", "/api/v1/portal/sessions", 410, { key });
      await call("GET", `${A}/acme/portal-sessions`, 200);
      await call("GET", `${A}/nope/portal-sessions`, 404);
      await call("GET", `${A}/acme/portal-audit`, 200);
      await call("GET", `${A}/nope/portal-audit`, 404);
      token = session.token;
      await call("DELETE", `${C}/portal/session`, 200);
      await call("DELETE", `${C}/portal/session`, 401);
      token = ADMIN_TOKEN;
      await call("DELETE", `${A}/acme/portal-sessions`, 200);
      await call("DELETE", `${A}/nope/portal-sessions`, 404);

      // What cannot be undone, last.
      await call("DELETE", `${A}/acme/contacts/${contactId}`, 400);
      await call("DELETE", `${A}/acme/contacts/${contactId}?erase=true`, 200);
      await call("DELETE", `${A}/acme/tokens/${issued.id}`, 200);
      await call("DELETE", `${A}/acme/tokens/${issued.id}`, 404);
      await call("DELETE", `${A}/acme/calcom-webhook`, 200);
      await call("DELETE", `${A}/nope/calcom-webhook`, 404);
      await call("DELETE", `${A}/beta`, 200);
      await call("DELETE", `${A}/beta`, 404);
      token = "wrong";
      await call("GET", "/admin/dead_letters", 401);
      await call("GET", A, 401);

      const missing = OPERATION_LIST.filter(([name]) => {
        const statuses = [...(server.answered.get(name) ?? [])];
        return !statuses.some((s) => s < 300) || !statuses.some((s) => s >= 400);
      }).map(([name]) => `${name}: ${[...(server.answered.get(name) ?? [])].join(", ") || "never called"}`);
      assert.deepEqual(missing, [], "every route answered a success and an error here");

      // The deliveries: each one, as the receiver got it, against its webhooks entry.
      await waitFor("the erasure delivered", () => events.includes("job.erased") || undefined);
      const types = new Set(deliveries.map((d) => JSON.parse(d.body).type));
      for (const type of ["job.created", "job.rescheduled", "job.cancelled", "job.updated", "job.erased"]) {
        assert.ok(types.has(type), `a ${type} was delivered (got ${[...types]})`);
      }
      const problems = deliveries.flatMap((d) => contract().checkWebhook(d.headers, d.body));
      assert.deepEqual(problems, []);
      assert.ok(events.length > 0 && events.every((t) => (CHANGE_TYPES as readonly string[]).includes(t)));
    });
  } finally {
    await sink.shutdown();
    await fake.close();
  }
});

Deno.test("a delivered body that differs from its webhooks entry breaks the contract", () => {
  const headers = new Headers({
    "webhook-id": "chg_x",
    "webhook-timestamp": "1",
    "webhook-signature": "v1,x",
  });
  const body = { type: "job.cancelled", timestamp: "2026-12-07T00:00:00.000Z", data: { job_id: "j" } };
  const problems = contract().checkWebhook(headers, JSON.stringify(body));
  assert.ok(problems.some((p) => p.includes("required property 'job_version'")), problems.join("\n"));
  assert.deepEqual(
    contract().checkWebhook(new Headers(), JSON.stringify(body)).slice(0, 3),
    ["webhook-id", "webhook-timestamp", "webhook-signature"].map((h) =>
      `webhook job.cancelled: header ${h} missing`
    ),
  );
});

Deno.test("the consumer types are what openapi-typescript makes of the served document", async () => {
  const generated = await typesOf(servedClientDocument());
  const formatted = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "ts", "-"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = formatted.stdin.getWriter();
  await writer.write(new TextEncoder().encode(generated));
  await writer.close();
  const { stdout } = await formatted.output();
  const committed = await Deno.readTextFile(CLIENT_TYPES_FILE);
  assert.equal(
    new TextDecoder().decode(stdout),
    committed,
    "docs/examples/client_api.d.ts is stale: run `deno task contract`",
  );
  assert.match(committed, /export interface webhooks \{/);
  assert.match(committed, /"job\.erased": \{/);
});
