/**
 * Outbound webhooks against real local receivers (port 0): retries until a 2xx with the same
 * webhook-id, every delivery verified by the npm packages `standardwebhooks` and `svix` (code
 * nobody here wrote), 410 disabling, Retry-After, a timeout counted as a failure, a dead endpoint
 * not holding up another, recovery of what a disabled endpoint missed, secret rotation, and the
 * SSRF guard.
 */
import assert from "node:assert/strict";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { destinationProblem } from "../../lib/processing/outbound_post.ts";
import { Retention } from "../../lib/processing/retention.ts";
import { memoryLogger } from "../../lib/log.ts";
import { atLogEnd, logHeads } from "../../lib/store/changes.ts";
import { getEndpoint } from "../../lib/store/endpoints.ts";
import {
  addClient,
  bookingCreated,
  type ErrorAnswer,
  fixture,
  type TestServer,
  waitFor,
  withServer,
} from "../_helpers.ts";

interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  at: number;
}

/** A receiver on a real port: `answer` decides each response (status, headers, or never answering). */
function receiver(answer: (n: number, r: Received) => Response | Promise<Response> | "hang") {
  const received: Received[] = [];
  const hanging: (() => void)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const r: Received = {
      id: req.headers.get("webhook-id") ?? "",
      timestamp: req.headers.get("webhook-timestamp") ?? "",
      signature: req.headers.get("webhook-signature") ?? "",
      body: await req.text(),
      at: performance.now(),
    };
    received.push(r);
    const a = await answer(received.length, r);
    if (a !== "hang") return a;
    await new Promise<void>((resolve) => hanging.push(resolve));
    return new Response("late", { status: 200 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    close: async () => {
      hanging.forEach((r) => r());
      await server.shutdown();
    },
  };
}

const ENV = { OUTBOUND_ALLOW_PRIVATE: "true", OUTBOUND_RETRY_SCHEDULE_MS: "0,50,50,100" };

interface EndpointAnswer {
  id: string;
  secret: string;
  state: string;
  disabled_reason: string | null;
  failures: number;
  last_success_at: string | null;
  backlog: number;
}

async function addEndpoint(server: TestServer, url: string, extra: Record<string, unknown> = {}) {
  const res = await server.admin<EndpointAnswer>("POST", "/admin/clients/acme/endpoints", { url, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.match(res.body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  return res.body;
}

async function book(server: TestServer, uid: string) {
  const res = await server.post("acme", bookingCreated(uid, `${uid}@example.com`));
  assert.equal(res.status, 202);
  await res.body?.cancel();
}

/** Both libraries accept the delivery as signed by `secret`; answers the parsed payload. */
function verified(
  secret: string,
  r: Received,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  const headers = { "webhook-id": r.id, "webhook-timestamp": r.timestamp, "webhook-signature": r.signature };
  // Each throws when the signature, the timestamp or the id does not check out.
  new SvixWebhook(secret).verify(r.body, headers);
  return new StandardWebhook(secret).verify(r.body, headers) as ReturnType<typeof verified>;
}

Deno.test("a receiver that answers 500 twice, then 200: the event arrives verified, with one webhook-id on every attempt", async () => {
  const hook = receiver((n) => new Response("", { status: n <= 2 ? 500 : 200 }));
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const endpoint = await addEndpoint(server, hook.url);
      await book(server, "o-1");
      await waitFor("three attempts", () => hook.received.length >= 3 || undefined);
      assert.equal(new Set(hook.received.map((r) => r.id)).size, 1, "the same webhook-id on every attempt");
      const payload = verified(endpoint.secret, hook.received[2]);
      assert.equal(payload.type, "job.created");
      assert.equal((payload.data.job as { calcom_event_id: string }).calcom_event_id, "o-1");
      assert.equal(payload.data.job_version, 1);
      const feed = await server.admin<{ items: { id: string }[] }>("GET", "/api/v1/clients/acme/changes");
      assert.equal(hook.received[0].id, feed.body.items[0].id, "webhook-id is the feed's entry id");
      const attempts = await waitFor("the success recorded", async () => {
        const a = await server.admin<{ items: { status: number; attempt: number; event_id: string }[] }>(
          "GET",
          `/admin/clients/acme/endpoints/${endpoint.id}/attempts`,
        );
        return a.body.items.length >= 3 ? a.body.items : undefined;
      });
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.status]),
        [[3, 200], [2, 500], [1, 500]],
        "newest first",
      );
      const shown = await server.admin<EndpointAnswer>("GET", `/admin/clients/acme/endpoints/${endpoint.id}`);
      assert.equal(shown.body.failures, 0);
      assert.ok(shown.body.last_success_at);
      assert.equal(shown.body.backlog, 0);
      assert.ok(!JSON.stringify(shown.body).includes(endpoint.secret), "the secret is shown only once");
    });
  } finally {
    await hook.close();
  }
});

