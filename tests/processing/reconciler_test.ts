/**
 * Reconciliation against a fake Cal.com API (a real local HTTP server): bookings no webhook
 * delivered, recurring cancel-all, templated webhooks, either order of webhook and snapshot,
 * reschedules seen only through the API, paging, 429s, 401s, slow answers, and a pass killed by
 * SIGKILL that resumes from its checkpoint.
 */
import assert from "node:assert/strict";
import { apiBooking, FAKE_API_KEY, type FakeCalcom, minuteApart, startFakeCalcom } from "../_fake_calcom.ts";
import {
  addClient,
  ADMIN_TOKEN,
  bookingCreated,
  calcomBody,
  type ClientView,
  FIXTURE_SECRET,
  found,
  jobState,
  type JobView,
  listAll,
  startMain,
  type TestServer,
  waitFor,
  withServer,
  withTempDir,
} from "../_helpers.ts";
import type { PassResult } from "../../lib/processing/reconciler.ts";

const FAST = { RECONCILE_BACKOFF_MS: "5", RECONCILE_TIMEOUT_MS: "2000" };

async function withFake(fn: (fake: FakeCalcom) => Promise<void>): Promise<void> {
  const fake = startFakeCalcom();
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

/** A client whose Cal.com API is the fake. */
async function addApiClient(server: TestServer, slug: string, fake: FakeCalcom): Promise<void> {
  await addClient(server, slug);
  const res = await server.admin("PUT", `/admin/clients/${slug}`, {
    calcom_api_key: FAKE_API_KEY,
    calcom_api_url: fake.url,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

async function reconcile(server: TestServer, slug: string) {
  return await server.admin<PassResult>("POST", `/admin/clients/${slug}/reconcile`);
}

async function jobByUid(server: TestServer, slug: string, uid: string): Promise<JobView | null> {
  const res = await server.admin<{ items: JobView[] }>(
    "GET",
    `/admin/clients/${slug}/jobs?calcom_event_id=${uid}`,
  );
  return res.body.items[0] ?? null;
}

async function client(server: TestServer, slug: string): Promise<ClientView> {
  return (await server.admin<ClientView>("GET", `/admin/clients/${slug}`)).body;
}

const summary = (r: PassResult) => ({
  fetched: r.fetched,
  created: r.created,
  updated: r.updated,
  unchanged: r.unchanged,
  missed_webhooks: r.missed_webhooks,
});

Deno.test("a booking no webhook delivered becomes a Job after a pass, counted once as a missed webhook", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      const recently = new Date(Date.now() - 60_000).toISOString();
      fake.put(apiBooking("never-sent-1", { email: "Quiet.Customer@Example.org", updatedAt: recently }));
      const first = await reconcile(server, "acme");
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.deepEqual(summary(first.body), {
        fetched: 1,
        created: 1,
        updated: 0,
        unchanged: 0,
        missed_webhooks: 1,
      });

      const job = found(await jobByUid(server, "acme", "never-sent-1"), "the Job");
      assert.equal(job.status, "scheduled");
      assert.equal(job.start_time, "2026-12-10T09:00:00.000Z");
      assert.equal(job.location, "Main Street 1");
      assert.deepEqual(job.events.map((e) => [e.kind, e.source]), [["snapshot", "api"]]);
      const contacts = await listAll(server, "/admin/clients/acme/contacts");
      assert.deepEqual(contacts.map((c) => c.email), ["quiet.customer@example.org"]);

      const view = await client(server, "acme");
      assert.equal(view.has_api_key, true);
      assert.equal(view.reconciliation.missed_webhooks, 1);
      assert.equal(view.reconciliation.api_key_state, "ok");
      const missed = await server.admin<{ items: { uid: string }[] }>(
        "GET",
        "/admin/clients/acme/missed_webhooks",
      );
      assert.deepEqual(missed.body.items.map((m) => m.uid), ["never-sent-1"]);

      // Cal.com's headers on every call; the key only in Authorization.
      assert.ok(fake.requests.length > 0);
      for (const r of fake.requests) {
        assert.equal(r.version, "2024-08-13");
        assert.equal(r.authorization, `Bearer ${FAKE_API_KEY}`);
      }
      const list = found(fake.requests.find((r) => r.path === "/v2/bookings"));
      assert.equal(list.query.get("status"), null, "no status filter: every status");
      assert.equal(list.query.get("sortUpdatedAt"), "asc");

      // A second pass re-reads the overlap: nothing doubles, nothing is counted twice.
      const second = await reconcile(server, "acme");
      assert.deepEqual(summary(second.body), {
        fetched: 1,
        created: 0,
        updated: 0,
        unchanged: 1,
        missed_webhooks: 0,
      });
      assert.ok(
        found(fake.requests.at(-1)).query.get("afterUpdatedAt"),
        "the second pass starts from the checkpoint",
      );
      assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 1);
      assert.equal((await listAll(server, "/admin/clients/acme/submissions")).length, 1);
      assert.equal((await client(server, "acme")).reconciliation.missed_webhooks, 1);
    });
  });
});

