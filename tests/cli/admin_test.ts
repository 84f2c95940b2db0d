import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  type ClientView,
  type ContactView,
  countingReceiver,
  fixture,
  FIXTURE_SECRET,
  type JobView,
  type PageAnswer,
  runAdminCli,
  type SubmissionView,
  waitFor,
  withServer,
  withTempDir,
} from "../_helpers.ts";
import type { ReplaySummary } from "../../lib/processing/replay.ts";
import type { PassResult } from "../../lib/processing/reconciler.ts";
import { apiBooking, FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";

interface Run<T> {
  code: number;
  json: T;
  stdout: string;
  stderr: string;
}

async function admin<T = unknown>(kvPath: string, ...args: string[]): Promise<Run<T>> {
  const out = await runAdminCli(
    kvPath,
    ...args,
    ...(args.length && !args.includes("--help") ? ["--json"] : []),
  );
  const json = out.code === 0 && out.stdout.trim().startsWith("{") ? JSON.parse(out.stdout) : null;
  return { ...out, json };
}

Deno.test("the admin CLI manages clients and reads what the service stored, on the same KV_PATH", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const added = await admin<{ created: boolean; client: ClientView }>(
      kvPath,
      ...["client", "add", "acme", "--name", "Acme", "--secret", FIXTURE_SECRET],
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.json.created, true);
    assert.equal(added.json.client.webhook_path, "/webhooks/calcom/acme");

    await withServer({ kvPath, mode: "inline" }, async (server) => {
      const res = await server.post("acme", fixture("booking_created").body);
      assert.equal(res.status, 202);
      await res.body?.cancel();
    });

    const jobs = await admin<PageAnswer<JobView>>(kvPath, "jobs", "acme");
    assert.equal(jobs.json.items.length, 1);
    assert.equal(jobs.json.items[0].calcom_event_id, "8sQm2xKpV4nTcRw7yHdJ3L");
    const job = await admin<JobView>(kvPath, "job", "acme", jobs.json.items[0].id);
    assert.equal(job.json.id, jobs.json.items[0].id);
    const byUid = await admin<PageAnswer<JobView>>(
      kvPath,
      "jobs",
      "acme",
      "--calcom-event-id",
      "8sQm2xKpV4nTcRw7yHdJ3L",
    );
    assert.equal(byUid.json.items[0].id, job.json.id);
    const contacts = await admin<PageAnswer<ContactView>>(kvPath, "contacts", "acme");
    assert.equal(contacts.json.items[0].email, "marcus.okafor@example.net");
    const contact = await admin<ContactView>(kvPath, "contact", "acme", contacts.json.items[0].id);
    assert.equal(contact.json.email, "marcus.okafor@example.net");
    const submissions = await admin<PageAnswer<SubmissionView>>(
      kvPath,
      "submissions",
      "acme",
      "--status",
      "processed",
    );
    assert.equal(submissions.json.items.length, 1);
    const submission = await admin<SubmissionView>(
      kvPath,
      "submission",
      "acme",
      submissions.json.items[0].id,
    );
    assert.equal(submission.json.status, "processed");
    const replayed = await admin<ReplaySummary>(kvPath, "replay", "acme", "--status", "processed");
    assert.deepEqual(replayed.json.results, { processed: 1 });
    const one = await admin<SubmissionView>(kvPath, "replay", "acme", submissions.json.items[0].id);
    assert.equal(one.json.status, "processed");

    const listed = await admin<PageAnswer<ClientView>>(kvPath, "client", "list");
    assert.deepEqual(listed.json.items.map((c) => c.slug), ["acme"]);
    assert.ok(!listed.stdout.includes(FIXTURE_SECRET));
    const shown = await admin<ClientView>(kvPath, "client", "show", "acme");
    assert.equal(shown.json.secrets.length, 1);
    assert.ok(!shown.stdout.includes(FIXTURE_SECRET));
    const letters = await admin<PageAnswer<unknown>>(kvPath, "dead-letters");
    assert.deepEqual(letters.json.items, []);

    const unconfirmed = await admin(kvPath, "client", "remove", "acme");
    assert.equal(unconfirmed.code, 2, "destroying data needs --yes");
    assert.match(unconfirmed.stderr, /add --yes/);
    assert.equal((await admin(kvPath, "client", "show", "acme")).code, 0, "nothing was removed");
    assert.equal((await admin(kvPath, "client", "remove", "acme", "--yes")).code, 0);
    assert.deepEqual((await admin<PageAnswer<ClientView>>(kvPath, "client", "list")).json.items, []);
  });
});

