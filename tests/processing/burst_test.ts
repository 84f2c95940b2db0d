import assert from "node:assert/strict";
import { BurstDetector } from "../../lib/processing/burst.ts";

Deno.test("a burst starts at the threshold and outlasts the dips between group commits by holdMs", () => {
  let now = 1000;
  const burst = new BurstDetector(3, 200, () => now);
  burst.enter();
  burst.enter();
  assert.equal(burst.busy(), false, "below the threshold is not a burst");
  burst.enter();
  assert.equal(burst.busy(), true);
  // A commit answers two requests at once: the count dips, the burst holds.
  burst.leave();
  burst.leave();
  now += 150;
  assert.equal(burst.busy(), true);
  now += 60;
  assert.equal(burst.busy(), false, "quiet for longer than holdMs ends the burst");
  burst.enter();
  burst.enter();
  assert.equal(burst.busy(), true, "back at the threshold");
});
