/**
 * Inline mode's single commit (`lib/store/arrival.ts`): a delivery stored and applied at once,
 * under contention. Concurrent bookings of one person (all reading and changing the same Contact)
 * and the same bodies sent twice at once: every booking ends as its one Job, one Contact, the
 * counts agree with the listings, and nothing is left pending, whether a delivery went through
 * the single commit or, losing to its neighbours, through the pending path.
 */
import assert from "node:assert/strict";
import { addClient, bookingCreated, listAll, withServer } from "../_helpers.ts";

Deno.test("concurrent bookings of one person and duplicates sent at once, inline: one Job each, one Contact, nothing pending", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const bodies = Array.from(
      { length: 40 },
      (_, i) =>
        bookingCreated(`uid-${i}`, "pat@example.org", `2026-10-02T21:14:${String(i).padStart(2, "0")}.000Z`),
    );
    const answers = await Promise.all([...bodies, ...bodies.slice(0, 10)].map((b) => server.post("acme", b)));
    for (const res of answers) assert.equal(res.status, 202, await res.text());
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.deepEqual(jobs.map((j) => j.calcom_event_id).sort(), bodies.map((_, i) => `uid-${i}`).sort());
    assert.equal((await listAll(server, "/admin/clients/acme/contacts")).length, 1);
    const submissions = await listAll(server, "/admin/clients/acme/submissions");
    assert.equal(submissions.length, 40);
    assert.ok(submissions.every((s) => s.status === "processed"));
    assert.deepEqual(await Array.fromAsync(server.kv.list({ prefix: ["pending_batches"] })), []);
    const overview = await server.admin<Record<string, unknown>>("GET", "/admin/clients/acme/overview");
    assert.equal(overview.status, 200, JSON.stringify(overview.body));
    assert.deepEqual(overview.body.jobs_by_status, { scheduled: 40 });
    assert.deepEqual(overview.body.submissions_by_status, { processed: 40 });
    assert.equal(overview.body.contacts, 1);
  });
});