Deno.test("the admin CLI answers like the API: unknown client and bad input are errors, --help is not", async () => {
  await withTempDir(async (dir) => {
    const kvPath = `${dir}/kv.sqlite3`;
    const unknown = await admin(kvPath, "jobs", "nobody");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /There is no client "nobody"/);
    assert.equal((await admin(kvPath, "client", "show", "nobody")).code, 1);

    assert.equal((await admin(kvPath, "client", "add", "acme")).code, 0);
    const badStatus = await admin(kvPath, "submissions", "acme", "--status", "nope");
    assert.equal(badStatus.code, 1);
    assert.match(badStatus.stderr, /status must be one of/);
    const badCursor = await admin(kvPath, "jobs", "acme", "--cursor", "garbage!");
    assert.equal(badCursor.code, 1);
    assert.match(badCursor.stderr, /cursor/);
    const badSlug = await admin(kvPath, "jobs", "Not_A_Slug");
    assert.match(badSlug.stderr, /client slug is 1–63 characters/);

    const help = await admin(kvPath, "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: deno task admin/);
    const usage = await admin(kvPath);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Usage: deno task admin/);
    const unknownCommand = await admin(kvPath, "frobnicate");
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /Unknown command "frobnicate"/);
    const badOption = await admin(kvPath, "jobs", "acme", "--nope");
    assert.equal(badOption.code, 2);
  });
});

Deno.test("the admin CLI sets a client's Cal.com API key and runs a reconciliation pass", async () => {
  const fake = startFakeCalcom();
  try {
    await withTempDir(async (dir) => {
      const kvPath = `${dir}/kv.sqlite3`;
      fake.put(apiBooking("cli-1"));
      const added = await admin<{ client: ClientView }>(
        kvPath,
        ...["client", "add", "acme", "--api-key", FAKE_API_KEY, "--api-url", fake.url],
      );
      assert.equal(added.code, 0, added.stderr);
      assert.equal(added.json.client.has_api_key, true);
      assert.ok(
        !added.stdout.includes(FAKE_API_KEY) && !added.stderr.includes(FAKE_API_KEY),
        "the key is never shown",
      );
      const pass = await admin<PassResult>(kvPath, "reconcile", "acme");
      assert.equal(pass.code, 0, pass.stderr);
      assert.equal(pass.json.created, 1);
      assert.equal(pass.json.missed_webhooks, 1);
      const missed = await admin<PageAnswer<{ uid: string }>>(kvPath, "missed-webhooks", "acme");
      assert.deepEqual(missed.json.items.map((m) => m.uid), ["cli-1"]);
      const jobs = await admin<PageAnswer<JobView>>(kvPath, "jobs", "acme");
      assert.deepEqual(jobs.json.items.map((j) => j.calcom_event_id), ["cli-1"]);
    });
  } finally {
    await fake.close();
  }
});

