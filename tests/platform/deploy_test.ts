/**
 * main.ts started as the new Deno Deploy starts it: its predefined variables set, no KV_PATH, no V8
 * flags, `--allow-all`, on Deno 2.5 (what Deploy runs). A signed booking must become a Job through
 * the default-location KV (what `Deno.openKv()` opens there), processed inline, with no queue use,
 * with its change-log entry in the feed and pushed, signed, to an outbound endpoint.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Webhook } from "standardwebhooks";
import { ADMIN_TOKEN, fixture, FIXTURE_SECRET, postSigned, readServiceLog, waitFor } from "../_helpers.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The Deploy runtime's version line (deploy/reference/runtime.md), from npm. */
const DEPLOY_DENO = "deno@2.5.6";

/** Where Deno keeps a location's origin storage (Deno.openKv()'s default file lives there). */
async function originStorage(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).originStorage;
}

/**
 * The Deno 2.5 binary itself (signalling the `npx` wrapper would leave the server running). The
 * machine's CA bundle is passed where one is configured: Deno 2.5 does not read it by itself.
 */
async function deployDeno(): Promise<{ path: string; cert: string[] }> {
  const bundle = Deno.env.get("SSL_CERT_FILE") ?? Deno.env.get("NODE_EXTRA_CA_CERTS");
  const cert = bundle ? ["--cert", bundle] : [];
  const out = await new Deno.Command("npx", {
    args: ["-y", DEPLOY_DENO, "eval", ...cert, "console.log(Deno.execPath())"],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  return { path: new TextDecoder().decode(out.stdout).trim(), cert };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("as Deno Deploy starts it (Deno 2.5, DENO_DEPLOY=true, no KV_PATH): a booking becomes a Job, inline, no queue", async () => {
  const origin = `https://calcom-intake-deploy-${crypto.randomUUID().slice(0, 8)}.test`;
  const kvDir = `${await originStorage()}/${await sha256Hex(origin)}`;
  const deno = await deployDeno();
  const version = await new Deno.Command(deno.path, { args: ["--version"], stdout: "piped" }).output();
  assert.match(new TextDecoder().decode(version.stdout), /^deno 2[.]5[.]/);
  const child = new Deno.Command(deno.path, {
    args: ["run", "--allow-all", "--location", origin, ...deno.cert, "main.ts"],
    cwd: ROOT,
    env: {
      DENO_DEPLOY: "true",
      DENO_DEPLOYMENT_ID: "test-deployment",
      DENO_DEPLOY_APP_ID: "00000000-0000-4000-8000-000000000000",
      DENO_DEPLOY_APP_SLUG: "calcom-intake",
      DENO_TIMELINE: "production",
      PORT: "0",
      ADMIN_TOKEN,
      OUTBOUND_ALLOW_PRIVATE: "true",
    },
    clearEnv: false,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { listening, drained: reading } = readServiceLog(child);
  const received: { headers: Record<string, string>; body: string }[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({ headers: Object.fromEntries(req.headers), body: await req.text() });
    return new Response(null, { status: 204 });
  });
  const stderr = new Response(child.stderr).text();
  try {
    const info = await listening;
    assert.equal(info.platform, "deno-deploy");
    assert.equal(info.mode, "inline");
    assert.equal(info.kv, "attached database");
    const url = info.url.replace("0.0.0.0", "127.0.0.1");
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const put = await fetch(`${url}/admin/clients/acme`, {
      method: "PUT",
      headers,
      body: JSON.stringify({ secret: FIXTURE_SECRET }),
    });
    assert.equal(put.status, 201);
    await put.body?.cancel();
    const endpoint = await fetch(`${url}/admin/clients/acme/endpoints`, {
      method: "POST",
      headers,
      body: JSON.stringify({ url: `http://127.0.0.1:${hook.addr.port}/hook` }),
    });
    assert.equal(endpoint.status, 201);
    const endpointSecret = (await endpoint.json()).secret;
    const { body } = fixture("booking_created");
    assert.equal(await postSigned(url, "acme", body), 202);
    // Inline: the Job exists once the webhook is answered.
    const jobs = await (await fetch(`${url}/admin/clients/acme/jobs`, { headers })).json();
    assert.equal(jobs.items.length, 1);
    assert.equal(jobs.items[0].calcom_event_id, "8sQm2xKpV4nTcRw7yHdJ3L");
    // Its change-log entry is in the feed, written in the same commit.
    const feed = await (await fetch(`${url}/api/v1/clients/acme/changes`, { headers })).json();
    assert.deepEqual(feed.items.map((e: { type: string; job_id: string }) => [e.type, e.job_id]), [
      ["job.created", jobs.items[0].id],
    ]);
    // And pushed to the endpoint, signed, with the entry's id.
    const delivered = await waitFor("the delivery", () => received[0]);
    assert.equal(delivered.headers["webhook-id"], feed.items[0].id);
    new Webhook(endpointSecret).verify(delivered.body, delivered.headers);
  } finally {
    child.kill("SIGINT");
    await child.status;
    await reading.catch(() => {});
    await stderr;
    await hook.shutdown();
  }
  // The data is in the default-location KV file, and the queue was never used.
  const db = new DatabaseSync(`${kvDir}/kv.sqlite3`, { readOnly: true });
  try {
    const count = (table: string) =>
      (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    assert.ok(count("kv") > 0, "the booking was stored in the attached (default-location) KV");
    assert.equal(count("queue"), 0, "no queue message");
    assert.equal(count("queue_running"), 0);
  } finally {
    db.close();
    await Deno.remove(kvDir, { recursive: true });
  }
});
