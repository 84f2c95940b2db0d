import assert from "node:assert/strict";
import { isoUtc, nowIso } from "../lib/time.ts";

Deno.test("isoUtc equals toISOString at the edges of days, months, leap years and its range", () => {
  const edges = [
    0,
    1,
    999,
    Date.UTC(1970, 0, 1, 23, 59, 59, 999),
    Date.UTC(2000, 1, 29),
    Date.UTC(2000, 2, 1) - 1,
    Date.UTC(2024, 1, 29, 12, 30, 15, 7),
    Date.UTC(2100, 1, 28, 23, 59, 59, 999),
    Date.UTC(2100, 2, 1),
    Date.UTC(2026, 11, 31, 23, 59, 59, 999),
    Date.UTC(2027, 0, 1),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
  ];
  for (const ms of edges) assert.equal(isoUtc(ms), new Date(ms).toISOString(), String(ms));
});

Deno.test("isoUtc equals toISOString for random instants, and hands other values to it", () => {
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(Math.random() * 253_402_300_800_000);
    assert.equal(isoUtc(ms), new Date(ms).toISOString(), String(ms));
  }
  for (const ms of [-1, -86_400_000 * 400, 253_402_300_800_000, 1.5]) {
    assert.equal(isoUtc(ms), new Date(ms).toISOString(), String(ms));
  }
  assert.throws(() => isoUtc(NaN), RangeError);
  const before = Date.now();
  const now = Date.parse(nowIso());
  assert.ok(now >= before && now <= Date.now());
});