Deno.test("410 Gone disables the endpoint at once; recover delivers everything from the disabled period", async () => {
  let gone = true;
  const hook = receiver(() => new Response(gone ? "gone" : null, { status: gone ? 410 : 204 }));
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const since = new Date().toISOString();
      const endpoint = await addEndpoint(server, hook.url);
      await book(server, "g-1");
      const disabled = await waitFor("disabled", async () => {
        const e = await server.admin<EndpointAnswer>("GET", `/admin/clients/acme/endpoints/${endpoint.id}`);
        return e.body.state === "disabled" ? e.body : undefined;
      });
      assert.match(disabled.disabled_reason ?? "", /410/);
      const health = await server.admin<{ problems: { code: string }[] }>("GET", "/admin/clients/acme");
      assert.deepEqual(
        health.body.problems.map((p) => p.code),
        ["endpoint_disabled"],
        "the client's health says so",
      );
      assert.equal(hook.received.length, 1, "not tried again");
      // While disabled, more changes: kept, not skipped.
      await book(server, "g-2");
      await book(server, "g-3");
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(hook.received.length, 1);
      assert.equal(
        (await server.admin<EndpointAnswer>("GET", `/admin/clients/acme/endpoints/${endpoint.id}`)).body
          .backlog,
        3,
      );
      gone = false;
      const recovered = await server.admin("POST", `/admin/clients/acme/endpoints/${endpoint.id}/recover`, {
        since,
      });
      assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
      await waitFor("the three", () => hook.received.length >= 4 || undefined);
      const uids = hook.received.slice(1).map((r) =>
        (verified(endpoint.secret, r).data.job as { calcom_event_id: string }).calcom_event_id
      );
      assert.deepEqual(uids, ["g-1", "g-2", "g-3"], "every entry of the disabled period, in log order");
    });
  } finally {
    await hook.close();
  }
});

Deno.test("Retry-After is honoured; a redirect is a failure and is not followed; a resend is sent again", async () => {
  const hook = receiver((n) =>
    n === 1
      ? new Response("busy", { status: 503, headers: { "retry-after": "1" } })
      : n === 2
      ? new Response("", { status: 302, headers: { location: "http://10.0.0.1/elsewhere" } })
      : new Response("ok", { status: 200 })
  );
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const endpoint = await addEndpoint(server, hook.url);
      await book(server, "ra-1");
      await waitFor("three attempts", () => hook.received.length >= 3 || undefined, 10_000);
      assert.ok(hook.received[1].at - hook.received[0].at >= 950, "waited the second Retry-After asked for");
      // The third attempt is recorded just after the receiver answered it.
      const attempts = await waitFor("three attempts recorded", async () => {
        const items = (await server.admin<
          { items: { status: number; error: string | null; response_body: string }[] }
        >("GET", `/admin/clients/acme/endpoints/${endpoint.id}/attempts`)).body.items;
        return items.length >= 3 ? items.reverse() : undefined;
      });
      assert.deepEqual(attempts.map((a) => a.status), [503, 302, 200]);
      assert.equal(attempts[0].response_body, "busy", "the answer's body is kept");
      assert.match(attempts[1].error ?? "", /redirect/);
      const eventId = hook.received[0].id;
      const resent = await server.admin<{ kind: string; status: number }>(
        "POST",
        `/admin/clients/acme/endpoints/${endpoint.id}/attempts/${eventId}/resend`,
      );
      assert.equal(resent.body.kind, "resend");
      assert.equal(hook.received.at(-1)?.id, eventId);
    });
  } finally {
    await hook.close();
  }
});

