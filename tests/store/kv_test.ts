import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { LOCAL_KV_PAGE_SIZE, openKv } from "../../lib/store/kv.ts";
import { withTempDir } from "../_helpers.ts";

function pageSize(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number((db.prepare("PRAGMA page_size").get() as { page_size: number }).page_size);
  } finally {
    db.close();
  }
}

Deno.test("openKv creates a new local KV file with large pages, in a folder it creates", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nested/kv.sqlite3`;
    const kv = await openKv(path);
    const body = new Uint8Array(3000).fill(7);
    await kv.set(["submissions", "acme", "1"], { body });
    kv.close();
    assert.equal(pageSize(path), LOCAL_KV_PAGE_SIZE);
    assert.notEqual(LOCAL_KV_PAGE_SIZE, 4096);

    const reopened = await openKv(path);
    const entry = await reopened.get<{ body: Uint8Array }>(["submissions", "acme", "1"]);
    reopened.close();
    assert.deepEqual(entry.value?.body, body);
  });
});

Deno.test("openKv leaves an existing KV file (and its page size) as it is", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.sqlite3`;
    const old = await Deno.openKv(path);
    await old.set(["clients", "acme"], { name: "Acme" });
    old.close();
    const before = pageSize(path);

    const kv = await openKv(path);
    const entry = await kv.get(["clients", "acme"]);
    kv.close();
    assert.deepEqual(entry.value, { name: "Acme" });
    assert.equal(pageSize(path), before);
    assert.notEqual(before, LOCAL_KV_PAGE_SIZE);
  });
});

Deno.test("processes opening the same new KV file at once all get a working KV", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.sqlite3`;
    const script = `
      import { openKv } from "${new URL("../../lib/store/kv.ts", import.meta.url).href}";
      const kv = await openKv(Deno.args[0]);
      await kv.set(["who", Deno.args[1]], Deno.args[1]);
      kv.close();`;
    const run = (who: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--unstable-kv", script, path, who],
        stdout: "null",
        stderr: "piped",
      }).output();
    const outputs = await Promise.all([run("a"), run("b"), run("c")]);
    for (const out of outputs) assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const kv = await openKv(path);
    const entries = await Array.fromAsync(kv.list<string>({ prefix: ["who"] }));
    kv.close();
    assert.deepEqual(entries.map((e) => e.value), ["a", "b", "c"]);
  });
});

Deno.test("two connections to one KV file writing at once: every write lands, none fails on the write lock", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/kv.sqlite3`;
    // Two instances on one file (two processes, or two connections of one) contend for SQLite's
    // write lock; unwrapped, some of these writes fail with "database is locked".
    const [a, b] = [await openKv(path), await openKv(path)];
    try {
      let landed = 0n;
      const writer = async (kv: Deno.Kv, n: number) => {
        for (let i = 0; i < n; i++) {
          const seen = await kv.get(["jobs", i % 5]);
          const result = await kv.atomic().check(seen).set(seen.key, i).sum(["counts"], 1n).commit();
          if (result.ok) landed++;
          await kv.set(["bodies", crypto.randomUUID()], "x".repeat(2000));
          await kv.delete(["bodies", "gone"]);
        }
      };
      await Promise.all([writer(a, 150), writer(b, 150), writer(a, 150), writer(b, 150)]);
      assert.ok(landed > 0n);
      assert.equal((await a.get<Deno.KvU64>(["counts"])).value?.value, landed);
      let bodies = 0;
      for await (const _ of b.list({ prefix: ["bodies"] })) bodies++;
      assert.equal(bodies, 600);
    } finally {
      a.close();
      b.close();
    }
  });
});
