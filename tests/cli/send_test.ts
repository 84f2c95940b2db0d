/**
 * `deno task send` against the service on a real port: every trigger it knows is accepted, and
 * each story ends as the Job it tells.
 */
import assert from "node:assert/strict";
import { SAMPLE_TRIGGERS, sampleBody, scenario, SCENARIOS } from "../../lib/calcom/samples.ts";
import { addClient, ADMIN_TOKEN, FIXTURE_SECRET, type JobView, listAll, withServer } from "../_helpers.ts";

const SEND = new URL("../../lib/cli/send.ts", import.meta.url).pathname;

/** The sender with the secret and token in the environment (or `stdin` piped to it). */
async function send(url: string, ...args: string[]) {
  return await sendWith({ WEBHOOK_SECRET: FIXTURE_SECRET, ADMIN_TOKEN }, null, url, ...args);
}

async function sendWith(env: Record<string, string>, stdin: string | null, url: string, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", SEND, "--url", url, "--slug", "acme", ...args],
    env,
    clearEnv: true,
    stdin: stdin === null ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== null) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

function lastJob(stdout: string): JobView {
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l));
  return lines.at(-1).job;
}

Deno.test("deno task send: every trigger is accepted; every story ends as the Job it tells", async () => {
  // Queue mode: each answer comes once stored, so the sender must wait for the Job to take the last step.
  await withServer({ port: true }, async (server) => {
    await addClient(server, "acme");
    for (const trigger of SAMPLE_TRIGGERS) {
      const run = await send(server.url, trigger, "--json");
      assert.equal(run.code, 0, `${trigger}: ${run.stdout} ${run.stderr}`);
      const first = JSON.parse(run.stdout.split("\n")[0]);
      assert.ok(first.status === 200 || first.status === 202, `${trigger}: ${first.status}`);
    }

    const story = async (name: string) => {
      const run = await send(server.url, "--scenario", name, "--json", "--uid", `story-${name}`);
      assert.equal(run.code, 0, `${name}: ${run.stdout} ${run.stderr}`);
      return lastJob(run.stdout);
    };
    const cancelled = await story("create-reschedule-cancel");
    assert.equal(cancelled.status, "cancelled");
    assert.equal(cancelled.calcom_event_id, "story-create-reschedule-cancel-r");
    assert.deepEqual(cancelled.previous_event_ids, ["story-create-reschedule-cancel"]);

    const seated = await story("seated");
    assert.equal(seated.status, "scheduled");
    assert.deepEqual(seated.attendees.map((a) => a.email), ["pat.example@example.com"]);

    const recurring = await story("recurring");
    assert.equal(recurring.status, "cancelled");
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.equal(
      jobs.filter((j) => j.calcom_event_id.startsWith("story-recurring-")).length,
      3,
      "one Job per occurrence",
    );

    const paid = await story("paid");
    assert.equal(paid.status, "scheduled");
    assert.equal(paid.payment_status, "paid");

    const text = await send(server.url, "BOOKING_CREATED", "--uid", "human-1");
    assert.match(text.stdout, /BOOKING_CREATED → 202/);
    assert.match(text.stdout, /"status": "scheduled"/);
    const usage = await send(server.url, "NOT_A_TRIGGER");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Unknown trigger/);

    // The secret from stdin; typed on the command line it works, with a warning that never repeats it.
    const piped = await sendWith({}, `${FIXTURE_SECRET}\n`, server.url, "BOOKING_CREATED", "--secret", "-");
    assert.match(piped.stdout, /BOOKING_CREATED → 202/, piped.stderr);
    assert.match(piped.stdout, /set ADMIN_TOKEN to see the resulting Job/);
    const typed = await sendWith({}, null, server.url, "BOOKING_CREATED", "--secret", FIXTURE_SECRET);
    assert.match(typed.stdout, /BOOKING_CREATED → 202/);
    assert.match(typed.stderr, /echoed by `deno task`/);
    assert.ok(!typed.stderr.includes(FIXTURE_SECRET), "the warning never shows the secret");
    const none = await sendWith({}, null, server.url, "BOOKING_CREATED");
    assert.equal(none.code, 2);
    assert.match(none.stderr, /WEBHOOK_SECRET/);
  });
  // A service that is not there is said in a person's words.
  const down = await send("http://127.0.0.1:9", "BOOKING_CREATED");
  assert.equal(down.code, 1);
  assert.match(down.stderr, /Cannot reach the service at http:\/\/127\.0\.0\.1:9/);
});

Deno.test("the sender stamps what it sends at the present: no step of a story comes from the future", () => {
  const now = "2026-12-07T12:00:00.000Z";
  const o = { uid: "u1", email: "pat@example.com", name: "Pat", start: "2026-12-08T16:00:00.000Z", at: now };
  const stamps = (body: string) => {
    const parsed = JSON.parse(body);
    return Date.parse(parsed.createdAt);
  };
  for (const trigger of SAMPLE_TRIGGERS) {
    assert.equal(stamps(sampleBody(trigger, o).body), Date.parse(now), trigger);
  }
  for (const name of SCENARIOS) {
    const times = scenario(name, o).map((step) => stamps(step.body));
    assert.ok(
      times.every((t) => t <= Date.parse(now)),
      `${name}: ${times.map((t) => new Date(t).toISOString())}`,
    );
    assert.equal(Math.max(...times), Date.parse(now), `${name} ends now`);
    assert.deepEqual([...times].sort((a, b) => a - b), times, `${name} keeps its order`);
  }
});
