import assert from "node:assert/strict";
import { memoryLogger } from "../../lib/log.ts";
import { Processor } from "../../lib/processing/processor.ts";
import { BatchScheduler } from "../../lib/processing/scheduler.ts";
import type { PendingBatch } from "../../lib/store/submissions.ts";

const batch = (id: string, n: number): PendingBatch => ({
  id,
  refs: Array.from({ length: n }, (_, i) => ["acme", `${id}-${i}`] as const),
  created_at: new Date().toISOString(),
});

Deno.test("the scheduler defers runs while ingest is busy, counts what waits, and catches up after", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let busy = true;
    const scheduler = new BatchScheduler(new Processor(kv, memoryLogger()), {
      ingestBusy: () => busy,
      maxDeferMs: 10_000,
    });
    // Two runs start at once (and wait for ingest); the third batch waits in the queue.
    const runs = [scheduler.run(batch("a", 3)), scheduler.run(batch("b", 2)), scheduler.run(batch("c", 4))];
    assert.equal(scheduler.queuedSubmissions, 4);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(scheduler.queuedSubmissions, 4, "nothing runs while ingest is busy");
    busy = false;
    // The submissions do not exist: each run settles nothing and fails nothing.
    const results = await Promise.all(runs);
    assert.deepEqual(results.map((r) => r.failures.length), [0, 0, 0]);
    assert.equal(scheduler.queuedSubmissions, 0);
    await scheduler.idle();
  } finally {
    kv.close();
  }
});

Deno.test("under a burst that does not end, processing stops deferring once work has waited maxBacklogAgeMs", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const scheduler = new BatchScheduler(new Processor(kv, memoryLogger()), {
      ingestBusy: () => true,
      maxDeferMs: 3_600_000,
      maxBacklogAgeMs: 50,
    });
    // Without the age bound this run would wait for the hour-long defer.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the run kept deferring to ingest")), 10_000);
    });
    const result = await Promise.race([scheduler.run(batch("a", 2)), stuck]).finally(() =>
      clearTimeout(timer)
    );
    assert.deepEqual(result, { settled: 2, failures: [] });
    await scheduler.idle();
  } finally {
    kv.close();
  }
});
