/**
 * The consumer example of docs/consumers.md, run for real: it follows a client's feed with a client
 * token while webhooks (creates, reschedules, cancellations, duplicates), replays and a
 * reconciliation pass run, is restarted from its saved state half-way, and ends with exactly the
 * Jobs the admin API shows; and as its own process, it outlives a restart of the service.
 */
import assert from "node:assert/strict";
import { type State, step } from "../../docs/examples/follow_changes.ts";
import { apiBooking, FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";
import {
  addClient,
  ADMIN_TOKEN,
  bookingCreated,
  calcomBody,
  FIXTURE_SECRET,
  type JobView,
  listAll,
  postSigned,
  startMain,
  type TestServer,
  waitFor,
  waitSettled,
  withServer,
  withTempDir,
} from "../_helpers.ts";

const EXAMPLE = new URL("../../docs/examples/follow_changes.ts", import.meta.url).pathname;

const post = async (server: TestServer, body: string) => {
  const res = await server.post("acme", body);
  assert.ok(res.status === 202 || res.status === 200, `${res.status}`);
  await res.body?.cancel();
};

Deno.test("a consumer following the feed through webhooks, replays, reconciliation and its own restart ends with the admin API's Jobs", async () => {
  const fake = startFakeCalcom();
  try {
    await withServer({ port: true }, async (server) => {
      await addClient(server, "acme");
      await server.admin("PUT", "/admin/clients/acme", {
        calcom_api_key: FAKE_API_KEY,
        calcom_api_url: fake.url,
      });
      const issued = await server.admin<{ token: string }>("POST", "/admin/clients/acme/tokens", {
        name: "example",
        scopes: ["jobs:read", "changes:read"],
      });
      const source = { url: server.url, slug: "acme", token: issued.body.token };
      // Its saved state is a JSON string, as the example writes to a file.
      let saved = JSON.stringify({ cursor: null, jobs: {} } satisfies State);
      const save = (s: State) => Promise.resolve(void (saved = JSON.stringify(s)));

      const running = { stop: false };
      const follower = (async () => {
        let state: State = JSON.parse(saved);
        let restarted = false;
        while (!running.stop) {
          ({ state } = await step(source, state, save, { waitSeconds: 1 }));
          if (!restarted && Object.keys(state.jobs).length >= 10) {
            // A restart: everything in memory is gone; it goes on from what it saved.
            restarted = true;
            state = JSON.parse(saved);
          }
        }
      })();

      // Webhooks: 20 bookings, some rescheduled, some cancelled, some delivered twice.
      for (let i = 0; i < 20; i++) {
        const body = bookingCreated(
          `fc-${i}`,
          `p${i % 6}@example.com`,
          `2026-10-01T10:${String(i).padStart(2, "0")}:00.000Z`,
        );
        await post(server, body);
        if (i % 4 === 0) await post(server, body);
        if (i % 3 === 0) {
          await post(
            server,
            calcomBody("BOOKING_RESCHEDULED", `2026-10-02T10:${String(i).padStart(2, "0")}:00.000Z`, {
              uid: `fc-${i}-r`,
              rescheduleUid: `fc-${i}`,
              startTime: "2026-11-20T10:00:00Z",
              endTime: "2026-11-20T11:00:00Z",
              attendees: [{ email: `p${i % 6}@example.com`, name: "P" }],
            }),
          );
        }
        if (i % 5 === 0) {
          await post(
            server,
            calcomBody("BOOKING_CANCELLED", `2026-10-03T10:${String(i).padStart(2, "0")}:00.000Z`, {
              uid: i % 3 === 0 ? `fc-${i}-r` : `fc-${i}`,
              startTime: "2026-11-20T10:00:00Z",
              attendees: [{ email: `p${i % 6}@example.com`, name: "P" }],
              cancellationReason: "no longer needed",
            }),
          );
        }
      }
      await waitSettled(server, "acme");
      // A replay of everything (changes nothing), and a reconciliation pass that finds two bookings no
      // webhook delivered and one that changed in Cal.com.
      assert.equal((await server.admin("POST", "/admin/clients/acme/replay?status=processed")).status, 200);
      fake.put(apiBooking("fc-api-1"), apiBooking("fc-api-2"), apiBooking("fc-1", { status: "cancelled" }));
      assert.equal((await server.admin("POST", "/admin/clients/acme/reconcile")).status, 200);
      await waitSettled(server, "acme");

      // Caught up: two empty steps in a row mean the follower has seen everything.
      const jobs: JobView[] = await listAll(server, "/admin/clients/acme/jobs");
      const expected = Object.fromEntries(jobs.map((j) => [j.id, j]));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const held = JSON.parse(saved) as State;
        const mine = Object.fromEntries(Object.values(held.jobs).map((h) => [h.job.id, h.job]));
        if (JSON.stringify(Object.keys(mine).sort()) === JSON.stringify(Object.keys(expected).sort())) {
          try {
            assert.deepEqual(mine, expected);
            break;
          } catch { /* not yet */ }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      running.stop = true;
      await follower;
      const held = JSON.parse(saved) as State;
      assert.deepEqual(
        Object.fromEntries(Object.values(held.jobs).map((h) => [h.job.id, h.job])),
        expected,
        "the consumer's copy is the admin API's Jobs",
      );
      assert.ok(
        jobs.some((j) => j.calcom_event_id === "fc-api-1"),
        "reconciliation's Jobs came through the feed",
      );
      assert.equal(jobs.find((j) => j.calcom_event_id === "fc-1")?.status, "cancelled");
    });
  } finally {
    await fake.close();
  }
});

Deno.test("the example as its own process survives a restart of the service and goes on from its cursor", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const stateFile = `${dir}/jobs-state.json`;
    let service = await startMain({ KV_PATH: kvPath });
    const port = new URL(service.url).port;
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
    const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${service.url}${path}`, { method, headers, body: JSON.stringify(body) });
      assert.ok(res.ok, `${path}: ${res.status}`);
      return await res.json();
    };
    const book = async (uid: string) => {
      const body = bookingCreated(uid, `${uid}@example.com`, "2026-10-01T10:00:00.000Z");
      assert.equal(await postSigned(service.url, "acme", body), 202);
    };
    const held = async () => {
      try {
        return Object.values((JSON.parse(await Deno.readTextFile(stateFile)) as State).jobs).length;
      } catch {
        return 0;
      }
    };
    await admin("PUT", "/admin/clients/acme", { secret: FIXTURE_SECRET });
    const { token } = await admin<{ token: string }>("POST", "/admin/clients/acme/tokens", {
      name: "example",
      scopes: ["jobs:read", "changes:read"],
    });
    const follower = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", EXAMPLE],
      env: {
        INTAKE_URL: service.url,
        CLIENT_SLUG: "acme",
        INTAKE_TOKEN: token,
        STATE_FILE: stateFile,
        WAIT_SECONDS: "1",
      },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(follower.stderr).text();
    try {
      await book("before");
      await waitFor("the follower to hold the first Job", async () => (await held()) === 1);

      await service.stop("SIGTERM");
      // Away for a while: the follower's requests fail, and it waits and tries again.
      await new Promise((r) => setTimeout(r, 2500));
      service = await startMain({ KV_PATH: kvPath, PORT: port });
      await book("after");
      await waitFor("the follower to hold the second Job", async () => (await held()) === 2, 30_000);
      const state = JSON.parse(await Deno.readTextFile(stateFile)) as State;
      assert.deepEqual(
        Object.values(state.jobs).map((h) => h.job.calcom_event_id).sort(),
        ["after", "before"],
        "resumed from its cursor: nothing missed, nothing twice",
      );
    } finally {
      try {
        follower.kill("SIGTERM");
      } catch {
        // It already stopped: the assertions above say why that is wrong.
      }
      await follower.status;
      await service.stop("SIGTERM");
    }
    assert.match(await stderr, /trying again in \d+ ms/, "it said it would try again");
  });
});
