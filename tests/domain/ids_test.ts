import assert from "node:assert/strict";
import { newId } from "../../lib/domain/ids.ts";

Deno.test("ids are ULIDs, unique and increasing, across refills of the random pool", () => {
  // 1 KiB of pooled random bytes serves 64 fresh ids: 5,000 draw on it many times over.
  const ids = Array.from({ length: 5000 }, () => newId());
  for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `${ids[i]} after ${ids[i - 1]}`);
  // The random part is random: ids of different milliseconds do not share it.
  const randomParts = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const start = Date.now();
    while (Date.now() === start) { /* next millisecond */ }
    randomParts.add(newId().slice(10));
  }
  assert.equal(randomParts.size, 20);
});
