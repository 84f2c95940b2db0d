/**
 * What a booking's webhooks cost in KV units on Deno Deploy (inline mode), counted on a real KV by
 * the bench's meter, against the targets: at most 9 write units for a created booking and 30 for
 * its life (created → rescheduled → cancelled) without the change log, at most 5 read units and
 * one atomic commit a webhook, nothing left pending; a duplicate writes nothing.
 */
import assert from "node:assert/strict";
import { changeLogCollections } from "../../lib/store/keys.ts";
import { putClient } from "../../lib/store/clients.ts";
import { bookingCreated, fixture, FIXTURE_SECRET, meteredService, postSigned } from "../_helpers.ts";

Deno.test("a booking's webhooks cost at most 9 write units when created and 30 over its life, in one commit each", async () => {
  const { kv, service, take, close } = await meteredService();
  try {
    await putClient(kv, "acme", { secret: FIXTURE_SECRET });
    // Warm, as a running service is: the client's signing keys and webhook state are cached, and
    // the minute's outbound tick has run (it learns which clients have endpoints).
    assert.equal(
      await postSigned(service, "acme", bookingCreated("warm-up-uid", "someone@example.org")),
      202,
    );
    await service.outbound.runDue();
    await new Promise((r) => setTimeout(r, 20));
    take();
    const costs: Record<string, { atomics: number; reads: number; writes: number }> = {};
    for (
      const name of [
        "booking_created",
        "booking_rescheduled",
        "booking_cancelled",
        "booking_cancelled",
      ] as const
    ) {
      // Inline: answered once applied.
      assert.equal(await postSigned(service, "acme", fixture(name).body), 202);
      const c = take();
      const log = changeLogCollections().reduce((n, k) => n + (c.byCollection[k]?.writeUnits ?? 0), 0);
      costs[name in costs ? "duplicate" : name] = {
        atomics: c.atomics,
        reads: c.readUnits,
        writes: c.writeUnits - log,
      };
    }
    assert.ok(costs.booking_created.writes <= 9, JSON.stringify(costs));
    const life = ["booking_created", "booking_rescheduled", "booking_cancelled"];
    assert.ok(life.reduce((n, k) => n + costs[k].writes, 0) <= 30, JSON.stringify(costs));
    for (const k of life) {
      assert.equal(costs[k].atomics, 1, `${k}: ${JSON.stringify(costs[k])}`);
      assert.ok(costs[k].reads <= 5, `${k}: ${JSON.stringify(costs[k])}`);
    }
    assert.deepEqual(costs.duplicate, { atomics: 0, reads: costs.duplicate.reads, writes: 0 });
    const jobs = await service.admins.cli.listJobs({ slug: "acme", limit: 10 });
    assert.deepEqual(jobs.items.map((j) => j.status).sort(), ["cancelled", "scheduled"]);
  } finally {
    await close();
  }
});

Deno.test("processing reads back no submission its commit just stored: one delivery alone, and a burst", async () => {
  // Queue mode: stored by the group commit, processed right after it in this process.
  const { kv, service, take, close } = await meteredService({ processingMode: "queue" });
  try {
    await putClient(kv, "acme", { secret: FIXTURE_SECRET });
    assert.equal(await postSigned(service, "acme", bookingCreated("warm-up", "warm@example.org")), 202);
    await service.intake.idle();
    take();
    assert.equal(await postSigned(service, "acme", bookingCreated("alone-1", "alone@example.org")), 202);
    await service.intake.idle();
    const alone = take();
    assert.equal(alone.readsByCollection.submissions ?? 0, 0, JSON.stringify(alone.readsByCollection));

    // 40 at once share commits: every member's entry reaches the run, none is read back.
    const statuses = await Promise.all(
      Array.from(
        { length: 40 },
        (_, i) => postSigned(service, "acme", bookingCreated(`burst-${i}`, `b${i}@example.org`)),
      ),
    );
    assert.deepEqual(statuses, Array(40).fill(202));
    await service.intake.idle();
    const burst = take();
    assert.equal(burst.readsByCollection.submissions ?? 0, 0, JSON.stringify(burst.readsByCollection));
    const jobs = await service.admins.cli.listJobs({ slug: "acme", limit: 100 });
    assert.equal(jobs.items.length, 42, "every delivery was processed");
  } finally {
    await close();
  }
});
