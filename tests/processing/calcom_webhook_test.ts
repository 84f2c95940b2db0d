/**
 * Connecting a client to Cal.com and noticing drift, against the fake Cal.com API (a real local
 * HTTP server with Cal.com's webhook endpoints): connect from nothing and twice, over a templated
 * webhook with missing triggers, a webhook switched off / deleted / pointed elsewhere / given
 * another secret (each reported by the next check, by a reconciliation pass too, and repaired by
 * connect), a refused key, an older Cal.com with fewer triggers, disconnect, and no key or secret
 * in any answer or log line.
 */
import assert from "node:assert/strict";
import {
  CALCOM_TRIGGERS,
  FAKE_API_KEY,
  type FakeCalcom,
  type FakeWebhook,
  startFakeCalcom,
} from "../_fake_calcom.ts";
import {
  addClient,
  bookingCreated,
  type ClientView,
  type ErrorAnswer,
  FIXTURE_SECRET,
  found,
  startMain,
  type TestServer,
  withServer,
} from "../_helpers.ts";
import { WANTED_TRIGGERS } from "../../lib/calcom/webhooks_api.ts";
import type { CalcomWebhookRecord } from "../../lib/store/calcom_webhooks.ts";

const PUBLIC_URL = "https://intake.example.com";
const ENV = { PUBLIC_URL, RECONCILE_BACKOFF_MS: "5", RECONCILE_TIMEOUT_MS: "2000" };
const SLUG = "acme";
const OUR_URL = `${PUBLIC_URL}/webhooks/calcom/${SLUG}`;

interface Connected {
  action: "created" | "updated" | "unchanged";
  webhook_id: string;
  changed: string[];
  triggers: string[];
  new_secret_id: string | null;
  message: string;
}

