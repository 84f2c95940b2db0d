/**
 * A flood of unsigned bodies against the service run exactly as `deno task start` runs it (its V8
 * flags and environment), behind a trusted proxy: from one address, 400 concurrent 1 MiB bodies and
 * 1,000 of 60 KB, besides 600 uploads that declare their length and then trickle (holding budget),
 * while Cal.com (another address) delivers 40 KB signed bookings (the 2026-07-27 payload with ICS
 * content). Every one of Cal.com's is accepted, the process's peak memory stays
 * under 300 MB, and it is back under 200 MB within a minute. The bench runs the long version.
 */
import assert from "node:assert/strict";
import { signBody } from "../../lib/calcom/signature.ts";
import { fixture, FIXTURE_SECRET, startMain, startTask, waitFor, withTempDir } from "../_helpers.ts";

const ATTACKER = "203.0.113.66";
const CALCOM = "198.51.100.7";

/** The process's peak and current resident memory, in MB (Linux). */
function memoryMb(pid: number): { peak: number; now: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
}

/** A BOOKING_CREATED body as Cal.com's 2026-07-27 version sends it: with the attendee's ICS file, ~40 KB. */
function icsBooking(n: number): string {
  const json = structuredClone(fixture("booking_created").json) as { payload: Record<string, unknown> };
  json.payload.uid = `ics-${n}`;
  const lines = Array.from({ length: 800 }, (_, i) => `DESCRIPTION;LANGUAGE=en:line ${i} of the event ${n}`);
  json.payload.attendeeIcsContent = ["BEGIN:VCALENDAR", ...lines, "END:VCALENDAR"].join("\r\n");
  return JSON.stringify(json);
}

Deno.test("an unsigned flood from one address: Cal.com's signed bodies all accepted, memory bounded and given back", async () => {
  await withTempDir(async (dir) => {
    const service = await startMain(
      { KV_PATH: `${dir}/kv.sqlite3`, HOST: "127.0.0.1", TRUSTED_PROXIES: "127.0.0.1" },
      startTask(),
    );
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      assert.equal(await service.admin("PUT", "/admin/clients/acme", { secret: FIXTURE_SECRET }), 201);
      const url = `${service.url}/webhooks/calcom/acme`;
      const post = async (body: Uint8Array<ArrayBuffer> | string, headers: Record<string, string>) => {
        try {
          const res = await fetch(url, { method: "POST", body, headers, client });
          await res.body?.cancel();
          return res.status;
        } catch {
          return 0; // The service may close a refused upload's connection early.
        }
      };
      const flood = { "x-forwarded-for": ATTACKER, "x-cal-signature-256": "0".repeat(64) };
      const large = new Uint8Array(1024 * 1024 - 1024).fill(97);
      const medium = new Uint8Array(60 * 1024).fill(98);
      // Uploads that declare a length and send almost nothing: each holds its declared bytes of budget.
      const port = Number(new URL(service.url).port);
      const slow = await Promise.all(Array.from({ length: 600 }, async (_, i) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        const length = i < 30 ? 1024 * 1024 - 1024 : 60 * 1024;
        const head = `POST /webhooks/calcom/acme HTTP/1.1\r\nhost: x\r\nx-forwarded-for: ${ATTACKER}\r\n` +
          `x-cal-signature-256: ${"0".repeat(64)}\r\ncontent-length: ${length}\r\n\r\nxx`;
        await conn.write(new TextEncoder().encode(head));
        return conn;
      }));
      const bodies = Array.from({ length: 60 }, (_, i) => icsBooking(i));
      assert.ok(bodies[0].length > 35_000 && bodies[0].length < 64 * 1024, `${bodies[0].length} bytes`);
      const signed = bodies.map(async (body, i) => {
        await new Promise((r) => setTimeout(r, 50 + i * 40));
        return await post(body, {
          "x-forwarded-for": CALCOM,
          "x-cal-signature-256": await signBody(FIXTURE_SECRET, body),
        });
      });
      const unsigned = [
        ...Array.from({ length: 400 }, () => post(large, flood)),
        ...Array.from({ length: 1000 }, () => post(medium, flood)),
      ];
      const answers = await Promise.all(signed);
      const refused = await Promise.all(unsigned);
      for (const conn of slow) conn.close();
      assert.deepEqual(answers.filter((s) => s !== 202), [], "every signed Cal.com body was accepted");
      assert.ok(
        refused.every((s) => s === 401 || s === 503 || s === 0),
        `unsigned: ${[...new Set(refused)]}`,
      );
      assert.ok(refused.includes(503), "the flood met the budget");

      const after = memoryMb(service.child.pid);
      assert.ok(after.peak <= 300, `peak RSS ${after.peak.toFixed(0)} MB during the flood`);
      let now = after.now;
      for (const deadline = Date.now() + 60_000; now >= 200 && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 1000));
        now = memoryMb(service.child.pid).now;
      }
      assert.ok(now < 200, `RSS ${now.toFixed(0)} MB a minute after the flood`);
      await waitFor(
        "every accepted booking's Job",
        async () => (await service.list("/admin/clients/acme/jobs")).length === bodies.length || undefined,
      );
    } finally {
      client.close();
      await service.stop("SIGTERM");
    }
  });
});
