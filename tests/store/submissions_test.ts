import assert from "node:assert/strict";
import { createSubmission, emptyFields, type Submission } from "../../lib/domain/submission.ts";
import { clientGuard, putClient } from "../../lib/store/clients.ts";
import { IngestBatcher } from "../../lib/store/group_commit.ts";
import { getSubmission, readBody } from "../../lib/store/submissions.ts";
import { getJob } from "../../lib/store/jobs.ts";
import { serialize } from "node:v8";
import { addClient, fixture, waitSettled, withServer } from "../_helpers.ts";

/** A pending submission of `text` (what a booking body becomes on receipt). */
function submission(text: string | Uint8Array): Submission {
  const body = typeof text === "string" ? new TextEncoder().encode(text) : text;
  return createSubmission({
    slug: "acme",
    body,
    secretId: "s1",
    receivedAt: new Date().toISOString(),
    interpretation: { kind: "booking", fields: emptyFields("BOOKING_CREATED"), events: [] },
  });
}

Deno.test("group commit: a stored duplicate in the batch does not fail the others; in-batch duplicates share an id", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const batcher = new IngestBatcher(kv, { queue: null });
    await putClient(kv, "acme", {});
    const guard = await clientGuard(kv, "acme");
    const earlier = await batcher.ingest(submission("A"), guard);
    assert.equal(earlier.kind, "stored");

    // Offered in the same turn, so they share one commit whose first attempt fails on A's submission key.
    const [a, b1, c, b2] = await Promise.all(
      ["A", "B", "C", "B"].map((t) => batcher.ingest(submission(t), guard)),
    );
    assert.deepEqual(a, {
      kind: "duplicate",
      submission_id: earlier.kind === "stored" && earlier.entry.value.id,
    });
    assert.equal(b1.kind, "stored");
    assert.equal(c.kind, "stored");
    assert.equal(b2.kind, "duplicate");
    assert.equal(b2.kind === "duplicate" && b2.submission_id, b1.kind === "stored" && b1.entry.value.id);
    assert.equal(
      b1.kind === "stored" && b1.batch?.id,
      c.kind === "stored" && c.batch?.id,
      "B and C shared a commit",
    );

    const stored = await Array.fromAsync(kv.list({ prefix: ["submissions", "acme"] }));
    assert.equal(stored.length, 3);
    const batches = await Array.fromAsync(kv.list({ prefix: ["pending_batches"] }));
    assert.equal(batches.length, 2, "one batch record per committed batch");
  } finally {
    kv.close();
  }
});

Deno.test("a body too large for one KV value is stored in chunks and read back byte for byte", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const batcher = new IngestBatcher(kv, { queue: null });
    const noise = crypto.getRandomValues(new Uint8Array(65_536));
    const body = new Uint8Array(900_000).map((_, i) => noise[(i * 7) % noise.length] ^ (i & 0xff));
    await putClient(kv, "acme", {});
    const guard = await clientGuard(kv, "acme");
    const outcome = await batcher.ingest(submission(body), guard);
    assert.equal(outcome.kind, "stored");
    const stored = await getSubmission(kv, "acme", outcome.kind === "stored" ? outcome.entry.value.id : "");
    assert.ok(stored && stored.body === null && stored.body_chunks > 1);
    assert.deepEqual(await readBody(kv, stored!), body);
    assert.deepEqual(await batcher.ingest(submission(body), guard), {
      kind: "duplicate",
      submission_id: stored!.id,
    });
  } finally {
    kv.close();
  }
});

for (const mode of ["queue", "inline"] as const) {
  Deno.test(`${mode}: a delivery's raw body is written once, beside a small record, and processing never rewrites it`, async () => {
    await withServer({ mode }, async (server) => {
      await addClient(server, "acme");
      const { body } = fixture("booking_created");
      assert.equal((await server.post("acme", body)).status, 202);
      await waitSettled(server, "acme");
      const [chunk] = await Array.fromAsync(
        server.kv.list<Uint8Array>({ prefix: ["submission_body_chunks", "acme"] }),
      );
      const [record] = await Array.fromAsync(server.kv.list<Submission>({ prefix: ["submissions", "acme"] }));
      assert.equal(record.value.status, "processed");
      assert.equal(record.value.body, null, "the record carries no body");
      assert.ok(serialize(record.value).byteLength < 2048, "the record is small");
      // Inline (where KV bills per KiB) packed against the dictionary of Cal.com's shapes, a write
      // unit with its key; queued (a local file) as received. Either way read back byte for byte.
      if (mode === "inline") assert.ok(chunk.value.length < 900, `${chunk.value.length} bytes stored`);
      else assert.equal(new TextDecoder().decode(chunk.value), body);
      assert.equal(new TextDecoder().decode(await readBody(server.kv, record.value)), body);
      if (mode === "queue") {
        // Stored pending, settled by a later commit that left the body's key alone.
        assert.ok(
          chunk.versionstamp < record.versionstamp,
          "the body's key kept the intake commit's versionstamp",
        );
      } else {
        // Stored and applied by one commit: nothing was ever pending.
        assert.equal(chunk.versionstamp, record.versionstamp);
        assert.equal(record.value.attempts, 1);
      }
      assert.deepEqual(await Array.fromAsync(server.kv.list({ prefix: ["pending_batches"] })), []);
    });
  });
}

Deno.test("bodies and Jobs stored before packing are read as they are, and rewritten packed", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    assert.equal((await server.post("acme", fixture("booking_created").body)).status, 202);
    // Unpack what was stored, as an older version of the service wrote it.
    const [record] = await Array.fromAsync(server.kv.list<Submission>({ prefix: ["submissions", "acme"] }));
    const plain = await readBody(server.kv, record.value);
    const [job] = await Array.fromAsync(server.kv.list<{ id: string }>({ prefix: ["jobs", "acme"] }));
    const jobView = await server.admin<Record<string, unknown>>(
      "GET",
      `/admin/clients/acme/jobs/${job.value.id}`,
    );
    assert.equal(jobView.status, 200);
    const stored = await getJob(server.kv, "acme", job.value.id);
    await server.kv.atomic()
      .set(record.key, { ...record.value, body_encoding: undefined })
      .set(["submission_body_chunks", "acme", record.value.id, 0], plain)
      .set(job.key, stored)
      .commit();
    assert.deepEqual(
      await readBody(server.kv, (await getSubmission(server.kv, "acme", record.value.id))!),
      plain,
    );
    assert.deepEqual(await server.admin("GET", `/admin/clients/acme/jobs/${job.value.id}`), jobView);
    // The next change writes the Job packed again.
    assert.equal((await server.post("acme", fixture("booking_rescheduled").body)).status, 202);
    const after = (await server.kv.get<Record<string, unknown>>(job.key)).value!;
    assert.ok(after.packed instanceof Uint8Array && !("events" in after));
    assert.equal((await getJob(server.kv, "acme", job.value.id))?.status, "scheduled");
    assert.equal((await getJob(server.kv, "acme", job.value.id))?.events.length, 2);
  });
});