Deno.test("Cal.com's fixture pages: a reschedule pair is one Job, a host cancel is cancelled", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      for (const name of ["list_page1", "list_page2"]) {
        const page = JSON.parse(
          await Deno.readTextFile(new URL(`../fixtures/api/${name}.json`, import.meta.url)),
        );
        fake.put(...page.data);
      }
      const res = await reconcile(server, "acme");
      // Oldest change first: the new booking makes the Job; the old one, superseded by it, changes nothing.
      assert.deepEqual(summary(res.body), {
        fetched: 3,
        created: 2,
        updated: 0,
        unchanged: 1,
        missed_webhooks: 3,
      });
      const jobs = await listAll(server, "/admin/clients/acme/jobs");
      assert.equal(jobs.length, 2);
      const moved = found(await jobByUid(server, "acme", "f8TnQw4HsZ1aLc6VyPe0Rk"));
      assert.equal(moved.calcom_event_id, "k3Vq9ZtR2mXw8LpYb7NcHd");
      assert.deepEqual(moved.previous_event_ids, ["f8TnQw4HsZ1aLc6VyPe0Rk"]);
      assert.equal(moved.status, "scheduled");
      assert.equal(moved.start_time, "2025-06-12T09:00:00.000Z");
      assert.deepEqual(moved.responses, { "company-size": "51-200" });
      assert.deepEqual(moved.attendees.map((a) => a.email), [
        "priya.raman@example.org",
        "theo.lindqvist@example.org",
      ]);
      const cancelled = found(await jobByUid(server, "acme", "qW7eP2sK9dFz4HmXc1VbLo"));
      assert.equal(cancelled.status, "cancelled");
    });
  });
});

Deno.test("paging: 250 bookings over several pages all become Jobs; the checkpoint moves", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      fake.put(...minuteApart("page", 250));
      const res = await reconcile(server, "acme");
      assert.equal(res.body.fetched, 250);
      assert.equal(res.body.created, 250);
      assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 250);
      const skips = fake.requests.filter((r) => r.path === "/v2/bookings").map((r) =>
        Number(r.query.get("skip"))
      );
      assert.ok(skips.length >= 3, `several pages: ${skips}`);
      assert.ok(skips.every((s, i) => i === 0 || s > skips[i - 1]), "each page further on");
      assert.ok(found((await client(server, "acme")).reconciliation.checkpoint) > "2026-11-01");
    });
  });
});