Deno.test("an endpoint that never answers holds up neither another endpoint nor ingest; its timeout counts as a failure", async () => {
  const dead = receiver(() => "hang");
  const alive = receiver(() => new Response("", { status: 200 }));
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const slow = await addEndpoint(server, dead.url);
      await addEndpoint(server, alive.url);
      for (const uid of ["d-1", "d-2", "d-3"]) await book(server, uid);
      await waitFor("the live endpoint got all three", () => alive.received.length >= 3 || undefined);
      assert.equal(dead.received.length, 1, "the dead one is still waiting on its first");
      const none = await server.admin<{ items: unknown[] }>(
        "GET",
        `/admin/clients/acme/endpoints/${slow.id}/attempts`,
      );
      assert.equal(none.body.items.length, 0, "its attempt has not ended");
      const attempt = await waitFor("the timeout", async () => {
        const a = await server.admin<{ items: { error: string | null; status: number | null }[] }>(
          "GET",
          `/admin/clients/acme/endpoints/${slow.id}/attempts`,
        );
        return a.body.items[0];
      }, 30_000);
      assert.equal(attempt.status, null);
      assert.match(attempt.error ?? "", /no answer within 15 s/);
    });
  } finally {
    await dead.close();
    await alive.close();
  }
});

Deno.test("a rotated secret: both sign for a day, so a receiver on either verifies", async () => {
  const hook = receiver(() => new Response("", { status: 200 }));
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const endpoint = await addEndpoint(server, hook.url);
      const rotated = await server.admin<EndpointAnswer>(
        "POST",
        `/admin/clients/acme/endpoints/${endpoint.id}/rotate-secret`,
      );
      assert.notEqual(rotated.body.secret, endpoint.secret);
      await book(server, "rot-1");
      await waitFor("delivered", () => hook.received.length >= 1 || undefined);
      assert.equal(hook.received[0].signature.split(" ").length, 2, "two signatures");
      verified(endpoint.secret, hook.received[0]);
      verified(rotated.body.secret, hook.received[0]);
    });
  } finally {
    await hook.close();
  }
});

Deno.test("SSRF: loopback, 10.x, the metadata address, a name that resolves to a private address and http:// are all refused", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    for (
      const [url, code] of [
        ["http://hooks.example.com/x", "invalid_url"],
        ["https://127.0.0.1/x", "forbidden_destination"],
        ["https://10.1.2.3/x", "forbidden_destination"],
        ["https://169.254.169.254/latest/meta-data", "forbidden_destination"],
        ["https://[::1]/x", "forbidden_destination"],
        ["https://[::ffff:192.168.1.1]/x", "forbidden_destination"],
        ["https://localhost:8443/x", "forbidden_destination"],
        ["https://user:pw@hooks.example.com/x", "invalid_url"],
      ]
    ) {
      const res = await server.admin<ErrorAnswer>("POST", "/admin/clients/acme/endpoints", { url });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, code, url);
      if (code === "forbidden_destination" || url.startsWith("http:")) {
        // The way for a receiver that really is on the operator's network, and what it costs.
        assert.match(res.body.error.message, /OUTBOUND_ALLOW_PRIVATE=1.*risk.*private addresses/, url);
      }
    }
  });
  // A hostname is checked on what it resolves to when it is sent to (here: the machine's own name).
  assert.match(
    (await destinationProblem(`https://${Deno.hostname()}/hook`, false)) ?? "",
    /refused: .* is a loopback address/,
  );
  assert.match((await destinationProblem("https://localhost/hook", false)) ?? "", /loopback/);
  assert.equal(
    await destinationProblem("https://93.184.216.34/hook", false),
    null,
    "a public address is fine",
  );
  assert.equal(
    await destinationProblem("http://127.0.0.1:9/hook", true),
    null,
    "allowed with OUTBOUND_ALLOW_PRIVATE",
  );
});

Deno.test("one booking created, rescheduled, cancelled: the feed and the pushed bodies say so, in order", async () => {
  const hook = receiver(() => new Response(null, { status: 204 }));
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const endpoint = await addEndpoint(server, hook.url);
      for (const name of ["booking_created", "booking_rescheduled", "booking_cancelled"] as const) {
        const res = await server.post("acme", fixture(name).body);
        assert.equal(res.status, 202);
        await res.body?.cancel();
      }
      const expected = [["job.created", 1], ["job.rescheduled", 2], ["job.cancelled", 3]];
      const feed = await server.admin<{ items: { type: string; job_version: number }[] }>(
        "GET",
        "/api/v1/clients/acme/changes",
      );
      assert.deepEqual(feed.body.items.map((e) => [e.type, e.job_version]), expected);
      await waitFor("three deliveries", () => hook.received.length >= 3 || undefined);
      const pushed = hook.received.map((r) => verified(endpoint.secret, r));
      assert.deepEqual(pushed.map((p) => [p.type, p.data.job_version]), expected);
    });
  } finally {
    await hook.close();
  }
});

