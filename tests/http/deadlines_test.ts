import assert from "node:assert/strict";
import { Deadlines } from "../../lib/http/deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a deadline fires once its time has passed; a cancelled one never fires", async () => {
  const deadlines = new Deadlines(20);
  const fired: string[] = [];
  deadlines.start(30, () => fired.push("due"));
  const cancel = deadlines.start(30, () => fired.push("cancelled"));
  deadlines.start(60_000, () => fired.push("later"));
  cancel();
  assert.equal(deadlines.size, 2);
  await sleep(150);
  assert.deepEqual(fired, ["due"]);
  assert.equal(deadlines.size, 1);
  deadlines.stop();
});

Deno.test("the timer stops by itself once nothing is pending, and starts again when needed", async () => {
  const deadlines = new Deadlines(10);
  deadlines.start(1000, () => {})();
  // If the interval kept running, the test sanitizer would fail this test.
  await sleep(60);
  let fired = false;
  deadlines.start(5, () => fired = true);
  await sleep(80);
  assert.equal(fired, true);
  assert.equal(deadlines.size, 0);
  await sleep(30);
});