Deno.test("recurring cancel-all: one webhook, every occurrence ends cancelled through the API", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      const occurrences = ["occ-1", "occ-2", "occ-3"];
      for (const [i, uid] of occurrences.entries()) {
        const res = await server.post(
          "acme",
          bookingCreated(uid, "series@example.org", `2026-11-0${i + 1}T10:00:00.000Z`),
        );
        assert.equal(res.status, 202);
      }
      await waitFor(
        "the three Jobs",
        async () => (await listAll(server, "/admin/clients/acme/jobs")).length === 3,
      );
      // In Cal.com's database the whole series is cancelled; the webhook names only occ-1.
      for (const uid of occurrences) {
        fake.put(apiBooking(uid, {
          status: "cancelled",
          recurringBookingUid: "series-9",
          updatedAt: "2026-11-05T12:00:00.000Z",
          cancellationReason: "Moving away",
        }));
      }
      const cancel = calcomBody("BOOKING_CANCELLED", "2026-11-05T11:59:59.000Z", {
        uid: "occ-1",
        attendees: [{ email: "series@example.org", name: "Pat Example" }],
        recurringEvent: { freq: 2, count: 3, interval: 1 },
        cancellationReason: "Moving away",
        requestReschedule: false,
        status: "CANCELLED",
      });
      assert.equal((await server.post("acme", cancel)).status, 202);
      await waitFor("every occurrence cancelled", async () => {
        const jobs = await Promise.all(occurrences.map((uid) => jobByUid(server, "acme", uid)));
        return jobs.every((j) => j?.status === "cancelled");
      });
      assert.ok(
        fake.requests.some((r) => r.path === "/v2/bookings/occ-1"),
        "the cancelled occurrence is read by uid",
      );
      assert.ok(fake.requests.some((r) => r.path === "/v2/bookings/series-9"), "and its series");
      assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 3, "no Job doubled");
      assert.equal(
        (await client(server, "acme")).reconciliation.missed_webhooks,
        0,
        "all three had webhooks",
      );
    });
  });
});

/** Cal.com's docs example of a payload template: no triggerEvent, no uid. */
function templatedBody(): string {
  return JSON.stringify({
    content: "A new event has been scheduled",
    type: "30min",
    name: "Consultation tpl-1",
    organizer: "Dana Whitfield",
    booker: "Priya Raman",
  });
}

Deno.test("payload templates: 422 with the exact fix, the client is marked, the booking still ends as a Job", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      fake.put(apiBooking("tpl-1"));
      const body = templatedBody();
      const first = await server.post("acme", body);
      assert.equal(first.status, 422);
      const answer = await first.json();
      assert.equal(answer.error.code, "payload_template");
      assert.match(answer.error.message, /clear the payload template of the webhook in Cal\.com/i);

      // A pass on demand while the one the delivery started runs: it waits its turn, never 409.
      const onDemand = await reconcile(server, "acme");
      assert.equal(onDemand.status, 200, JSON.stringify(onDemand.body));

      // The same bytes get the same answer: same status, same submission id.
      const again = await server.post("acme", body);
      assert.equal(again.status, 422);
      const repeat = await again.json();
      assert.equal(repeat.error.code, "payload_template");
      assert.equal(repeat.submission_id, answer.submission_id);

      const view = await client(server, "acme");
      assert.match(found(view.payload_template_detected).message, /clear the payload template/i);
      assert.ok(view.problems.some((p) => p.code === "payload_template_detected"));
      await waitFor(
        "the booking through reconciliation",
        () => jobByUid(server, "acme", "tpl-1").then((j) => j ?? false),
      );
      await server.service.reconciler.idle();

      // A templated Ping is answered 4xx saying exactly that.
      const ping = JSON.stringify({ content: "Test trigger event", type: "Test" });
      const pinged = await server.post("acme", ping);
      assert.equal(pinged.status, 422);
      assert.match((await pinged.json()).error.message, /payload template/);

      // A body in Cal.com's own format clears the mark: the template was removed.
      assert.equal((await server.post("acme", bookingCreated("after-fix", "a@example.org"))).status, 202);
      assert.equal((await client(server, "acme")).payload_template_detected, null);
    });
  });
});

Deno.test("a client without an API key behaves as before: no pass, a clear 409", async () => {
  await withServer({ env: FAST }, async (server) => {
    await addClient(server, "acme");
    const res = await reconcile(server, "acme");
    assert.equal(res.status, 409);
    assert.equal((res.body as unknown as { error: { code: string } }).error.code, "no_api_key");
    assert.equal((await server.post("acme", templatedBody())).status, 422);
    await server.service.reconciler.idle();
    const view = await client(server, "acme");
    assert.equal(view.has_api_key, false);
    assert.equal(view.reconciliation.last_pass, null);
  });
});

