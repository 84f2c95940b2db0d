/**
 * Outbound delivery through crashes: the service (a real process) is SIGKILLed four times while
 * webhooks arrive and deliveries are in flight to a real receiver that sometimes fails. After the
 * last restart every change-log entry reaches the receiver at least once, verified, and each Job's
 * versions arrive in order.
 */
import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { signBody } from "../../lib/calcom/signature.ts";
import {
  bookingCreated,
  calcomBody,
  FIXTURE_SECRET,
  readFeed,
  startMain,
  waitFor,
  withTempDir,
} from "../_helpers.ts";

Deno.test("SIGKILL with deliveries in flight, four times: every entry reaches the receiver, in order per Job", async () => {
  let secret = "";
  const firstSeen = new Map<string, { job: string; version: number }>();
  const order: { job: string; version: number }[] = [];
  let n = 0;
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    const payload = new Webhook(secret).verify(body, {
      "webhook-id": req.headers.get("webhook-id") ?? "",
      "webhook-timestamp": req.headers.get("webhook-timestamp") ?? "",
      "webhook-signature": req.headers.get("webhook-signature") ?? "",
    }) as { data: { job_id: string; job_version: number } };
    // One in seven fails, so retries are in flight when the service dies.
    if (++n % 7 === 0) return new Response("try later", { status: 500 });
    const id = req.headers.get("webhook-id")!;
    if (!firstSeen.has(id)) {
      const seen = { job: payload.data.job_id, version: payload.data.job_version };
      firstSeen.set(id, seen);
      order.push(seen);
    }
    return new Response(null, { status: 204 });
  });
  try {
    await withTempDir(async (dir) => {
      const env = {
        KV_PATH: `${dir}/kv.sqlite3`,
        OUTBOUND_ALLOW_PRIVATE: "true",
        OUTBOUND_RETRY_SCHEDULE_MS: "0,50,100,200",
        OUTBOUND_LEASE_MS: "1000",
        SWEEP_INTERVAL_MS: "300",
        SWEEP_GRACE_MS: "1000",
      };
      let main = await startMain(env);
      assert.equal(await main.admin("PUT", "/admin/clients/acme", { secret: FIXTURE_SECRET }), 201);
      const endpoint = await fetch(`${main.url}/admin/clients/acme/endpoints`, {
        method: "POST",
        headers: { authorization: "Bearer test-admin-token-0123456789", "content-type": "application/json" },
        body: JSON.stringify({ url: `http://127.0.0.1:${receiver.addr.port}/hook` }),
      });
      assert.equal(endpoint.status, 201);
      secret = (await endpoint.json()).secret;

      let uid = 0;
      for (let round = 0; round < 4; round++) {
        const bodies = Array.from({ length: 40 }, () => {
          const i = uid++;
          // Every third booking is rescheduled in the same round: a Job with two versions.
          return i % 3 === 0
            ? [bookingCreated(`k-${i}`, `p${i}@example.com`), reschedule(i)]
            : [bookingCreated(`k-${i}`, `p${i}@example.com`)];
        }).flat();
        let answered = 0;
        await Promise.all(bodies.map(async (body) => {
          try {
            const res = await fetch(`${main.url}/webhooks/calcom/acme`, {
              method: "POST",
              headers: { "x-cal-signature-256": await signBody(FIXTURE_SECRET, body) },
              body,
            });
            await res.body?.cancel();
            if (++answered === 30) main.child.kill("SIGKILL");
          } catch {
            // The process died with this request in flight: no 2xx.
          }
        }));
        await main.stop("SIGKILL");
        main = await startMain(env);
      }
      try {
        const entries = await waitFor("the service settled", async () => {
          const subs = await main.list("/admin/clients/acme/submissions");
          return subs.every((s) => s.status === "processed") ? await readFeed(main.get, "acme") : undefined;
        }, 60_000);
        assert.ok(entries.length > 100, `entries: ${entries.length}`);
        await waitFor(
          "every entry delivered",
          () => entries.every((e) => firstSeen.has(e.id)) || undefined,
          60_000,
        );
        // Per Job, the versions first arrived in order.
        const last = new Map<string, number>();
        for (const { job, version } of order) {
          assert.ok(version > (last.get(job) ?? 0), `${job}: version ${version} after ${last.get(job)}`);
          last.set(job, version);
        }
      } finally {
        await main.stop("SIGTERM");
      }
    });
  } finally {
    await receiver.shutdown();
  }
});

function reschedule(i: number): string {
  return calcomBody("BOOKING_RESCHEDULED", new Date(Date.UTC(2026, 9, 2) + i * 1000).toISOString(), {
    uid: `k-${i}-r`,
    rescheduleUid: `k-${i}`,
    startTime: "2026-11-20T10:00:00Z",
    endTime: "2026-11-20T11:00:00Z",
    attendees: [{ email: `p${i}@example.com`, name: "P" }],
  });
}