Deno.test("the admin CLI connects a client to Cal.com, checks it and disconnects it (--url)", async () => {
  const fake = startFakeCalcom();
  try {
    const env = { PUBLIC_URL: "https://intake.example.com", RECONCILE_BACKOFF_MS: "5" };
    await withServer({ port: true, mode: "inline", env }, async (server) => {
      const remote = (...args: string[]) =>
        runAdminCli(":memory:", "--url", server.url, "--token", ADMIN_TOKEN, ...args);
      const added = await remote("client", "add", "acme", "--api-key", FAKE_API_KEY, "--api-url", fake.url);
      assert.equal(added.code, 0, added.stderr);
      const connected = await remote("client", "connect", "acme");
      assert.equal(connected.code, 0, connected.stderr);
      assert.match(connected.stdout, /Created webhook [0-9a-f-]{36} in Cal\.com/);
      assert.equal(fake.userWebhooks().length, 1);
      fake.userWebhooks()[0].payloadTemplate = "{{title}}";
      const checked = await remote("client", "check", "acme");
      assert.equal(checked.code, 0, checked.stderr);
      assert.match(checked.stdout, /state\s+template_set/);
      const shown = await remote("client", "show", "acme");
      assert.match(shown.stdout, /calcom_webhook_template_set/);
      const refused = await remote("client", "disconnect", "acme");
      assert.notEqual(refused.code, 0, "disconnect needs --yes");
      assert.equal(fake.userWebhooks().length, 1);
      const gone = await remote("client", "disconnect", "acme", "--yes");
      assert.equal(gone.code, 0, gone.stderr);
      assert.equal(fake.userWebhooks().length, 0);
      const said = [added, connected, checked, shown, gone].map((r) => r.stdout + r.stderr).join("");
      assert.ok(!said.includes(FAKE_API_KEY), "the key is never shown");
    });
  } finally {
    await fake.close();
  }
});

Deno.test("the admin CLI against a running service (--url): tables for people, --json, export, erase, --help per command", async () => {
  await withServer({ port: true, mode: "inline" }, async (server) => {
    const remote = (...args: string[]) =>
      runAdminCli(":memory:", "--url", server.url, "--token", ADMIN_TOKEN, ...args);
    const added = await remote(
      "client",
      "add",
      "acme",
      "--name",
      "Acme Plumbing",
      "--secret",
      FIXTURE_SECRET,
      "--json",
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).created, true);
    const posted = await server.post("acme", fixture("booking_created").body);
    assert.equal(posted.status, 202);
    await posted.body?.cancel();

    const table = await remote("jobs", "acme");
    assert.equal(table.code, 0, table.stderr);
    const [header, rule, row] = table.stdout.trim().split("\n");
    assert.match(header, /^id\s+status\s+start_time\s+booker_email\s+title/);
    assert.match(rule, /^-+\s+-+/);
    assert.match(row, /scheduled\s+2026-10-14T16:00:00.000Z\s+marcus.okafor@example.net/);

    const csv = await remote("export", "acme", "contacts");
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /^contact_id,email,name/);
    assert.match(csv.stdout, /marcus.okafor@example.net,Marcus Okafor/);

    const contacts = JSON.parse((await remote("contacts", "acme", "--json")).stdout);
    const unconfirmed = await remote("erase", "acme", contacts.items[0].id);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /add --yes/);
    const erased = await remote("erase", "acme", contacts.items[0].id, "--yes", "--json");
    assert.equal(erased.code, 0, erased.stderr);
    assert.equal(JSON.parse(erased.stdout).erased.contact_id, contacts.items[0].id);
    assert.ok(
      server.logs.some((l) => l.includes('"contact.erase"') && l.includes('"source":"cli"')),
      "audited as the CLI",
    );

    const rotated = await remote("secret", "add", "acme");
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(
      rotated.stdout,
      /^secret\.secret\s+whsec_[A-Za-z0-9_-]{43}$/m,
      "a new secret is printed whole, once",
    );

    const help = await remote("jobs", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: deno task admin jobs <slug>.*--status/);
    const localOnly = await remote("backup", "x.ndjson");
    assert.equal(localOnly.code, 2);
    assert.match(localOnly.stderr, /local KV_PATH only/);
    const refused = await runAdminCli(":memory:", "--url", server.url, "--token", "wrong", "client", "list");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /admin token/i);
    assert.match(
      refused.stderr,
      /echoed by `deno task`/,
      "a token typed on the command line is warned about",
    );
    assert.ok(!refused.stderr.includes("wrong"), "and never repeated");
    const exists = await remote("client", "add", "acme");
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /already exists; nothing was changed.*client update acme/);
    const updated = await remote("client", "update", "acme", "--name", "Acme & Sons", "--json");
    assert.equal(JSON.parse(updated.stdout).client.name, "Acme & Sons");
    const down = await runAdminCli(
      ":memory:",
      "--url",
      "http://127.0.0.1:9",
      "--token",
      "x",
      "client",
      "list",
    );
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Cannot reach the service at http:\/\/127\.0\.0\.1:9.*Is it running/);
  });
});

