/**
 * The layout rules the codebase promises (README "Layout"), checked on the source itself: KV is
 * touched only in `lib/store/`, whose key layout lives in `keys.ts`; `domain/` imports nothing
 * above it; signatures are verified with WebCrypto; the Deploy cron is registered at top level.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

async function sources(dir: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await sources(`${path}/`));
    else if (entry.name.endsWith(".ts")) {
      out.push({ path, text: await Deno.readTextFile(new URL(path, ROOT)) });
    }
  }
  return out;
}

const everything = async () => [
  ...await sources("lib/"),
  ...await sources("bench/"),
  { path: "main.ts", text: await Deno.readTextFile(new URL("main.ts", ROOT)) },
];

/** A KV call: `kv.get(`, `this.kv.atomic(`, `kv2.list(` … */
const KV_CALL = /\bkv\w*\.(get|getMany|list|set|delete|atomic|enqueue|listenQueue|watch)\(/;
/** Every collection the store's key layout names (each `["name", …]` in keys.ts). */
const COLLECTIONS = [
  ...new Set(
    [...Deno.readTextFileSync(new URL("lib/store/keys.ts", ROOT)).matchAll(/\[\s*"([a-z0-9_]+)"/g)].map((m) =>
      m[1]
    ),
  ),
];
/** A key literal of one of the store's collections. */
const KEY_LITERAL = new RegExp(`\\[\\s*"(${COLLECTIONS.join("|")})"`);

Deno.test("the key layout in keys.ts names every collection (so the check below covers them all)", () => {
  assert.ok(COLLECTIONS.length >= 21, `collections: ${COLLECTIONS.join(", ")}`);
  for (
    const name of ["clients", "submissions", "jobs", "contacts_by_email", "client_generations", "job_parts"]
  ) {
    assert.ok(COLLECTIONS.includes(name), name);
  }
});

Deno.test("no KV call or raw key literal outside lib/store/, and no key literal in the store outside keys.ts", async () => {
  const offenders: string[] = [];
  for (const { path, text } of await everything()) {
    const inStore = path.startsWith("lib/store/");
    text.split("\n").forEach((line, i) => {
      if (line.trim().startsWith("*") || line.trim().startsWith("//")) return;
      if (!inStore && KV_CALL.test(line)) offenders.push(`${path}:${i + 1} KV call: ${line.trim()}`);
      if (path !== "lib/store/keys.ts" && KEY_LITERAL.test(line)) {
        offenders.push(`${path}:${i + 1} key literal: ${line.trim()}`);
      }
    });
  }
  assert.deepEqual(offenders, []);
});

Deno.test("domain/ imports only domain/ (and built-ins); calcom/ never imports the store, processing or http", async () => {
  const offenders: string[] = [];
  for (const { path, text } of await sources("lib/")) {
    const imports = [...text.matchAll(/from "(\.[^"]+)"/g)].map((m) => m[1]);
    for (const target of imports) {
      const resolved = new URL(target, new URL(path, ROOT)).pathname.replace(
        new URL("lib/", ROOT).pathname,
        "",
      );
      if (path.startsWith("lib/domain/") && !resolved.startsWith("domain/")) {
        offenders.push(`${path} → ${target}`);
      }
      if (path.startsWith("lib/calcom/") && /^(store|processing|http|admin)\//.test(resolved)) {
        offenders.push(`${path} → ${target}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

Deno.test("signatures are verified with WebCrypto, not hand-built HMAC states", async () => {
  const text = await Deno.readTextFile(new URL("lib/calcom/signature.ts", ROOT));
  assert.match(text, /crypto\.subtle\.verify\("HMAC"/);
  assert.doesNotMatch(text, /node:crypto/);
});

Deno.test("the Deno.cron jobs (sweeper, reconciliation) are registered at top level of main.ts, before serving", async () => {
  const lines = (await Deno.readTextFile(new URL("main.ts", ROOT))).split("\n");
  const cron = lines.filter((l) => l.includes("Deno.cron("));
  assert.equal(cron.length, 2, "two cron registrations");
  const serve = lines.findIndex((l) => l.includes("Deno.serve("));
  for (const line of cron) {
    assert.match(line, /^Deno\.cron\(/, "at column 0: not nested in an if, a function or a callback");
    assert.ok(lines.indexOf(line) < serve, "registered before Deno.serve starts");
  }
  assert.ok(
    cron.some((l) => l.includes("sweeper.sweepOnce")) && cron.some((l) => l.includes("reconciler.runDue")),
  );
});