/** A service whose client `acme` reaches the fake with its API key; every answer is kept for the leak check. */
async function withConnectable(
  fn: (t: { server: TestServer; fake: FakeCalcom; answers: unknown[] }) => Promise<void>,
  env: Record<string, string> = ENV,
  kvPath?: string,
): Promise<void> {
  const fake = startFakeCalcom();
  try {
    await withServer({ mode: "inline", env, kvPath }, async (server) => {
      await addClient(server, SLUG);
      const res = await server.admin("PATCH", `/admin/clients/${SLUG}`, {
        calcom_api_key: FAKE_API_KEY,
        calcom_api_url: fake.url,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const answers: unknown[] = [];
      const admin = server.admin;
      server.admin = async <T>(method: string, path: string, body?: unknown) => {
        const answer = await admin<T>(method, path, body);
        answers.push(answer.body);
        return answer;
      };
      await fn({ server, fake, answers });
      // Nothing the service said, in answers or logs, carries the key or a secret.
      const said = JSON.stringify(answers) + server.logs.join("\n");
      const secrets = [FIXTURE_SECRET, ...[...fake.webhooks.values()].map((w) => w.secret)]
        .filter((s): s is string => !!s);
      for (const secret of [FAKE_API_KEY, ...secrets]) assert.ok(!said.includes(secret), "a secret leaked");
    });
  } finally {
    await fake.close();
  }
}

async function connect(server: TestServer): Promise<Connected> {
  const res = await server.admin<Connected>("POST", `/admin/clients/${SLUG}/calcom-webhook`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function check(server: TestServer): Promise<CalcomWebhookRecord> {
  const res = await server.admin<CalcomWebhookRecord>("POST", `/admin/clients/${SLUG}/calcom-webhook/check`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function client(server: TestServer): Promise<ClientView> {
  return (await server.admin<ClientView>("GET", `/admin/clients/${SLUG}`)).body;
}

function ours(fake: FakeCalcom): FakeWebhook {
  const hooks = fake.userWebhooks().filter((w) => w.subscriberUrl === OUR_URL);
  assert.equal(hooks.length, 1, "one webhook delivers to the service");
  return hooks[0];
}

/** A booking signed with the secret Cal.com holds is accepted: the webhook and the client agree. */
async function assertDelivers(server: TestServer, fake: FakeCalcom, uid: string): Promise<void> {
  const res = await server.post(SLUG, bookingCreated(uid, `${uid}@example.org`), found(ours(fake).secret));
  assert.equal(res.status, 202, await res.text());
}

Deno.test("connect from nothing creates the webhook Cal.com should have; connecting again changes nothing", async () => {
  await withConnectable(async ({ server, fake }) => {
    const secretsBefore = (await client(server)).secret_ids.length;
    const first = await connect(server);
    assert.equal(first.action, "created");
    const hook = ours(fake);
    assert.equal(first.webhook_id, hook.id);
    assert.deepEqual([...hook.triggers].sort(), [...WANTED_TRIGGERS].sort());
    assert.equal(hook.active, true);
    assert.equal(hook.payloadTemplate, null);
    assert.equal(hook.version, "2021-10-20");
    // A fresh secret, live for the client: the first delivery verifies.
    assert.notEqual(hook.secret, FIXTURE_SECRET);
    const view = await client(server);
    assert.equal(view.secret_ids.length, secretsBefore + 1);
    assert.ok(view.secret_ids.includes(found(first.new_secret_id)));
    await assertDelivers(server, fake, "conn-1");
    assert.equal(view.calcom_webhook?.state, "ok");
    assert.equal((await check(server)).state, "ok");

    const writesBefore = fake.requests.length;
    const again = await connect(server);
    assert.equal(again.action, "unchanged", again.message);
    assert.deepEqual(again.changed, []);
    assert.equal(again.new_secret_id, null);
    assert.equal((await client(server)).secret_ids.length, secretsBefore + 1);
    assert.equal(ours(fake).secret, hook.secret);
    const writes = fake.requests.slice(writesBefore).filter((r) => r.method !== "GET");
    assert.deepEqual(writes, [], "a second connect only reads");
  });
});

Deno.test("connect adopts a hand-made webhook with a template and missing triggers, keeping its (live) secret", async () => {
  await withConnectable(async ({ server, fake }) => {
    fake.addWebhook({
      subscriberUrl: OUR_URL,
      triggers: ["BOOKING_CREATED", "FORM_SUBMITTED"],
      payloadTemplate: '{"type":"{{type}}","title":"{{title}}"}',
      secret: FIXTURE_SECRET,
    });
    const found1 = await check(server);
    assert.equal(found1.state, "template_set");
    assert.deepEqual(found1.problems.map((p) => p.state), ["template_set", "missing_triggers"]);
    assert.ok(found1.missing_triggers.includes("BOOKING_CANCELLED"));
    assert.ok(
      (await client(server)).problems.some((p) =>
        p.code === "calcom_webhook_template_set" && /Connect/.test(p.message)
      ),
    );

    const result = await connect(server);
    assert.equal(result.action, "updated");
    assert.deepEqual([...result.changed].sort(), ["payload_template", "triggers"]);
    assert.equal(result.new_secret_id, null, "the webhook's secret is the client's: kept");
    const hook = ours(fake);
    assert.equal(hook.payloadTemplate, null);
    assert.equal(hook.secret, FIXTURE_SECRET);
    for (const t of WANTED_TRIGGERS) assert.ok(hook.triggers.includes(t), t);
    assert.ok(hook.triggers.includes("FORM_SUBMITTED"), "the user's other triggers stay");
    assert.equal(fake.userWebhooks().length, 1, "adopted, not created beside it");
    assert.equal((await check(server)).state, "ok");
    assert.deepEqual((await client(server)).problems, []);
  });
});

Deno.test("a webhook switched off, deleted, pointed elsewhere or given another secret is reported at the next check and repaired by connect", async () => {
  await withConnectable(async ({ server, fake }) => {
    await connect(server);
    const drifts: [string, () => void, string[]][] = [
      ["inactive", () => ours(fake).active = false, ["active"]],
      ["missing", () => fake.webhooks.delete(ours(fake).id), []],
      ["wrong_url", () => {
        ours(fake).subscriberUrl = `https://old-tunnel.example.net/webhooks/calcom/${SLUG}`;
      }, ["subscriber_url"]],
      ["secret_mismatch", () => ours(fake).secret = "whsec_typed_by_hand_in_calcom_0001", ["secret"]],
      ["missing_triggers", () => {
        ours(fake).triggers = ours(fake).triggers.filter((t) => t !== "BOOKING_CANCELLED");
      }, ["triggers"]],
    ];
    for (const [state, drift, changed] of drifts) {
      drift();
      const seen = await check(server);
      assert.equal(seen.state, state);
      assert.ok(seen.problems[0].message.length > 20);
      const view = await client(server);
      assert.equal(view.calcom_webhook?.state, state);
      assert.ok(view.problems.some((p) => p.code === `calcom_webhook_${state}`), state);
      if (state === "missing_triggers") assert.deepEqual(seen.missing_triggers, ["BOOKING_CANCELLED"]);

      const repaired = await connect(server);
      assert.equal(repaired.action, state === "missing" ? "created" : "updated", state);
      assert.deepEqual(repaired.changed, changed, state);
      assert.equal((await check(server)).state, "ok", `${state} repaired`);
      assert.deepEqual((await client(server)).problems, [], state);
      await assertDelivers(server, fake, `after-${state}`);
    }
  });
});

Deno.test("every reconciliation pass checks the webhook too", async () => {
  await withConnectable(async ({ server, fake }) => {
    await connect(server);
    ours(fake).active = false;
    const res = await server.admin("POST", `/admin/clients/${SLUG}/reconcile`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const view = await client(server);
    assert.equal(view.calcom_webhook?.state, "inactive");
    assert.ok(view.problems.some((p) => p.code === "calcom_webhook_inactive"));
  });
});

Deno.test("a key Cal.com refuses is api_key_rejected; connect and check say so without the key", async () => {
  await withConnectable(async ({ server, fake }) => {
    fake.rejectKey = true;
    const res = await server.admin<ErrorAnswer>("POST", `/admin/clients/${SLUG}/calcom-webhook/check`);
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, "calcom_api_key_rejected");
    assert.equal((await client(server)).calcom_webhook?.state, "api_key_rejected");
    const connecting = await server.admin<ErrorAnswer>("POST", `/admin/clients/${SLUG}/calcom-webhook`);
    assert.equal(connecting.status, 422, "a refused key is the operator's to fix, not a Cal.com outage");
    assert.equal(connecting.body.error.code, "calcom_api_key_rejected");
    assert.match(connecting.body.error.message, /Create a new key in Cal.com.*PUT \/admin\/clients\/acme/);
    assert.equal(fake.webhooks.size, 0);
    // A new key starts unchecked.
    fake.rejectKey = false;
    await server.admin("PATCH", `/admin/clients/${SLUG}`, { calcom_api_key: FAKE_API_KEY });
    assert.equal((await client(server)).calcom_webhook?.state, "unchecked");
  });
});

Deno.test("a Cal.com whose answers disagree: connect ends within 30 s, says so, and keeps no secret Cal.com refused", async () => {
  await withConnectable(async ({ server, fake }) => {
    // The list shows our webhook; reading or changing its id answers 404; creating one answers 409.
    const ghost = fake.addWebhook({ subscriberUrl: OUR_URL, secret: "someone-elses-secret", active: false });
    fake.ghosts.add(ghost.id);
    const before = (await client(server)).secret_ids;
    const requestsBefore = fake.requests.length;
    const started = performance.now();
    const res = await server.admin<ErrorAnswer>("POST", `/admin/clients/${SLUG}/calcom-webhook`);
    const tookMs = performance.now() - started;
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "calcom_api_inconsistent");
    assert.match(res.body.error.message, /answered 404.*answered 409/);
    assert.match(res.body.error.message, /delete the webhook for this URL in Cal\.com/);
    assert.ok(tookMs < 30_000, `answered in ${Math.round(tookMs)} ms`);
    assert.ok(
      fake.requests.length - requestsBefore <= 12,
      `${fake.requests.length - requestsBefore} Cal.com calls`,
    );
    assert.deepEqual((await client(server)).secret_ids, before, "no secret Cal.com was never told of stays");

    // Once Cal.com agrees with itself again, connect repairs the webhook (with one new secret).
    fake.ghosts.clear();
    const repaired = await connect(server);
    assert.equal(repaired.action, "updated");
    assert.equal((await client(server)).secret_ids.length, before.length + 1);
  });
});

Deno.test("an older Cal.com that lacks some triggers gets those it has, and is not reported for the rest", async () => {
  await withConnectable(async ({ server, fake }) => {
    fake.triggers = CALCOM_TRIGGERS.filter((t) =>
      t !== "BOOKING_LOCATION_UPDATED" && t !== "BOOKING_REASSIGNED"
    );
    const result = await connect(server);
    assert.equal(result.action, "created");
    assert.ok(!result.triggers.includes("BOOKING_REASSIGNED"));
    assert.equal(result.triggers.length, WANTED_TRIGGERS.length - 2);
    assert.equal((await check(server)).state, "ok");
    assert.equal((await connect(server)).action, "unchanged");
  });
});

Deno.test("connect is refused with the reason without PUBLIC_URL, with an http one, or without an API key", async () => {
  for (const env of [{}, { PUBLIC_URL: "http://intake.example.com" }]) {
    await withConnectable(async ({ server, fake }) => {
      const res = await server.admin<ErrorAnswer>("POST", `/admin/clients/${SLUG}/calcom-webhook`);
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, "public_url_required");
      assert.match(res.body.error.message, /PUBLIC_URL/);
      assert.equal(fake.requests.length, 0);
    }, { ...ENV, ...env, ...(env.PUBLIC_URL ? {} : { PUBLIC_URL: "" }) });
  }
  await withConnectable(async ({ server }) => {
    await server.admin("PATCH", `/admin/clients/${SLUG}`, { calcom_api_key: null });
    const res = await server.admin<ErrorAnswer>("POST", `/admin/clients/${SLUG}/calcom-webhook`);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "no_api_key");
    const none = await server.admin<ErrorAnswer>("POST", `/admin/clients/nobody/calcom-webhook`);
    assert.equal(none.status, 404);
  });
});

Deno.test("disconnect removes only the webhook that delivers to the service", async () => {
  await withConnectable(async ({ server, fake }) => {
    const elsewhere = fake.addWebhook({ subscriberUrl: "https://hooks.example.org/catch/8842/cal" });
    await connect(server);
    const res = await server.admin<{ deleted: string }>("DELETE", `/admin/clients/${SLUG}/calcom-webhook`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(fake.userWebhooks().map((w) => w.id), [elsewhere.id]);
    assert.equal((await client(server)).calcom_webhook?.state, "missing");
    const again = await server.admin<ErrorAnswer>("DELETE", `/admin/clients/${SLUG}/calcom-webhook`);
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, "not_connected");
    // A webhook of this client's path on another host is not ours to remove.
    fake.addWebhook({ subscriberUrl: `https://old-tunnel.example.net/webhooks/calcom/${SLUG}` });
    assert.equal((await server.admin("DELETE", `/admin/clients/${SLUG}/calcom-webhook`)).status, 404);
    assert.equal(fake.userWebhooks().length, 2);
  });
});

/** What another instance does while a check here waits for Cal.com's (older) answer, and the state it leaves. */
const LATER: [string, (server: TestServer, fake: FakeCalcom) => Promise<void>, string][] = [
  ["a disconnect", async (server) => {
    const res = await server.admin("DELETE", `/admin/clients/${SLUG}/calcom-webhook`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }, "missing"],
  ["a later check", async (server, fake) => {
    ours(fake).active = false;
    assert.equal((await check(server)).state, "inactive");
  }, "inactive"],
];

for (const [later, act, state] of LATER) {
  Deno.test(`a check that saw Cal.com before ${later} elsewhere does not overwrite what that recorded`, async () => {
    const dir = await Deno.makeTempDir();
    const kvPath = `${dir}/kv.sqlite3`;
    try {
      await withConnectable(
        async ({ server, fake }) => {
          await connect(server);
          await server.service.reconciler.idle();
          // A second instance on the same KV (its own Cal.com client, so its requests are not queued behind ours).
          const other = await startMain({ ...ENV, KV_PATH: kvPath });
          try {
            // Its check's view of Cal.com (connected, switched on) arrives only after `act` has finished here.
            fake.lateMs = 500;
            const asked = fake.requests.length;
            const checking = other.admin("POST", `/admin/clients/${SLUG}/calcom-webhook/check`);
            while (fake.requests.length === asked) await new Promise((r) => setTimeout(r, 5));
            fake.lateMs = 0;
            await act(server, fake);
            assert.equal(await checking, 200);
            assert.equal((await client(server)).calcom_webhook?.state, state);
          } finally {
            await other.stop("SIGTERM");
          }
        },
        ENV,
        kvPath,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
