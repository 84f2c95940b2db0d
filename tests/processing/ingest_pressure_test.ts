import assert from "node:assert/strict";
import { DEFAULT_TUNING, IngestPressure } from "../../lib/processing/ingest_pressure.ts";

/** `n` commits waiting at once, released by the returned function. */
function waiting(pressure: IngestPressure, n: number): () => Promise<void> {
  const release = Promise.withResolvers<void>();
  const all = Array.from({ length: n }, () => pressure.during(() => release.promise));
  return async () => {
    release.resolve();
    await Promise.all(all);
  };
}

const tuning = { ...DEFAULT_TUNING, concurrency: 3, holdMs: 200, confirmMs: 100 };

Deno.test("a burst is saturation that lasts confirmMs; it outlasts the dips between group commits by holdMs", async () => {
  let now = 1000;
  const pressure = new IngestPressure(tuning, () => now);
  const two = waiting(pressure, 2);
  assert.equal(pressure.busy(), false, "below the threshold is not a burst");
  const third = waiting(pressure, 1);
  assert.equal(pressure.busy(), false, "just reaching the threshold is not a burst yet");
  now += 100;
  assert.equal(pressure.busy(), true, "saturated for confirmMs");
  // A commit answers two requests at once: the count dips, the burst holds.
  await two();
  now += 150;
  assert.equal(pressure.busy(), true);
  const again = waiting(pressure, 2);
  now += 150;
  assert.equal(pressure.busy(), true, "saturated again within holdMs: the same burst");
  await again();
  now += 200;
  assert.equal(pressure.busy(), false, "quiet for holdMs ends the burst");
  const fresh = waiting(pressure, 2);
  assert.equal(pressure.busy(), false, "a new burst has to last confirmMs again");
  await Promise.all([third(), fresh()]);
});

Deno.test("a short stall that piles requests up is not a burst", async () => {
  let now = 0;
  const pressure = new IngestPressure({ ...DEFAULT_TUNING, concurrency: 16 }, () => now);
  const releases: (() => Promise<void>)[] = [];
  for (let i = 0; i < 20; i++) {
    releases.push(waiting(pressure, 1));
    now += 0.5;
  }
  assert.equal(pressure.busy(), false, "saturated for a few ms only");
  await Promise.all(releases.map((r) => r()));
  now += 50;
  assert.equal(pressure.busy(), false);
});

Deno.test("with the default tuning, stalls of a steady stream are not a burst; lasting saturation is", async () => {
  // At a steady rate well below capacity, a stall (a GC pause, a processing chunk) piles deliveries
  // up for a while: here stalls of 150 ms, 100 ms apart, as `deno task bench`'s 500/s run showed. The
  // earlier tuning (confirmed after 100 ms, ended 200 ms after) made them one "burst" and deferred
  // processing each time, which was the visibility run's tail.
  let now = 0;
  const { concurrency } = DEFAULT_TUNING;
  const pressure = new IngestPressure(DEFAULT_TUNING, () => now);
  for (let stall = 0; stall < 4; stall++) {
    const piled = waiting(pressure, concurrency);
    now += 150;
    assert.equal(pressure.busy(), false, `stall ${stall} is not a burst`);
    await piled();
    now += 100;
  }
  // A saturating client (wrk -c32): saturated throughout, dipping for a few ms between commits.
  for (let t = 0; t < 400; t += 10) {
    const all = waiting(pressure, concurrency);
    now += 8;
    await all();
    now += 2;
  }
  const still = waiting(pressure, concurrency);
  assert.equal(pressure.busy(), true, "lasting saturation is a burst");
  await still();
  now += 60;
  assert.equal(pressure.busy(), false, "which ends soon after the saturation does");
});

Deno.test("processing waits while ingest is busy, for at most maxDeferMs and never past maxBacklogAgeMs", async () => {
  let now = 0;
  const pressure = new IngestPressure({ ...tuning, maxDeferMs: 60, maxBacklogAgeMs: 10_000 }, () => now);
  const burst = waiting(pressure, 3);
  now += 100;
  assert.equal(pressure.busy(), true);
  // The clock only moves while the wait polls: the wait must end on maxDeferMs.
  const ticking = setInterval(() => (now += 10), 1);
  try {
    const started = now;
    await pressure.yieldToIngest(now);
    assert.ok(now - started >= 60, `waited ${now - started} ms`);
    const old = now;
    await pressure.yieldToIngest(old - 10_000);
    assert.ok(now - old < 30, "work that has waited maxBacklogAgeMs no longer defers");
  } finally {
    clearInterval(ticking);
    await burst();
  }
  now += 1000;
  const idle = now;
  await pressure.yieldToIngest(now);
  assert.equal(now, idle, "no wait without a burst");
});
