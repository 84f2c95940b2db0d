/**
 * Write-back against the fake Cal.com that acts and echoes (`tests/_fake_calcom.ts`), over a real
 * port (the echo is a real signed webhook back to the service): each action, off by default, a
 * duplicate request, a key reused with another body, a refusal, a rate limit, an echo that comes
 * first or late (or as BOOKING_REQUESTED), no echo at all (reconciliation settles it), and a crash
 * between Cal.com's answer and our commit (SIGKILL): the retry never acts twice.
 */
import assert from "node:assert/strict";
import { apiBooking, FAKE_API_KEY, type FakeCalcom, startFakeCalcom } from "../_fake_calcom.ts";
import {
  ADMIN_TOKEN,
  bookingCreated,
  FIXTURE_SECRET,
  startMain,
  type TestServer,
  waitFor,
  withServer,
  withTempDir,
} from "../_helpers.ts";
import { openKv } from "../../lib/store/kv.ts";
import { putClient } from "../../lib/store/clients.ts";
import { signBody } from "../../lib/calcom/signature.ts";
import type { JobAnswer } from "../../lib/api/schemas.ts";
import { SETTLE_BY_PASS_MS, WRITES_PER_MINUTE } from "../../lib/processing/write_back.ts";
import { getReconcileState } from "../../lib/store/reconcile.ts";

const FUTURE = new Date(Date.now() + 7 * 86_400_000);
FUTURE.setUTCMinutes(0, 0, 0);
const START = FUTURE.toISOString();
const END = new Date(FUTURE.getTime() + 3600_000).toISOString();
const EMAIL = "pat@example.com";

/** A client with write-back on, its Cal.com the fake, and a Job for booking `uid` (in both). */
async function setUp(server: TestServer, fake: FakeCalcom, uid: string, status = "accepted") {
  const put = await server.admin("PUT", "/admin/clients/acme", {
    secret: FIXTURE_SECRET,
    calcom_api_key: FAKE_API_KEY,
    calcom_api_url: fake.url,
    write_back: true,
  });
  assert.ok(put.status < 300, JSON.stringify(put.body));
  fake.echo = { url: `${server.url}/webhooks/calcom/acme`, secret: FIXTURE_SECRET };
  fake.put(apiBooking(uid, { start: START, end: END, status, email: EMAIL }));
  // A booking awaiting confirmation arrives as BOOKING_REQUESTED.
  const made = bookingCreated(uid, EMAIL, new Date().toISOString(), {
    startTime: START,
    endTime: END,
    status: status === "pending" ? "PENDING" : "ACCEPTED",
  });
  const created = status === "pending" ? made.replace('"BOOKING_CREATED"', '"BOOKING_REQUESTED"') : made;
  const res = await server.post("acme", created);
  await res.body?.cancel();
  const jobs = await server.admin<{ items: JobAnswer[] }>(
    "GET",
    `/admin/clients/acme/jobs?calcom_event_id=${uid}`,
  );
  return jobs.body.items[0];
}

