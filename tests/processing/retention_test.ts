/** Raw-body retention drops old settled bodies and nothing else. */
import assert from "node:assert/strict";
import { Retention } from "../../lib/processing/retention.ts";
import { memoryLogger } from "../../lib/log.ts";
import { readBody } from "../../lib/store/submissions.ts";
import { addClient, bookingCreated, type SubmissionView, waitSettled, withServer } from "../_helpers.ts";
import { getSubmission } from "../../lib/store/submissions.ts";
import { submissionBodyChunksPrefix } from "../../lib/store/keys.ts";

const DAY = 86_400_000;

Deno.test("RAW_BODY_RETENTION_DAYS: old settled bodies are dropped, records and Jobs kept, replay refused", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    await server.post("acme", bookingCreated("ret-1", "a@example.org"));
    await server.post(
      "acme",
      bookingCreated("ret-2", "b@example.org", "2026-10-03T00:00:00.000Z", {
        userFieldsResponses: { notes: { label: "Notes", value: "x".repeat(50_000) } },
      }),
    );
    const settled: SubmissionView[] = await waitSettled(server, "acme");
    const retention = new Retention(server.kv, 30, memoryLogger());
    assert.equal(await retention.runOnce(Date.now() + 29 * DAY), 0, "younger than 30 days: kept");
    assert.equal(await retention.runOnce(Date.now() + 31 * DAY), 2);
    assert.equal(await retention.runOnce(Date.now() + 31 * DAY), 0, "once");
    for (const s of settled) {
      const stored = (await getSubmission(server.kv, "acme", s.id))!;
      assert.ok(stored.body_dropped_at);
      assert.equal(stored.booking_uid, s.booking_uid, "the record stays");
      assert.equal((await readBody(server.kv, stored)).length, 0, "no body left (chunks included)");
      const replay = await server.admin("POST", `/admin/clients/acme/submissions/${s.id}/replay`);
      assert.equal(replay.status, 409);
      assert.equal(replay.body.error.code, "body_not_replayable");
    }
    const chunks = await Array.fromAsync(server.kv.list({ prefix: submissionBodyChunksPrefix("acme") }));
    assert.equal(chunks.length, 0);
    const jobs = await server.admin<{ items: unknown[] }>("GET", "/admin/clients/acme/jobs");
    assert.equal(jobs.body.items.length, 2);
  });
});
