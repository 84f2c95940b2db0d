/** `deno task receive`: a real receiver process verifies and prints a signed delivery, and refuses a forged one. */
import assert from "node:assert/strict";
import { newEndpointSecret, signatures } from "../../lib/domain/outbound.ts";

const RECEIVE = new URL("../../lib/cli/receive.ts", import.meta.url).pathname;

Deno.test("deno task receive verifies, prints and answers 204; a forged delivery gets 401", async () => {
  const secret = newEndpointSecret();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", RECEIVE, "--port", "0", "--json"],
    env: { WEBHOOK_RECEIVER_SECRET: secret },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const errors = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!/listening on (\S+)/.test(banner)) banner += (await errors.read()).value ?? "";
  const url = /listening on (\S+)/.exec(banner)![1];
  try {
    const body = JSON.stringify({
      type: "job.created",
      timestamp: "2026-12-02T00:00:00.000Z",
      data: { job_id: "J1", job_version: 1 },
    });
    const send = (signature: string) =>
      fetch(url, {
        method: "POST",
        headers: {
          "webhook-id": "chg_0123",
          "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
          "webhook-signature": signature,
        },
        body,
      });
    const now = Math.floor(Date.now() / 1000);
    const good = await fetch(url, {
      method: "POST",
      headers: {
        "webhook-id": "chg_0123",
        "webhook-timestamp": String(now),
        "webhook-signature": signatures([secret], "chg_0123", now, body),
      },
      body,
    });
    assert.equal(good.status, 204);
    const forged = await send(signatures([newEndpointSecret()], "chg_0123", now, body));
    await forged.body?.cancel();
    assert.equal(forged.status, 401);
  } finally {
    child.kill("SIGINT");
    await errors.cancel();
  }
  await child.status;
  const out = await stdout;
  const printed = JSON.parse(out.trim().split("\n")[0]);
  assert.equal(printed.id, "chg_0123");
  assert.equal(printed.type, "job.created");
  assert.equal(printed.data.job_id, "J1");
});