Deno.test("the admin CLI through --url: settings read back, endpoints take --endpoint-url, mistakes are named", async () => {
  const receiver = countingReceiver();
  try {
    await withServer({ port: true, mode: "inline", env: { OUTBOUND_ALLOW_PRIVATE: "1" } }, async (server) => {
      const remote = (...args: string[]) =>
        runAdminCli(":memory:", "--url", server.url, "--token", ADMIN_TOKEN, ...args);
      const json = async <T>(...args: string[]): Promise<T> => {
        const run = await remote(...args, "--json");
        assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
        return JSON.parse(run.stdout);
      };
      await json("client", "add", "acme", "--secret", FIXTURE_SECRET, "--time-zone", "Europe/Berlin");
      await json("client", "update", "acme", "--silence-days", "3");
      const shown = await json<ClientView>("client", "show", "acme");
      assert.deepEqual([shown.time_zone, shown.silence_days], ["Europe/Berlin", 3]);

      const created = await json<{ id: string; url: string }>(
        "endpoint",
        "add",
        "acme",
        "--endpoint-url",
        receiver.url,
        "--event-types",
        "job.created",
      );
      assert.equal(created.url, receiver.url);
      const posted = await server.post("acme", fixture("booking_created").body);
      assert.equal(posted.status, 202);
      await posted.body?.cancel();
      await waitFor("the receiver to get the Job", () => receiver.received() >= 1);

      const moved = `${receiver.url}/v2`;
      const updated = await json<{ url: string }>(
        "endpoint",
        "update",
        "acme",
        created.id,
        "--endpoint-url",
        moved,
      );
      assert.equal(updated.url, moved);

      // The old spelling would have sent the command to the receiver: refused, naming the new one.
      for (const args of [["endpoint", "add", "acme"], ["endpoint", "update", "acme", created.id]]) {
        const old = await runAdminCli(":memory:", ...args, "--url", receiver.url);
        assert.equal(old.code, 2, old.stderr);
        assert.match(
          old.stderr,
          /receiver's address as --endpoint-url https:\/\/….*--url is the address of the calcom-intake service/s,
        );
      }
      const stateOnly = await remote("endpoint", "update", "acme", created.id, "--state", "disabled");
      assert.equal(
        stateOnly.code,
        0,
        "--url with other changes is the service's address: " + stateOnly.stderr,
      );

      const typo = await remote("clent", "list");
      assert.equal(typo.code, 2);
      assert.match(typo.stderr, /Unknown command "clent list". Did you mean "client list"\?/);
      assert.match(typo.stderr, /Usage: deno task admin client list/);
      assert.ok(typo.stderr.split("\n").length < 10, `a short usage, not all of it:\n${typo.stderr}`);
      const nothingNear = await remote("frobnicate");
      assert.match(nothingNear.stderr, /Commands: client list, client add,/);
      assert.ok(nothingNear.stderr.split("\n").length < 6, nothingNear.stderr);
      const option = await remote("jobs", "acme", "--limt", "5");
      assert.equal(option.code, 2);
      assert.match(option.stderr, /Unknown option --limt \(did you mean --limit\?\)/);
      const otherCommands = await remote("jobs", "acme", "--event-types", "x");
      assert.equal(otherCommands.code, 2);
      assert.match(otherCommands.stderr, /"jobs" has no --event-types/);
    });
  } finally {
    await receiver.close();
  }
});
