/**
 * Crash safety with a real subprocess: SIGKILL the service in the middle of a load of webhooks,
 * restart it on the same KV_PATH, and every request that got a 2xx ends processed, once, with
 * exactly one change-log entry per Job change.
 */
import assert from "node:assert/strict";
import { signBody } from "../../lib/calcom/signature.ts";
import { putClient } from "../../lib/store/clients.ts";
import { openKv } from "../../lib/store/kv.ts";
import {
  assertFeedReplays,
  bookingCreated,
  FIXTURE_SECRET,
  startMain,
  type SubmissionView,
  withTempDir,
} from "../_helpers.ts";

Deno.test("SIGKILL mid-load, restart: every 2xx ends processed, nothing doubled, nothing lost", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const kv = await openKv(kvPath);
    await putClient(kv, "acme", { name: "Acme", secret: FIXTURE_SECRET });
    kv.close();

    const bodies = Array.from(
      { length: 600 },
      (_, i) => bookingCreated(`crash-${i}`, `person${i % 40}@example.com`),
    );
    const signatures = await Promise.all(bodies.map((b) => signBody(FIXTURE_SECRET, b)));

    const env = { KV_PATH: kvPath, SWEEP_GRACE_MS: "1000", SWEEP_INTERVAL_MS: "300" };
    const first = await startMain(env);
    const accepted = new Map<string, string>();
    let answered = 0;
    const killAfter = 150;
    const sends = bodies.map(async (body, i) => {
      try {
        const res = await fetch(`${first.url}/webhooks/calcom/acme`, {
          method: "POST",
          headers: { "x-cal-signature-256": signatures[i] },
          body,
        });
        const answer = await res.json();
        if (res.status === 202 || res.status === 200) accepted.set(`crash-${i}`, answer.submission_id);
        if (++answered === killAfter) first.child.kill("SIGKILL");
      } catch {
        // The connection died with the process: no 2xx, so Cal.com would count it as failed.
      }
    });
    await Promise.all(sends);
    await first.stop("SIGKILL");
    assert.ok(accepted.size >= killAfter - 1, `only ${accepted.size} were accepted before the kill`);
    assert.ok(accepted.size < bodies.length, "the kill happened in the middle of the load");

    const second = await startMain(env);
    try {
      const deadline = Date.now() + 60_000;
      let submissions: SubmissionView[] = [];
      while (Date.now() < deadline) {
        submissions = await second.list("/admin/clients/acme/submissions");
        const byId = new Map(submissions.map((s) => [s.id, s.status]));
        const acceptedDone = [...accepted.values()].every((id) => byId.get(id) === "processed");
        if (acceptedDone && submissions.every((s) => s.status === "processed")) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const byId = new Map(submissions.map((s) => [s.id, s]));
      for (const [uid, id] of accepted) {
        assert.equal(
          byId.get(id)?.status,
          "processed",
          `${uid} (${id}) was answered 2xx but is ${byId.get(id)?.status}`,
        );
      }
      assert.ok(
        submissions.every((s) => s.status === "processed"),
        "stored but unanswered ones are processed too",
      );

      const jobs = await second.list("/admin/clients/acme/jobs");
      const uids = jobs.map((j) => j.calcom_event_id);
      assert.equal(new Set(uids).size, uids.length, "no Job is doubled");
      assert.equal(jobs.length, submissions.length, "one Job per stored booking");
      for (const uid of accepted.keys()) assert.ok(uids.includes(uid), `Job for ${uid} is missing`);

      const contacts = await second.list("/admin/clients/acme/contacts");
      const emails = contacts.map((c) => c.email);
      assert.equal(new Set(emails).size, emails.length, "no Contact is doubled");
      // No Job change without its change-log entry, and no entry without its change.
      const entries = await assertFeedReplays(second.get, "acme", jobs);
      assert.equal(entries.length, jobs.length, "one job.created entry per Job, none lost, none extra");
    } finally {
      await second.stop("SIGTERM");
    }
  });
});