async function act(server: TestServer, jobId: string, action: string, body: unknown, key: string | null) {
  const res = await server.fetch(`/api/v1/clients/acme/jobs/${jobId}/${action}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      "content-type": "application/json",
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function job(server: TestServer, id: string): Promise<JobAnswer> {
  return (await server.admin<JobAnswer>("GET", `/admin/clients/acme/jobs/${id}`)).body;
}

async function changesOf(server: TestServer, jobId: string): Promise<string[]> {
  const feed = await server.admin<{ items: { job_id: string; type: string }[] }>(
    "GET",
    "/api/v1/clients/acme/changes?limit=500",
  );
  return feed.body.items.filter((e) => e.job_id === jobId).map((e) => e.type);
}

async function withCalcom(fn: (server: TestServer, fake: FakeCalcom) => Promise<void>) {
  const fake = startFakeCalcom();
  try {
    await withServer({ port: true, mode: "inline" }, (server) => fn(server, fake));
  } finally {
    await fake.close();
  }
}

Deno.test("write-back is off until the operator turns it on, and needs an Idempotency-Key", async () => {
  await withCalcom(async (server, fake) => {
    const j = await setUp(server, fake, "wb-off");
    assert.equal((await server.admin("PATCH", "/admin/clients/acme", { write_back: false })).status, 200);
    const off = await act(server, j.id, "cancel", {}, "k-off");
    assert.equal(off.status, 403);
    assert.equal(off.body.error.code, "write_back_off");
    assert.equal((await server.admin("PATCH", "/admin/clients/acme", { write_back: true })).status, 200);
    const keyless = await act(server, j.id, "cancel", {}, null);
    assert.equal(keyless.status, 400);
    assert.equal(keyless.body.error.code, "idempotency_key_required");
    assert.equal(fake.actions.length, 0, "nothing reached Cal.com");
  });
});

Deno.test("cancel: Cal.com acts once, its echo settles pending_action in the change that applies it; a retry answers the same", async () => {
  await withCalcom(async (server, fake) => {
    const j = await setUp(server, fake, "wb-cancel");
    // The echo comes after the answer: the Job shows the pending action first.
    fake.echoDelayMs = 300;
    const first = await act(server, j.id, "cancel", { reason: "Customer called" }, "k-cancel");
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.action.action, "cancel");
    assert.equal(first.body.action.by, "admin");
    assert.equal(first.body.job.pending_action.action, "cancel");
    assert.equal(first.body.job.status, "scheduled", "the Job says what Cal.com has done: not yet echoed");
    assert.deepEqual(fake.actions.map((a) => [a.uid, a.action, a.body]), [
      ["wb-cancel", "cancel", { cancellationReason: "Customer called" }],
    ]);

    const settled = await waitFor("the echo settles it", async () => {
      const now = await job(server, j.id);
      return now.status === "cancelled" ? now : undefined;
    });
    assert.equal(settled.pending_action, null);
    assert.equal(settled.cancellation_reason, "Customer called");
    assert.deepEqual(await changesOf(server, j.id), ["job.created", "job.updated", "job.cancelled"]);

    // The same request again: the first answer, and Cal.com is not called.
    const again = await act(server, j.id, "cancel", { reason: "Customer called" }, "k-cancel");
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.action, first.body.action);
    assert.equal(fake.actions.length, 1);
    // The key with another body: refused.
    const other = await act(server, j.id, "cancel", { reason: "Something else" }, "k-cancel");
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, "idempotency_key_reused");

    // Cancelling it again (a new request): Cal.com refuses; its reason is answered, the Job unchanged.
    const before = await job(server, j.id);
    const refused = await act(server, j.id, "cancel", {}, "k-cancel-2");
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "calcom_refused");
    assert.match(refused.body.error.message, /already been cancelled/);
    assert.equal((await job(server, j.id)).version, before.version);
    const refusedAgain = await act(server, j.id, "cancel", {}, "k-cancel-2");
    assert.deepEqual(refusedAgain.body, refused.body, "a refusal is answered again too");
    assert.equal(fake.echoes.every((e) => e.status < 300), true, "every echo was accepted");
  });
});

Deno.test("reschedule: an echo that arrives first as BOOKING_REQUESTED (Cal.com's bug) still settles it; a taken slot is refused", async () => {
  await withCalcom(async (server, fake) => {
    const j = await setUp(server, fake, "wb-move");
    const moved = new Date(FUTURE.getTime() + 86_400_000).toISOString();
    fake.takenSlots.add(moved);
    const taken = await act(server, j.id, "reschedule", { start: moved }, "k-taken");
    assert.equal(taken.status, 409);
    assert.match(taken.body.error.message, /not available/);
    assert.equal((await job(server, j.id)).start_time, START);

    fake.takenSlots.clear();
    fake.rescheduleAsRequested = true;
    const ok = await act(server, j.id, "reschedule", { start: moved, reason: "Van broke down" }, "k-move");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const now = await job(server, j.id);
    assert.equal(Date.parse(now.start_time!), Date.parse(moved));
    assert.notEqual(now.calcom_event_id, "wb-move");
    assert.ok(now.previous_event_ids.includes("wb-move"));
    assert.equal(now.pending_action ?? null, null, "the echo came first: nothing left pending");
    assert.deepEqual(fake.echoes.map((e) => e.trigger), ["BOOKING_REQUESTED"]);
    const past = await act(server, j.id, "reschedule", { start: "2020-01-01T00:00:00Z" }, "k-past");
    assert.equal(past.status, 400);
    assert.equal(past.body.error.code, "invalid_start");
  });
});

Deno.test("no-show, confirm and decline each reach Cal.com and settle from its echo", async () => {
  await withCalcom(async (server, fake) => {
    const shown = await setUp(server, fake, "wb-noshow");
    const unknown = await act(server, shown.id, "no-show", { attendees: ["stranger@example.com"] }, "k-ns0");
    assert.equal(unknown.status, 400);
    const ns = await act(server, shown.id, "no-show", { attendees: [EMAIL] }, "k-ns");
    assert.equal(ns.status, 200, JSON.stringify(ns.body));
    const marked = await waitFor("the no-show echoed", async () => {
      const now = await job(server, shown.id);
      return now.attendees[0].no_show ? now : undefined;
    });
    assert.equal(marked.pending_action ?? null, null);

    const pending = await setUp(server, fake, "wb-confirm", "pending");
    assert.equal(pending.status, "requested");
    const confirmed = await act(server, pending.id, "confirm", {}, "k-confirm");
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    await waitFor(
      "confirmed",
      async () => (await job(server, pending.id)).status === "scheduled" || undefined,
    );

    const declining = await setUp(server, fake, "wb-decline", "pending");
    const declined = await act(server, declining.id, "decline", { reason: "Out of area" }, "k-decline");
    assert.equal(declined.status, 200, JSON.stringify(declined.body));
    const after = await waitFor("declined", async () => {
      const now = await job(server, declining.id);
      return now.status === "rejected" ? now : undefined;
    });
    assert.equal(after.pending_action ?? null, null);
    assert.deepEqual(fake.actions.map((a) => a.action), ["mark-absent", "confirm", "decline"]);
  });
});

Deno.test("no echo: the action stays pending until a pass, due within minutes, reads Cal.com's booking and settles it", async () => {
  await withCalcom(async (server, fake) => {
    const j = await setUp(server, fake, "wb-silent");
    fake.echo = null;
    // A pass now puts the next one a whole interval away.
    assert.equal((await server.admin("POST", "/admin/clients/acme/reconcile")).status, 200);
    const later = (await getReconcileState(server.kv, "acme")).due_at ?? null;
    assert.ok(later !== null && later > Date.now() + SETTLE_BY_PASS_MS, `the pass is due at ${later}`);
    const res = await act(server, j.id, "cancel", {}, "k-silent");
    assert.equal(res.status, 200);
    assert.equal((await job(server, j.id)).pending_action?.action, "cancel");
    // The client's next pass was brought forward to within minutes of the action.
    const due = (await getReconcileState(server.kv, "acme")).due_at ?? null;
    assert.ok(due !== null && due <= Date.now() + SETTLE_BY_PASS_MS, `the pass is due at ${due}`);
    assert.equal((await server.admin("POST", "/admin/clients/acme/reconcile")).status, 200);
    const now = await job(server, j.id);
    assert.equal(now.status, "cancelled");
    assert.equal(now.pending_action, null);
  });
});

Deno.test("a 429 answers 429 with Retry-After and changes nothing; writes keep within their share of the key; slots are cached", async () => {
  await withCalcom(async (server, fake) => {
    const j = await setUp(server, fake, "wb-busy");
    fake.rateLimitNext = 1;
    const busy = await act(server, j.id, "cancel", {}, "k-busy");
    assert.equal(busy.status, 429);
    assert.ok(Number(busy.headers.get("retry-after")) >= 1);
    assert.equal((await job(server, j.id)).pending_action ?? null, null);
    const ok = await act(server, j.id, "cancel", {}, "k-busy");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(fake.actions.length, 1);

    // Free slots, for a reschedule to pick from: Cal.com is asked once a minute per query.
    const slots = async () => {
      const day = START.slice(0, 10);
      const res = await server.fetch(
        `/api/v1/clients/acme/slots?start=${day}T00:00:00Z&end=${day}T23:59:00Z&event_type=55102`,
        { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      );
      return { status: res.status, body: await res.json() };
    };
    const calls = () => fake.requests.filter((r) => r.path === "/v2/slots").length;
    const first = await slots();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await slots();
    assert.deepEqual(second, first);
    assert.equal(calls(), 1);

    // Writes take at most half the key's minute, the rest is reconciliation's: past it, 429 before sending.
    const sentBefore = fake.requests.length;
    const answers: number[] = [];
    for (let i = 0; i < WRITES_PER_MINUTE; i++) {
      answers.push((await act(server, j.id, "cancel", {}, `k-budget-${i}`)).status);
    }
    const limited = answers.indexOf(429);
    assert.ok(limited > 0, "the budget ran out");
    assert.ok(
      answers.slice(0, limited).every((s) => s === 409),
      "until then Cal.com refused (already cancelled)",
    );
    assert.ok(answers.slice(limited).every((s) => s === 429), "then nothing more was sent");
    // Nothing was sent for a refused one: its key is free at once (not held as "in progress").
    const again = await act(server, j.id, "cancel", {}, `k-budget-${WRITES_PER_MINUTE - 1}`);
    assert.equal(again.status, 429, JSON.stringify(again.body));
    assert.equal(fake.requests.length - sentBefore, limited, "the refused ones never reached Cal.com");
    assert.equal(
      (await server.admin("POST", "/admin/clients/acme/reconcile")).status,
      200,
      "reconciliation goes on",
    );
  });
});

Deno.test("SIGKILL between Cal.com's answer and our commit: the retry with the same key never acts twice", async () => {
  const fake = startFakeCalcom();
  try {
    await withTempDir(async (dir) => {
      const kvPath = `${dir}/kv.sqlite3`;
      const kv = await openKv(kvPath);
      await putClient(kv, "acme", {
        name: "Acme",
        secret: FIXTURE_SECRET,
        apiKey: FAKE_API_KEY,
        apiUrl: fake.url,
        settings: { write_back: true },
      });
      kv.close();
      const env = { KV_PATH: kvPath, PROCESSING_MODE: "inline", RECONCILE_TIMEOUT_MS: "2000" };
      const first = await startMain(env);
      fake.put(apiBooking("wb-crash", { start: START, end: END, email: EMAIL }));
      const created = bookingCreated("wb-crash", EMAIL, new Date().toISOString(), {
        startTime: START,
        endTime: END,
      });
      await (await fetch(`${first.url}/webhooks/calcom/acme`, {
        method: "POST",
        headers: { "x-cal-signature-256": await signBody(FIXTURE_SECRET, created) },
        body: created,
      })).body?.cancel();
      const jobs = await first.get("/admin/clients/acme/jobs") as { items: { id: string }[] };
      const jobId = jobs.items[0].id;
      const send = (url: string) =>
        fetch(`${url}/api/v1/clients/acme/jobs/${jobId}/cancel`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${ADMIN_TOKEN}`,
            "content-type": "application/json",
            "idempotency-key": "k-crash",
          },
          body: "{}",
        });
      // Cal.com acts, then holds its answer: the service dies while waiting for it.
      fake.holdActionMs = 3000;
      const inFlight = send(first.url).catch(() => null);
      await waitFor("Cal.com acted", () => fake.actions.length === 1 || undefined);
      await first.stop("SIGKILL");
      await inFlight;
      fake.holdActionMs = 0;

      const second = await startMain(env);
      try {
        // While the dead attempt's lease runs, the key is answered "in progress"; then the retry
        // finds the booking cancelled in Cal.com and settles without sending again.
        const answer = await waitFor("the retry's answer", async () => {
          const res = await send(second.url);
          const body = await res.json();
          if (res.status === 409 && body.error.code === "in_progress") {
            await new Promise((r) => setTimeout(r, 500));
            return undefined;
          }
          return { status: res.status, body };
        }, 30_000);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.action.action, "cancel");
        assert.equal(fake.actions.length, 1, "Cal.com was asked once");
      } finally {
        await second.stop("SIGTERM");
      }
    });
  } finally {
    await fake.close();
  }
});
