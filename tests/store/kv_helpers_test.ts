import assert from "node:assert/strict";
import { ConflictError, InvalidCursorError, listPage, withOccRetry } from "../../lib/store/kv.ts";

Deno.test("withOccRetry re-reads and retries a commit that lost a race, and gives up with ConflictError", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    await kv.set(["n"], 0);
    let attempts = 0;
    const result = await withOccRetry("increment", async () => {
      attempts++;
      const entry = await kv.get<number>(["n"]);
      // The first attempt loses a race to a concurrent writer.
      if (attempts === 1) await kv.set(["n"], 10);
      return { op: kv.atomic().check(entry).set(["n"], entry.value! + 1), result: entry.value! + 1 };
    });
    assert.equal(attempts, 2);
    assert.equal(result, 11);
    assert.equal((await kv.get(["n"])).value, 11);

    assert.equal(
      await withOccRetry("nothing to do", () => Promise.resolve({ op: null, result: "same" })),
      "same",
    );

    let tries = 0;
    await assert.rejects(
      withOccRetry("always loses", async () => {
        tries++;
        const entry = await kv.get(["n"]);
        await kv.set(["n"], tries);
        return { op: kv.atomic().check(entry).set(["n"], -1), result: null };
      }),
      (error) => error instanceof ConflictError && /always loses/.test(error.message),
    );
    assert.ok(tries > 1 && tries < 100, "bounded");
  } finally {
    kv.close();
  }
});

Deno.test("listPage pages in key order with a cursor only when more follows, filters, and refuses a garbled cursor", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (let i = 0; i < 7; i++) await kv.set(["items", `k${i}`], { i, even: i % 2 === 0 });
    const first = await listPage<{ i: number }>(kv, ["items"], { limit: 3 });
    assert.deepEqual(first.items.map((v) => v.i), [0, 1, 2]);
    assert.ok(first.cursor);
    const second = await listPage<{ i: number }>(kv, ["items"], { limit: 3, cursor: first.cursor! });
    assert.deepEqual(second.items.map((v) => v.i), [3, 4, 5]);
    const last = await listPage<{ i: number }>(kv, ["items"], { limit: 3, cursor: second.cursor! });
    assert.deepEqual(last.items.map((v) => v.i), [6]);
    assert.equal(last.cursor, null);
    const exact = await listPage<{ i: number }>(kv, ["items"], { limit: 7 });
    assert.equal(exact.cursor, null, "no cursor when nothing follows the last item");

    const even = await listPage<{ i: number; even: boolean }, number>(kv, ["items"], {
      limit: 10,
      keep: (v) => v.even,
      view: (v) => v.i,
    });
    assert.deepEqual(even.items, [0, 2, 4, 6]);
    // A sparse filter answers after scanning a bounded number of entries, with a cursor to go on.
    const sparse = await listPage<{ i: number }>(kv, ["items"], { limit: 10, keep: (v) => v.i === 6 }, 2);
    assert.deepEqual(sparse.items, []);
    assert.ok(sparse.cursor);

    await assert.rejects(listPage(kv, ["items"], { limit: 3, cursor: "abc" }), InvalidCursorError);
  } finally {
    kv.close();
  }
});