Deno.test("a webhook and an API snapshot of the same booking, in either order, give the same Job", async () => {
  const webhook = bookingCreated("same-1", "order@example.org", "2026-11-10T08:00:00.000Z", {
    startTime: "2026-12-10T09:00:00Z",
    endTime: "2026-12-10T09:30:00Z",
    location: "Main Street 1",
  });
  const snapshot = apiBooking("same-1", {
    email: "order@example.org",
    status: "cancelled",
    cancellationReason: "Feeling better",
    createdAt: "2026-11-10T07:59:59.000Z",
    updatedAt: "2026-11-11T09:00:00.000Z",
  });
  const states: unknown[] = [];
  for (const webhookFirst of [true, false]) {
    await withFake(async (fake) => {
      await withServer({ env: FAST }, async (server) => {
        await addApiClient(server, "acme", fake);
        fake.put(snapshot);
        if (webhookFirst) assert.equal((await server.post("acme", webhook)).status, 202);
        await waitFor(
          "webhook processed",
          async () => !webhookFirst || (await jobByUid(server, "acme", "same-1")),
        );
        assert.equal((await reconcile(server, "acme")).status, 200);
        if (!webhookFirst) assert.equal((await server.post("acme", webhook)).status, 202);
        const job = await waitFor("the Job with both events", async () => {
          const j = await jobByUid(server, "acme", "same-1");
          return j && j.events.length === 2 ? j : undefined;
        });
        assert.equal(job.status, "cancelled");
        assert.equal(job.cancellation_reason, "Feeling better");
        assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 1);
        states.push(jobState(job));
      });
    });
  }
  assert.deepEqual(states[0], states[1]);
});

Deno.test("a reschedule seen only through the API keeps one Job", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      assert.equal((await server.post("acme", bookingCreated("old-uid", "mover@example.org"))).status, 202);
      await waitFor("the Job", () => jobByUid(server, "acme", "old-uid").then((j) => j ?? false));
      // Only the old booking is in the list window; the new one is read by uid.
      fake.put(apiBooking("old-uid", {
        email: "mover@example.org",
        status: "cancelled",
        rescheduledToUid: "new-uid",
        updatedAt: "2026-11-12T10:00:00.000Z",
      }));
      fake.put(apiBooking("new-uid", {
        email: "mover@example.org",
        rescheduledFromUid: "old-uid",
        start: "2026-12-11T15:00:00.000Z",
        end: "2026-12-11T15:30:00.000Z",
        updatedAt: null,
        createdAt: "2026-11-12T10:00:00.000Z",
      }));
      const res = await reconcile(server, "acme");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const jobs = await listAll(server, "/admin/clients/acme/jobs");
      assert.equal(jobs.length, 1, "one Job");
      const job = jobs[0];
      assert.equal(job.calcom_event_id, "new-uid");
      assert.deepEqual(job.previous_event_ids, ["old-uid"]);
      assert.equal(job.status, "scheduled");
      assert.equal(job.start_time, "2026-12-11T15:00:00.000Z");
      assert.ok(fake.requests.some((r) => r.path === "/v2/bookings/new-uid"));
    });
  });
});

Deno.test("429s are waited out with one request in flight; a refused key marks the client; ingest goes on", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      fake.put(apiBooking("rl-1"));
      fake.rateLimitNext = 3;
      const ok = await reconcile(server, "acme");
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.created, 1);
      assert.equal(fake.maxInFlight, 1);

      fake.rejectKey = true;
      const refused = await reconcile(server, "acme");
      assert.equal(refused.status, 422, "the key is wrong: the operator's to fix, not Cal.com down");
      const error = (refused.body as unknown as { error: { code: string; message: string } }).error;
      assert.equal(error.code, "calcom_api_key_rejected");
      assert.match(
        error.message,
        /PUT \/admin\/clients\/acme \{"calcom_api_key"/,
        "names the fix for this client",
      );
      const view = await client(server, "acme");
      assert.equal(view.reconciliation.api_key_state, "rejected");
      assert.ok(view.problems.some((p) => p.code === "api_key_rejected" && /API key/.test(p.message)));
      assert.equal((await server.post("acme", bookingCreated("still-1", "b@example.org"))).status, 202);
      // A new key clears the mark until a pass tries it.
      await server.admin("PUT", "/admin/clients/acme", { calcom_api_key: FAKE_API_KEY });
      const renewed = await client(server, "acme");
      assert.equal(renewed.api_key_state, "unchecked");
      assert.ok(!renewed.problems.some((p) => p.code === "api_key_rejected"));

      // The key is never shown or logged.
      const everything = JSON.stringify(view) + JSON.stringify(refused.body) + server.logs.join("\n");
      assert.ok(!everything.includes(FAKE_API_KEY), "the API key leaked");
      assert.ok(!everything.includes("fake_0123456789"), "part of the API key leaked");
    });
  });
});

