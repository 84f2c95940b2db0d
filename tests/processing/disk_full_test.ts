/**
 * A full disk, for real: the KV file on a small tmpfs (CI runs as root), filled up by another
 * writer while the service runs in its own process. The service must refuse new deliveries with
 * 503 (never a 2xx it cannot keep), keep serving reads, report itself degraded, never exit (not
 * even when restarted on the full disk), and accept again by itself once space is freed.
 */
import assert from "node:assert/strict";
import { signBody } from "../../lib/calcom/signature.ts";
import {
  ADMIN_TOKEN,
  bookingCreated,
  fillDisk as fill,
  FIXTURE_SECRET,
  type RunningMain,
  sh,
  startMain,
  withTempDir,
} from "../_helpers.ts";

let n = 0;
async function deliver(main: RunningMain): Promise<number> {
  const body = bookingCreated(
    `disk-${n++}`,
    `p${n}@example.com`,
    new Date(Date.UTC(2026, 9, 1) + n * 1000).toISOString(),
  );
  const res = await fetch(`${main.url}/webhooks/calcom/acme`, {
    method: "POST",
    headers: { "x-cal-signature-256": await signBody(FIXTURE_SECRET, body) },
    body,
  });
  const answer = await res.json();
  if (res.status === 503) assert.equal(answer.error.code, "storage_low");
  if (res.status === 503) assert.equal(res.headers.get("retry-after"), "60");
  return res.status;
}

async function status(main: RunningMain, path: string): Promise<number> {
  const res = await fetch(`${main.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  await res.body?.cancel();
  return res.status;
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test("full disk: 503 and degraded while full, reads still served, the process never exits, recovery by itself", async () => {
  await withTempDir(async (dir) => {
    await sh("mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", dir);
    const env = {
      KV_PATH: `${dir}/kv.sqlite3`,
      DISK_FLOOR_MB: "6",
      DISK_RESERVE_MB: "4",
      QUEUE_RETRY_DELAY_MS: "200",
      SWEEP_GRACE_MS: "500",
      SWEEP_INTERVAL_MS: "300",
    };
    let main = await startMain(env);
    try {
      assert.equal(await main.admin("PUT", "/admin/clients/acme", { secret: FIXTURE_SECRET }), 201);
      const accepted: number[] = [];
      for (let i = 0; i < 20; i++) accepted.push(await deliver(main));
      assert.deepEqual(accepted, Array(20).fill(202));

      await fill(`${dir}/filler`);
      await until("webhooks refused", async () => (await deliver(main)) === 503);
      assert.equal(await status(main, "/healthz"), 503, "degraded, so a monitor sees it");
      assert.equal(await status(main, "/admin/clients/acme/jobs"), 200, "reads are still served");
      // Queue retries and sweeps keep running on the full disk for a while: the process must survive them.
      for (let i = 0; i < 10; i++) {
        assert.equal(await deliver(main), 503);
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(main.exited(), false, "the service is still running on a full disk");

      // A restart on a full disk (what closing KV freed is filled up too) serves 503 and reads.
      await main.stop("SIGTERM");
      await fill(`${dir}/filler-2`);
      main = await startMain(env);
      assert.equal(await status(main, "/healthz"), 503);
      assert.equal(await status(main, "/admin/clients/acme/submissions"), 200);
      assert.equal(await deliver(main), 503);

      await Deno.remove(`${dir}/filler`);
      await Deno.remove(`${dir}/filler-2`);
      await until("webhooks accepted again", async () => (await deliver(main)) === 202);
      assert.equal(await status(main, "/healthz"), 200);
      assert.equal(main.exited(), false);
      // Everything that got a 2xx ends processed.
      await until("all submissions settled", async () => {
        const subs = await main.list("/admin/clients/acme/submissions");
        return subs.every((s) => s.status === "processed");
      });
      const jobs = await main.list("/admin/clients/acme/jobs");
      assert.ok(jobs.length >= 21, `jobs: ${jobs.length}`);
    } catch (error) {
      console.error("service log:\n" + main.lines.slice(-30).join("\n"));
      throw error;
    } finally {
      await main.stop("SIGTERM");
      await sh("umount", dir);
    }
  });
});
