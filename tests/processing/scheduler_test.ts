import assert from "node:assert/strict";
import type { Submission } from "../../lib/domain/submission.ts";
import { memoryLogger } from "../../lib/log.ts";
import { Processor } from "../../lib/processing/processor.ts";
import { BatchScheduler } from "../../lib/processing/scheduler.ts";
import { getPendingBatch, type PendingBatch } from "../../lib/store/batches.ts";
import { pendingBatchKey, submissionKey } from "../../lib/store/keys.ts";

async function storedBatch(kv: Deno.Kv, id: string, refs: PendingBatch["refs"]): Promise<PendingBatch> {
  const batch: PendingBatch = { id, refs, created_at: new Date().toISOString() };
  await kv.set(pendingBatchKey(id), batch);
  return batch;
}

/** A pending submission whose body chunk is missing: processing it always throws. */
async function brokenSubmission(kv: Deno.Kv, id: string): Promise<void> {
  const broken: Partial<Submission> = {
    id,
    client: "acme",
    status: "pending",
    received_at: new Date().toISOString(),
    body: null,
    body_chunks: 1,
    attempts: 0,
  };
  await kv.set(submissionKey("acme", id), broken);
}

Deno.test("a batch already queued or running is joined, not run twice; a settled batch's record is dropped", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const scheduler = new BatchScheduler(kv, new Processor(kv, memoryLogger()));
    // Submissions that do not exist have nothing left to do: the batch is settled.
    const batch = await storedBatch(kv, "a", [["acme", "gone-1"], ["acme", "gone-2"]]);
    const first = scheduler.run(batch);
    assert.equal(scheduler.run(batch), first, "the second call joins the first run");
    assert.deepEqual(await first, { failures: [] });
    assert.equal(await getPendingBatch(kv, "a"), null);
    await scheduler.idle();
  } finally {
    kv.close();
  }
});

Deno.test("batches processed in one run each get only their own failures; a failed batch keeps its record", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await brokenSubmission(kv, "broken");
    const scheduler = new BatchScheduler(kv, new Processor(kv, memoryLogger()));
    const runs = await Promise.all([
      scheduler.run(await storedBatch(kv, "ok-1", [["acme", "gone"]])),
      scheduler.run(await storedBatch(kv, "bad", [["acme", "broken"], ["acme", "gone-too"]])),
      scheduler.run(await storedBatch(kv, "ok-2", [["acme", "gone-3"]])),
    ]);
    assert.deepEqual(runs.map((r) => r.failures.map((f) => f.ref[1])), [[], ["broken"], []]);
    assert.match(runs[1].failures[0].error, /Body chunk 0/);
    assert.equal(await getPendingBatch(kv, "ok-1"), null);
    assert.equal(await getPendingBatch(kv, "ok-2"), null);
    assert.ok(await getPendingBatch(kv, "bad"), "the sweeper still finds the failed batch");
    assert.equal((await kv.get<Submission>(submissionKey("acme", "broken"))).value?.attempts, 1);
    assert.equal(scheduler.queuedSubmissions, 0);
    await scheduler.idle();
  } finally {
    kv.close();
  }
});

Deno.test("each chunk of a run first asks beforeChunk, with when its oldest batch was queued", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const asked: number[] = [];
    const gate = Promise.withResolvers<void>();
    const scheduler = new BatchScheduler(kv, new Processor(kv, memoryLogger()), async (at) => {
      asked.push(at);
      await gate.promise;
    });
    const before = performance.now();
    const run = scheduler.run(await storedBatch(kv, "a", [["acme", "gone"]]));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(asked.length, 1);
    assert.ok(asked[0] >= before && asked[0] <= performance.now());
    assert.ok(await getPendingBatch(kv, "a"), "nothing was processed while the gate was closed");
    gate.resolve();
    assert.deepEqual(await run, { failures: [] });
    assert.equal(await getPendingBatch(kv, "a"), null);
  } finally {
    kv.close();
  }
});
