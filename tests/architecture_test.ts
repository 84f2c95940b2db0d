/**
 * The layout rules the codebase promises (ARCHITECTURE.md), checked on the source itself: the layers
 * import only downwards (domain < calcom < store < processing < api < admin < http < cli); KV is
 * touched only in `lib/store/`, whose key layout lives in `keys.ts`; signatures are verified with
 * WebCrypto; the Deploy cron is registered at top level.
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

/**
 * Each module of lib/ and its rank: a module may import only modules of a lower rank or of its
 * own folder. The top-level helpers sit between the layers they serve: `errors`, `time`, `bytes`,
 * `log` and `trace` under everything; `metrics` and `config` (which read the store's types) above the
 * store; `service` and `startup` (the wiring) above http. The client API (`api/`) and the
 * operator's (`admin/`) are one tier, with admin building on api and never the other way.
 */
const RANKS: [RegExp, number, string][] = [
  [/^(errors|time|bytes|log|trace)\.ts$/, 0, "base"],
  [/^domain\//, 1, "domain"],
  [/^calcom\//, 2, "calcom"],
  [/^store\//, 3, "store"],
  [/^(metrics|config)\.ts$/, 3.5, "metrics/config"],
  [/^processing\//, 4, "processing"],
  [/^api\//, 5, "api"],
  [/^admin\//, 5.5, "admin"],
  [/^http\//, 6, "http"],
  [/^(service|startup)\.ts$/, 6.5, "service"],
  [/^cli\//, 7, "cli"],
];

function rankOf(path: string): [number, string] {
  const found = RANKS.find(([pattern]) => pattern.test(path));
  if (!found) throw new Error(`lib/${path} is in no layer: give it one in RANKS`);
  return [found[1], found[2]];
}

/** Every relative import of lib/, as [importer, imported], both relative to lib/. */
async function libImports(): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const lib = new URL("lib/", ROOT).pathname;
  for (const { path, text } of await sources("lib/")) {
    for (const m of text.matchAll(/(?:from|import\() ?"(\.[^"]+)"/g)) {
      const resolved = new URL(m[1], new URL(path, ROOT)).pathname;
      if (resolved.startsWith(lib)) out.push([path.slice(4), resolved.slice(lib.length)]);
    }
  }
  return out;
}

Deno.test("the layers import only downwards: domain < calcom < store < processing < api < admin < http < cli", async () => {
  const offenders: string[] = [];
  const edges = await libImports();
  for (const [from, to] of edges) {
    const [fromRank, fromLayer] = rankOf(from);
    const [toRank, toLayer] = rankOf(to);
    const sameFolder = from.split("/")[0] === to.split("/")[0] && from.includes("/");
    if (toRank > fromRank || (toRank === fromRank && !sameFolder && fromLayer !== "base")) {
      offenders.push(`${from} (${fromLayer}) imports ${to} (${toLayer})`);
    }
  }
  assert.deepEqual(offenders, []);
  // The rule can fail: the layers do import one another, downwards.
  const layersSeen = new Set(edges.map(([from, to]) => `${rankOf(from)[1]}→${rankOf(to)[1]}`));
  for (
    const edge of [
      "calcom→domain",
      "store→domain",
      "processing→store",
      "admin→api",
      "http→admin",
      "cli→admin",
    ]
  ) {
    assert.ok(layersSeen.has(edge), edge);
  }
});

Deno.test("the layer check names an upward import", () => {
  const [low] = rankOf("domain/job.ts");
  const [high] = rankOf("processing/intake.ts");
  assert.ok(high > low);
  assert.throws(() => rankOf("somewhere/new.ts"), /in no layer/);
  assert.ok(rankOf("api/table.ts")[0] < rankOf("admin/table.ts")[0], "admin builds on api, not the reverse");
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
