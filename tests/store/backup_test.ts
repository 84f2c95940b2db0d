import assert from "node:assert/strict";
import { decodeValue, encodeValue } from "../../lib/store/backup.ts";
import {
  addClient,
  type ClientView,
  type ContactView,
  fixture,
  FIXTURE_NAMES,
  type JobView,
  listAll,
  runAdminCli,
  type SubmissionView,
  type TestServer,
  withServer,
  withTempDir,
} from "../_helpers.ts";

const cli = runAdminCli;

Deno.test("every KV value type survives the backup encoding exactly", () => {
  const values: unknown[] = [
    null,
    true,
    0,
    -0,
    NaN,
    Infinity,
    1.5,
    "text",
    "",
    12345678901234567890n,
    new Uint8Array([0, 1, 254, 255]),
    new Deno.KvU64(18446744073709551615n),
    new Date("2026-10-01T00:00:00.000Z"),
    undefined,
    [1, undefined, "x"],
    { a: { b: [new Uint8Array(3)] }, missing: undefined },
    { $t: "bytes", v: "not really a tag" },
    new Map([["k", 1]]),
    new Set([1, 2]),
  ];
  for (const value of values) {
    const roundTrip = decodeValue(JSON.parse(JSON.stringify(encodeValue(value))));
    assert.deepEqual(roundTrip, value, String(value));
    if (value instanceof Deno.KvU64) assert.equal((roundTrip as Deno.KvU64).value, value.value);
  }
});

async function everything(server: TestServer) {
  const client = (await server.admin<ClientView>("GET", "/admin/clients/acme")).body;
  return {
    settings: { time_zone: client.time_zone, silence_days: client.silence_days },
    jobs: await listAll(server, "/admin/clients/acme/jobs") as JobView[],
    contacts: await listAll(server, "/admin/clients/acme/contacts") as ContactView[],
    submissions: await listAll(server, "/admin/clients/acme/submissions") as SubmissionView[],
  };
}

Deno.test("backup while the service runs → restore into an empty store gives the same Jobs, Contacts, submissions and secrets", async () => {
  await withTempDir(async (dir) => {
    const source = `${dir}/source.sqlite3`;
    const target = `${dir}/target.sqlite3`;
    let before: Awaited<ReturnType<typeof everything>> | null = null;
    let dump: [Deno.KvKey, unknown][] = [];
    await withServer({ kvPath: source, mode: "inline" }, async (server) => {
      await addClient(server, "acme");
      const set = await server.admin("PATCH", "/admin/clients/acme", {
        time_zone: "Europe/Berlin",
        silence_days: 4,
      });
      assert.equal(set.status, 200);
      for (const name of FIXTURE_NAMES) await (await server.post("acme", fixture(name).body)).body?.cancel();
      before = await everything(server);
      assert.ok(before.jobs.length > 0 && before.contacts.length > 0);
      assert.deepEqual(before.settings, { time_zone: "Europe/Berlin", silence_days: 4 });
      // Taken while this service holds the file open.
      const backup = await cli(source, "backup", `${dir}/backup.ndjson`);
      assert.equal(backup.code, 0, backup.stderr);
      const snapshot = await cli(source, "backup", `${dir}/snapshot.sqlite3`, "--sqlite");
      assert.equal(snapshot.code, 0, snapshot.stderr);
      dump = await Array.fromAsync(server.kv.list({ prefix: [] }), (e) => [e.key, e.value]);
    });
    const info = await Deno.stat(`${dir}/backup.ndjson`);
    assert.equal(info.mode! & 0o777, 0o600, "the backup holds secrets: owner-only");
    const header = JSON.parse((await Deno.readTextFile(`${dir}/backup.ndjson`)).split("\n")[0]);
    assert.equal(header.format, "calcom-intake-backup");
    assert.match(header.warning, /secrets/);
    assert.equal((await cli(source, "backup", `${dir}/backup.ndjson`)).code, 1, "never overwrites a file");

    // The target does not exist yet: restore refuses to create it unless told to.
    const unasked = await cli(target, "restore", `${dir}/backup.ndjson`);
    assert.equal(unasked.code, 1);
    assert.match(unasked.stderr, new RegExp(`no KV store at ${target}.*--env-file.*--create`, "s"));
    await assert.rejects(Deno.stat(target), Deno.errors.NotFound, "nothing was created");
    const restored = await cli(target, "restore", `${dir}/backup.ndjson`, "--create", "--json");
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(JSON.parse(restored.stdout).restored, dump.length);
    const again = await cli(target, "restore", `${dir}/backup.ndjson`);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /not empty.*--force/);
    assert.equal((await cli(target, "restore", `${dir}/backup.ndjson`, "--force")).code, 0);

    for (const path of [target, `${dir}/snapshot.sqlite3`]) {
      await withServer({ kvPath: path, mode: "inline" }, async (server) => {
        assert.deepEqual(await everything(server), before, path);
        assert.deepEqual(
          await Array.fromAsync(server.kv.list({ prefix: [] }), (e) => [e.key, e.value]),
          dump,
          path,
        );
        // The secrets came along: a booking signed with the client's secret is accepted.
        const res = await server.post(
          "acme",
          fixture("booking_created").body.replace("Estimate", "Estimate again"),
        );
        assert.equal(res.status, 202, path);
        await res.body?.cancel();
      });
    }
  });
});