Deno.test("a commit by another instance, and an erasure, wake delivery at once (the log head is the signal)", async () => {
  const hook = receiver(() => new Response(null, { status: 204 }));
  const dir = await Deno.makeTempDir();
  const kvPath = `${dir}/kv.sqlite3`;
  try {
    // Instance A takes the webhooks; it started before any endpoint existed, so it watches nothing.
    await withServer({ mode: "inline", env: ENV, kvPath }, async (a) => {
      await addClient(a, "acme");
      // Instance B manages the endpoint: only its watch on acme's log head can deliver.
      await withServer({ mode: "inline", env: ENV, kvPath }, async (b) => {
        const endpoint = await addEndpoint(b, hook.url);
        await book(a, "x-1");
        await waitFor("A's commit delivered by B", () => hook.received.length >= 1 || undefined);
        assert.equal(verified(endpoint.secret, hook.received[0]).type, "job.created");
        // B has recorded that delivery before A erases, so the second delivery is the erasure's.
        await waitFor("the delivery recorded", async () => {
          const e = await b.admin<EndpointAnswer>("GET", `/admin/clients/acme/endpoints/${endpoint.id}`);
          return e.body.last_success_at ?? undefined;
        });
        await b.service.outbound.settled();
        const contacts = await a.admin<{ items: { id: string }[] }>("GET", "/admin/clients/acme/contacts");
        const erased = await a.admin(
          "DELETE",
          `/admin/clients/acme/contacts/${contacts.body.items[0].id}?erase=true`,
        );
        assert.equal(erased.status, 200, JSON.stringify(erased.body));
        await waitFor("the erasure delivered", () => hook.received.length >= 2 || undefined);
        assert.equal(verified(endpoint.secret, hook.received[1]).type, "job.erased");
      });
    });
  } finally {
    await hook.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an endpoint left behind past retention is a state: behind_retention, a problem naming recover, an attempt saying why", async () => {
  const hook = receiver(() => new Response(null, { status: 204 }));
  try {
    await withServer({ mode: "inline", env: { ...ENV, CHANGE_LOG_RETENTION_DAYS: "1" } }, async (server) => {
      await addClient(server, "acme");
      const endpoint = await addEndpoint(server, hook.url);
      const onlyCancels = await addEndpoint(server, hook.url, { event_types: ["job.cancelled"] });
      await book(server, "r-1");
      const path = `/admin/clients/acme/endpoints/${endpoint.id}`;
      // Recorded, not only received: a delivery still being recorded would count as missed.
      await waitFor(
        "the first delivery recorded",
        async () => (await server.admin<EndpointAnswer>("GET", path)).body.last_success_at ?? undefined,
      );
      assert.equal((await server.admin("PATCH", path, { state: "disabled" })).status, 200);
      await book(server, "r-2");
      const disabled = await server.admin<EndpointAnswer>("GET", path);
      assert.equal(disabled.body.backlog, 1, "what it missed while disabled");
      const other = await server.admin<EndpointAnswer>(
        "GET",
        `/admin/clients/acme/endpoints/${onlyCancels.id}`,
      );
      assert.equal(other.body.backlog, 0, "the backlog counts only the types it subscribes to");
      // It passes over r-2 on its own wake; only then is it caught up and retention cannot leave it behind.
      await waitFor("the cancels-only endpoint past r-2", async () => {
        const [e, heads] = await Promise.all([
          getEndpoint(server.kv, "acme", onlyCancels.id),
          logHeads(server.kv),
        ]);
        return atLogEnd(e?.position ?? null, heads.get("acme")) || undefined;
      });

      // Two days later, retention has dropped what the disabled endpoint never got.
      const retention = new Retention(server.kv, 0, memoryLogger(), 1);
      assert.ok(await retention.trimChangeLogs(Date.now() + 2 * 86_400_000) >= 1);
      assert.equal((await server.admin("PATCH", path, { state: "active" })).status, 200);
      const stopped = await waitFor("behind_retention", async () => {
        const e = await server.admin<EndpointAnswer>("GET", path);
        return e.body.state === "behind_retention" ? e.body : undefined;
      });
      assert.match(String(stopped.disabled_reason), /CHANGE_LOG_RETENTION_DAYS.*recover/i);
      assert.equal(stopped.backlog, 0);
      const client = await server.admin<{ problems: { code: string; message: string }[] }>(
        "GET",
        "/admin/clients/acme",
      );
      const problem = client.body.problems.find((p) => p.code === "endpoint_behind_retention");
      assert.ok(problem, JSON.stringify(client.body.problems));
      assert.match(problem.message, /endpoint recover .*--since/);
      const attempts = await server.admin<
        { items: { kind: string; error: string; event_id: string | null }[] }
      >(
        "GET",
        `${path}/attempts`,
      );
      assert.equal(attempts.body.items[0].kind, "log_read");
      assert.equal(attempts.body.items[0].event_id, null);
      assert.match(attempts.body.items[0].error, /longer than the change log keeps/);
      assert.equal(hook.received.length, 1, "nothing was sent from a position the log no longer has");
      assert.ok(server.logs.some((l) => l.includes("endpoint behind retention")));

      // Recover since a time the log still holds: active again, and what is there arrives.
      await book(server, "r-3");
      const recovered = await server.admin<EndpointAnswer>("POST", `${path}/recover`, {
        since: new Date(Date.now() - 60_000).toISOString(),
      });
      assert.equal(recovered.status, 200);
      assert.equal(recovered.body.state, "active");
      await waitFor("r-3 delivered after the recover", () => hook.received.length >= 2 || undefined);
      const after = await server.admin<{ problems: { code: string }[] }>("GET", "/admin/clients/acme");
      assert.ok(!after.body.problems.some((p) => p.code === "endpoint_behind_retention"));
    });
  } finally {
    await hook.close();
  }
});

Deno.test("a test event: made-up data marked test, a test_ id, verified, in the attempt log with its headers, never in the change log", async () => {
  const hook = receiver(() => new Response("thanks", { status: 200 }));
  try {
    await withServer({ mode: "inline", env: ENV }, async (server) => {
      await addClient(server, "acme");
      const endpoint = await addEndpoint(server, hook.url);
      const path = `/admin/clients/acme/endpoints/${endpoint.id}`;
      const before = await server.admin<EndpointAnswer & { position?: unknown }>("GET", path);
      const sent = await server.admin<
        { kind: string; event_id: string; status: number; request_headers: Record<string, string> }
      >(
        "POST",
        `${path}/test`,
        { type: "job.rescheduled" },
      );
      assert.equal(sent.status, 200, JSON.stringify(sent.body));
      assert.equal(sent.body.kind, "test");
      assert.equal(sent.body.status, 200);
      assert.match(sent.body.event_id, /^test_[0-9a-f]{32}$/, "cannot collide with a chg_ entry id");
      assert.equal(hook.received.length, 1);
      const payload = verified(endpoint.secret, hook.received[0]) as ReturnType<typeof verified> & {
        test?: boolean;
      };
      assert.equal(payload.type, "job.rescheduled");
      assert.equal(payload.test, true);
      assert.equal(hook.received[0].id, sent.body.event_id);
      // The headers it was sent with are recorded, never the signature.
      assert.equal(sent.body.request_headers["webhook-id"], sent.body.event_id);
      assert.equal(sent.body.request_headers["webhook-signature"], undefined);
      const attempts = await server.admin<{ items: { kind: string }[] }>("GET", `${path}/attempts`);
      assert.deepEqual(attempts.body.items.map((a) => a.kind), ["test"]);
      const feed = await server.admin<{ items: unknown[] }>("GET", "/api/v1/clients/acme/changes");
      assert.deepEqual(feed.body.items, [], "a test event is never a change");
      const after = await server.admin<EndpointAnswer>("GET", path);
      assert.deepEqual(
        {
          failures: after.body.failures,
          last_success_at: after.body.last_success_at,
          backlog: after.body.backlog,
        },
        {
          failures: before.body.failures,
          last_success_at: before.body.last_success_at,
          backlog: before.body.backlog,
        },
      );
      const refused = await server.admin<ErrorAnswer>("POST", `${path}/test`, { type: "job.exploded" });
      assert.equal(refused.status, 400);
    });
  } finally {
    await hook.close();
  }
});
