import assert from "node:assert/strict";
import { BurstDetector } from "../../lib/processing/burst.ts";

Deno.test("a burst is saturation that lasts confirmMs; it outlasts the dips between group commits by holdMs", () => {
  let now = 1000;
  const burst = new BurstDetector(3, 200, 100, () => now);
  burst.enter();
  burst.enter();
  assert.equal(burst.busy(), false, "below the threshold is not a burst");
  burst.enter();
  assert.equal(burst.busy(), false, "just reaching the threshold is not a burst yet");
  now += 100;
  assert.equal(burst.busy(), true, "saturated for confirmMs");
  // A commit answers two requests at once: the count dips, the burst holds.
  burst.leave();
  burst.leave();
  now += 150;
  assert.equal(burst.busy(), true);
  burst.enter();
  burst.enter();
  now += 150;
  assert.equal(burst.busy(), true, "saturated again within holdMs: the same burst");
  burst.leave();
  burst.leave();
  now += 200;
  assert.equal(burst.busy(), false, "quiet for holdMs ends the burst");
  burst.enter();
  burst.enter();
  assert.equal(burst.busy(), false, "a new burst has to last confirmMs again");
});

Deno.test("a short stall that piles requests up is not a burst", () => {
  let now = 0;
  const burst = new BurstDetector(16, 200, 100, () => now);
  for (let i = 0; i < 20; i++) {
    burst.enter();
    now += 2;
  }
  assert.equal(burst.busy(), false, "saturated for 10 ms only");
  for (let i = 0; i < 20; i++) burst.leave();
  now += 50;
  assert.equal(burst.busy(), false);
});