Deno.test("a slow Cal.com fails the pass after the timeout and keeps the checkpoint", async () => {
  await withFake(async (fake) => {
    await withServer({ env: { RECONCILE_BACKOFF_MS: "1", RECONCILE_TIMEOUT_MS: "200" } }, async (server) => {
      await addApiClient(server, "acme", fake);
      fake.put(apiBooking("slow-1"));
      fake.delayMs = 1000;
      const res = await reconcile(server, "acme");
      assert.equal(res.status, 502);
      assert.equal((res.body as unknown as { error: { code: string } }).error.code, "calcom_api_failed");
      const view = await client(server, "acme");
      assert.equal(view.reconciliation.checkpoint, null);
      assert.equal(view.reconciliation.last_pass?.ok, false);
      fake.delayMs = 0;
      assert.equal((await reconcile(server, "acme")).status, 200, "the next pass works");
    });
  });
});

Deno.test("a pass killed by SIGKILL resumes from its checkpoint without doubling anything", async () => {
  await withFake(async (fake) => {
    await withTempDir(async (dir) => {
      const total = 400;
      fake.put(...minuteApart("kill", total));
      const env = { KV_PATH: `${dir}/kv.sqlite3`, RECONCILE_LEASE_MS: "1000", ...FAST };
      let main = await startMain(env);
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      const admin = (m: RunningMainLike, method: string, path: string, body?: unknown) =>
        fetch(`${m.url}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      try {
        await (await admin(main, "PUT", "/admin/clients/acme", {
          secret: FIXTURE_SECRET,
          calcom_api_key: FAKE_API_KEY,
          calcom_api_url: fake.url,
        })).body?.cancel();
        fake.delayMs = 150;
        const pass = admin(main, "POST", "/admin/clients/acme/reconcile").catch(() => null);
        const pages = () => fake.requests.filter((r) => r.path === "/v2/bookings").length;
        await waitFor("two pages read", () => pages() >= 3, 30_000);
        await main.stop("SIGKILL");
        await pass;
        const killedAfter = pages();

        main = await startMain(env);
        fake.delayMs = 0;
        await new Promise((r) => setTimeout(r, 1100)); // the dead pass's lease runs out
        const resumed = await admin(main, "POST", "/admin/clients/acme/reconcile");
        const result: PassResult = await resumed.json();
        assert.equal(resumed.status, 200, JSON.stringify(result));
        const firstResumed = fake.requests.filter((r) => r.path === "/v2/bookings")[killedAfter];
        assert.ok(firstResumed.query.get("afterUpdatedAt"), "the resumed pass starts from the checkpoint");
        assert.ok(result.fetched < total, `it did not start over: fetched ${result.fetched}`);

        const jobs = await main.list("/admin/clients/acme/jobs");
        assert.equal(jobs.length, total, "every booking is a Job");
        assert.equal(new Set(jobs.map((j) => j.calcom_event_id)).size, total, "none doubled");
        const submissions = await main.list("/admin/clients/acme/submissions");
        assert.equal(submissions.length, total, "each snapshot stored once");
        assert.ok(submissions.every((s) => s.status === "processed"));
        const contacts = await main.list("/admin/clients/acme/contacts");
        assert.equal(contacts.length, total);
      } finally {
        await main.stop("SIGTERM");
      }
    });
  });
});

type RunningMainLike = { url: string };

Deno.test("X-Cal-Webhook-Version is recorded; 2026-07-27 bodies with large ICS content are stored and processed", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const ics = "BEGIN:VCALENDAR\r\n" + "DESCRIPTION:".padEnd(70, "x").concat("\r\n").repeat(4000) +
      "END:VCALENDAR";
    const body = bookingCreated("ics-1", "ics@example.org", "2026-11-01T10:00:00.000Z", {
      attendeeIcsContent: ics,
      organizerIcsContent: ics,
    });
    assert.ok(body.length > 500_000);
    const res = await server.post("acme", body, FIXTURE_SECRET, { "x-cal-webhook-version": "2026-07-27" });
    assert.equal(res.status, 202, await res.clone().text());
    const job = await waitFor("the Job", () => jobByUid(server, "acme", "ics-1").then((j) => j ?? false));
    assert.equal(job.status, "scheduled");
    assert.equal((await client(server, "acme")).webhook_version, "2026-07-27");
  });
});

Deno.test("BOOKING_REASSIGNED and BOOKING_LOCATION_UPDATED change the same Job", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    await server.post("acme", bookingCreated("rr-1", "rr@example.org", "2026-11-01T10:00:00.000Z"));
    const base = {
      uid: "rr-1",
      startTime: "2026-10-14T16:00:00Z",
      attendees: [{ email: "rr@example.org", name: "Pat Example" }],
    };
    const reassigned = calcomBody("BOOKING_REASSIGNED", "2026-11-02T10:00:00.000Z", {
      ...base,
      organizer: { email: "second.host@business.example", name: "Second Host" },
      addedHostUserIds: [12],
      removedHostUserIds: [11],
    });
    const moved = calcomBody("BOOKING_LOCATION_UPDATED", "2026-11-03T10:00:00.000Z", {
      ...base,
      organizer: { email: "second.host@business.example" },
      location: "https://meet.example/room-2",
    });
    assert.equal((await server.post("acme", reassigned)).status, 202);
    assert.equal((await server.post("acme", moved)).status, 202);
    const job = await waitFor("both applied", async () => {
      const j = await jobByUid(server, "acme", "rr-1");
      return j && j.events.length === 3 ? j : undefined;
    });
    assert.equal(job.organizer_email, "second.host@business.example");
    assert.equal(job.location, "https://meet.example/room-2");
    assert.equal(job.status, "scheduled");
    assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 1);
  });
});

Deno.test("API keys: write-only, validated, removable; the URL defaults to Cal.com's", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    assert.equal((await client(server, "acme")).calcom_api_url, "https://api.cal.com/v2");
    const bad = await server.admin("PUT", "/admin/clients/acme", { calcom_api_url: "ftp://x" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_calcom_api_url");
    const badKey = await server.admin("PUT", "/admin/clients/acme", { calcom_api_key: "has space" });
    assert.equal(badKey.body.error.code, "invalid_calcom_api_key");
    const set = await server.admin("PUT", "/admin/clients/acme", {
      calcom_api_key: "cal_live_secretvalue999",
      calcom_api_url: "https://api.cal.eu/v2/",
    });
    assert.equal(set.status, 200);
    assert.ok(!JSON.stringify(set.body).includes("secretvalue999"));
    const view = await client(server, "acme");
    assert.equal(view.has_api_key, true);
    assert.equal(view.calcom_api_url, "https://api.cal.eu/v2");
    await server.admin("PUT", "/admin/clients/acme", { calcom_api_url: "https://cal.example.com" });
    assert.equal(
      (await client(server, "acme")).calcom_api_url,
      "https://cal.example.com/v2",
      "a bare host gets /v2",
    );
    assert.ok(!server.logs.join("\n").includes("secretvalue999"));
    await server.admin("PUT", "/admin/clients/acme", { calcom_api_key: null });
    assert.equal((await client(server, "acme")).has_api_key, false);
  });
});

Deno.test("a client deleted during a pass: the pass stops and leaves nothing of the client behind", async () => {
  await withFake(async (fake) => {
    await withServer({ env: FAST }, async (server) => {
      await addApiClient(server, "acme", fake);
      fake.put(...minuteApart("gone", 150));
      fake.delayMs = 200;
      const pass = reconcile(server, "acme");
      await waitFor("the first page", () => fake.requests.length >= 1);
      assert.equal((await server.admin("DELETE", "/admin/clients/acme")).status, 200);
      const res = await pass;
      assert.notEqual(res.status, 200, "the pass does not report success for a deleted client");
      await server.service.reconciler.idle();
      const left = await Array.fromAsync(server.kv.list({ prefix: [] }), (e) => JSON.stringify(e.key));
      assert.deepEqual(left.filter((k) => k.includes('"acme"') && !k.includes("client_generations")), []);
    });
  });
});
