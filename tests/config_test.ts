import assert from "node:assert/strict";
import { DEFAULT_KV_PATH, readConfig } from "../lib/config.ts";

const from = (env: Record<string, string>) => readConfig((name) => env[name]);

Deno.test("defaults: port 8000, local KV under ./data, queue mode, admin API off", () => {
  const config = from({});
  assert.equal(config.port, 8000);
  assert.equal(config.kvPath, DEFAULT_KV_PATH);
  assert.ok(config.kvPath?.startsWith("./data/"));
  assert.equal(config.platform, "self-hosted");
  assert.equal(config.hostname, "0.0.0.0");
  assert.equal(config.processingMode, "queue");
  assert.equal(config.adminToken, null);
  assert.equal(config.sweepGraceMs, 60_000);
  assert.equal(config.queueRetryDelayMs, 30_000);
  assert.equal(config.bodyTimeoutMs, 10_000);
});

Deno.test("a KV Connect URL picks inline processing (no queues there); queue mode is refused for it", () => {
  assert.equal(from({ KV_PATH: "https://api.deno.com/databases/x/connect" }).processingMode, "inline");
  assert.equal(from({ KV_PATH: ":memory:", PROCESSING_MODE: "inline" }).processingMode, "inline");
  assert.throws(() => from({ KV_PATH: "https://kv.example/x", PROCESSING_MODE: "queue" }), /no queues/);
});

Deno.test("bad values are refused with the variable's name", () => {
  assert.throws(() => from({ PORT: "eighty" }), /PORT must be a whole number/);
  assert.throws(() => from({ PROCESSING_MODE: "fast" }), /PROCESSING_MODE/);
  assert.throws(() => from({ QUEUE_BACKOFF_MS: "1,2,3,4,5,6" }), /QUEUE_BACKOFF_MS/);
  assert.deepEqual(from({ QUEUE_BACKOFF_MS: "10, 20" }).queueBackoffMs, [10, 20]);
  assert.throws(() => from({ QUEUE_RETRY_DELAY_MS: "-1" }), /QUEUE_RETRY_DELAY_MS must be a whole number/);
  assert.equal(from({ QUEUE_RETRY_DELAY_MS: "500" }).queueRetryDelayMs, 500);
  assert.throws(() => from({ BODY_TIMEOUT_MS: "5" }), /BODY_TIMEOUT_MS must be a whole number from 100/);
});

Deno.test("on Deno Deploy (its predefined DENO_DEPLOY=true): the attached KV, inline processing, the platform's listener", () => {
  const deploy = { DENO_DEPLOY: "true", DENO_DEPLOYMENT_ID: "abc" };
  const config = from(deploy);
  assert.equal(config.platform, "deno-deploy");
  assert.equal(config.kvPath, null, "Deno.openKv() without an argument");
  assert.equal(config.processingMode, "inline");
  assert.equal(config.port, null);
  assert.equal(config.hostname, null);
  assert.equal(from({ ...deploy, KV_PATH: "" }).kvPath, null, "an empty KV_PATH is no path");
  assert.throws(() => from({ ...deploy, KV_PATH: "./data/kv.sqlite3" }), /not shared and vanishes/);
  assert.throws(() => from({ ...deploy, PROCESSING_MODE: "queue" }), /no KV queues/);
  assert.equal(from({ ...deploy, PORT: "9000" }).port, 9000);
  assert.equal(from({ HOST: "127.0.0.1" }).hostname, "127.0.0.1");
  assert.equal(from({ KV_PATH: "" }).kvPath, DEFAULT_KV_PATH, "self-hosted, empty means the default file");
});

Deno.test("the README's settings table lists exactly the variables the service reads", () => {
  const read = new Set<string>();
  const recording = (env: Record<string, string>) => (name: string) => (read.add(name), env[name]);
  // Each platform, and each branch that reads a variable only in some cases.
  const envs: Record<string, string>[] = [{}, { DENO_DEPLOY: "true" }, { DENO_DEPLOY: "true", PORT: "9000" }];
  for (const env of envs) {
    readConfig(recording(env));
  }
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const section = readme.slice(
    readme.indexOf("## Settings"),
    readme.indexOf("\n## ", readme.indexOf("## Settings") + 3),
  );
  const documented = new Set([...section.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]));
  assert.ok(documented.size > 10, "the table was found");
  assert.deepEqual([...read].filter((n) => !documented.has(n)).sort(), [], "read but not documented");
  assert.deepEqual([...documented].filter((n) => !read.has(n)).sort(), [], "documented but not read");
});
