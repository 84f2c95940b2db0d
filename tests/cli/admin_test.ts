// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { fixture, FIXTURE_SECRET, withServer, withTempDir } from "../_helpers.ts";

const CLI = new URL("../../lib/cli/admin.ts", import.meta.url).pathname;

async function admin(
  kvPath: string,
  ...args: string[]
): Promise<{ code: number; json: any; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", "--allow-write", CLI, ...args],
    env: { KV_PATH: kvPath },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  return {
    code: out.code,
    json: stdout.trim() ? JSON.parse(stdout) : null,
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("the admin CLI manages clients and reads what the service stored, on the same KV_PATH", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const added = await admin(kvPath, "client", "add", "acme", "--name", "Acme", "--secret", FIXTURE_SECRET);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.created, true);
    assert.equal(added.json.webhook_path, "/webhooks/calcom/acme");

    await withServer({ kvPath, mode: "inline" }, async (server) => {
      const res = await server.post("acme", fixture("booking_created").body);
      assert.equal(res.status, 202);
      await res.body?.cancel();
    });

    const jobs = await admin(kvPath, "jobs", "acme");
    assert.equal(jobs.json.items.length, 1);
    assert.equal(jobs.json.items[0].calcom_event_id, "8sQm2xKpV4nTcRw7yHdJ3L");
    const contacts = await admin(kvPath, "contacts", "acme");
    assert.equal(contacts.json.items[0].email, "marcus.okafor@example.net");
    const submissions = await admin(kvPath, "submissions", "acme", "--status", "processed");
    assert.equal(submissions.json.items.length, 1);
    const replayed = await admin(kvPath, "replay", "acme", "--status", "processed");
    assert.deepEqual(replayed.json.results, { processed: 1 });
    const one = await admin(kvPath, "replay", "acme", submissions.json.items[0].id);
    assert.equal(one.json.status, "processed");

    const listed = await admin(kvPath, "client", "list");
    assert.deepEqual(listed.json.map((c: any) => c.slug), ["acme"]);
    assert.ok(!JSON.stringify(listed.json).includes(FIXTURE_SECRET));

    const bad = await admin(kvPath, "submissions", "acme", "--status", "nope");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--status must be one of/);
    const usage = await admin(kvPath);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Usage: deno task admin/);

    assert.equal((await admin(kvPath, "client", "remove", "acme")).code, 0);
    assert.deepEqual((await admin(kvPath, "client", "list")).json, []);
  });
});
