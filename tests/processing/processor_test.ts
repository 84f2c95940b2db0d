import assert from "node:assert/strict";
import { deadLetterKey, jobKey, pendingBatchKey, submissionKey } from "../../lib/store/keys.ts";
import { interpretBytes } from "../../lib/calcom/normalize.ts";
import { createSubmission, emptyFields, type Submission } from "../../lib/domain/submission.ts";
import { type DeadLetter, type ProcessBatchMessage, refId } from "../../lib/store/batches.ts";
import { clientGuard } from "../../lib/store/clients.ts";
import { IngestBatcher } from "../../lib/store/group_commit.ts";
import type { ReplaySummary } from "../../lib/processing/replay.ts";
import { Processor } from "../../lib/processing/processor.ts";
import { jsonLogger } from "../../lib/log.ts";
import {
  addClient,
  bookingCreated,
  fixture,
  listAll,
  type PageAnswer,
  type SubmissionView,
  waitFor,
  waitSettled,
  withServer,
} from "../_helpers.ts";

Deno.test("30 concurrent bookings for one new email give one Contact and 30 Jobs", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const responses = await Promise.all(
      Array.from(
        { length: 30 },
        (_, i) => server.post("acme", bookingCreated(`uid-${i}`, "  Same.Person@Example.COM ")),
      ),
    );
    assert.deepEqual(responses.map((r) => r.status), Array(30).fill(202));
    await Promise.all(responses.map((r) => r.body?.cancel()));
    await waitSettled(server, "acme");
    const contacts = await listAll(server, "/admin/clients/acme/contacts");
    assert.equal(contacts.length, 1);
    assert.equal(contacts[0].email, "same.person@example.com");
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.equal(jobs.length, 30);
    assert.ok(jobs.every((j) => j.contact_id === contacts[0].id && j.status === "scheduled"));
  });
});

Deno.test("what the pipeline hands over to processing is all taken or dropped once processed (both modes)", async () => {
  for (const mode of ["queue", "inline"] as const) {
    await withServer({ mode }, async (server) => {
      await addClient(server, "acme");
      const responses = await Promise.all(
        Array.from(
          { length: 120 },
          (_, i) => server.post("acme", bookingCreated(`uid-${i}`, `p${i % 7}@example.com`)),
        ),
      );
      assert.deepEqual(responses.map((r) => r.status), Array(120).fill(202));
      await Promise.all(responses.map((r) => r.body?.cancel()));
      await waitSettled(server, "acme");
      await server.service.intake.idle();
      assert.equal(server.service.intake.scheduler.handedOff, 0, `${mode}: nothing left behind in memory`);
      assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 120);
      assert.equal((await listAll(server, "/admin/clients/acme/contacts")).length, 7);
    });
  }
});

Deno.test("a stale hand-off (processed meanwhile by another instance) changes nothing", async () => {
  await withServer({ listen: false }, async (server) => {
    await addClient(server, "acme");
    const body = new TextEncoder().encode(fixture("booking_created").body);
    const receivedAt = new Date().toISOString();
    const meaning = interpretBytes(body, receivedAt);
    const submission = createSubmission({
      slug: "acme",
      body,
      secretId: "s",
      receivedAt,
      interpretation: meaning,
    });
    const committed = await new IngestBatcher(server.kv, { queue: null })
      .ingest(submission, await clientGuard(server.kv, "acme"));
    assert.equal(committed.kind, "stored");
    if (committed.kind !== "stored") return;
    const ref = ["acme", submission.id] as const;
    const silent = jsonLogger(() => {});
    // Another instance processes it from KV; this one still holds the entry as first stored.
    assert.equal((await new Processor(server.kv, silent).process([ref])).applied, 1);
    const job = async () => (await listAll(server, "/admin/clients/acme/jobs"))[0];
    const before = await job();
    const late = new Processor(server.kv, silent);
    const handed = new Map([[refId(ref), { entry: committed.entry, meaning }]]);
    const result = await late.process([ref], { handed });
    assert.equal(result.applied, 0, "the versionstamp check sends it back to KV, where it is settled");
    assert.deepEqual(await job(), before);
  });
});

Deno.test("redelivering an already processed queue message changes nothing", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    for (const name of ["booking_created", "booking_rescheduled", "booking_requested"] as const) {
      await (await server.post("acme", fixture(name).body)).body?.cancel();
    }
    const settled = await waitSettled(server, "acme");
    const snapshot = async () =>
      await Array.fromAsync(server.kv.list({ prefix: [] }), (e) => [e.key, e.versionstamp]);
    const before = await snapshot();
    // A batch record left behind (its message is delivered late, e.g. after a crash): the handler
    // finds every submission settled, changes nothing else, and drops the record.
    const refs = settled.map((s) => ["acme", s.id]);
    await server.kv.set(pendingBatchKey("redelivered"), { id: "redelivered", refs, created_at: "" });
    await server.service.queueHandler({ type: "process_batch", batch_id: "redelivered" });
    await server.service.queueHandler({ type: "process_batch", batch_id: "redelivered" });
    assert.deepEqual(await snapshot(), before);
  });
});

Deno.test("a batch whose processing keeps failing ends in a dead-letter record and a failed submission", async () => {
  await withServer({ env: { QUEUE_BACKOFF_MS: "10,10" } }, async (server) => {
    await addClient(server, "acme");
    // A submission whose body chunk is missing: processing throws on every attempt.
    const id = "01JBROKEN0000000000000000";
    const submission: Submission = {
      id,
      client: "acme",
      channel: "calcom",
      status: "pending",
      error: null,
      received_at: new Date().toISOString(),
      processed_at: null,
      secret_id: "s1",
      body: null,
      body_chunks: 1,
      body_bytes: 100,
      body_sha256: "0".repeat(64),
      batch_id: "b1",
      attempts: 0,
      job_ids: [],
      ...emptyFields("BOOKING_CREATED"),
      booking_uid: "uid-broken",
    };
    const message: ProcessBatchMessage = { type: "process_batch", batch_id: "b1" };
    await server.kv.atomic()
      .set(submissionKey("acme", id), submission)
      .set(pendingBatchKey("b1"), { id: "b1", refs: [["acme", id]], created_at: new Date().toISOString() })
      .enqueue(message, { keysIfUndelivered: [deadLetterKey("b1")], backoffSchedule: [10, 10] })
      .commit();

    const letter = await waitFor(
      "dead letter",
      async () => (await server.kv.get(deadLetterKey("b1"))).value ?? undefined,
    );
    assert.deepEqual(letter, message);
    const report = await server.service.sweeper.sweepOnce();
    assert.equal(report.dead_letters, 1);
    const failed = await server.admin<SubmissionView>("GET", `/admin/clients/acme/submissions/${id}`);
    assert.equal(failed.body.status, "failed");
    assert.match(String(failed.body.error), /Body chunk 0/);
    assert.equal(failed.body.attempts, 3);
    assert.equal((await server.kv.get(pendingBatchKey("b1"))).value, null);
    const listed = await server.admin<PageAnswer<DeadLetter>>("GET", "/admin/dead_letters");
    assert.equal(listed.body.items.length, 1);
    assert.ok(listed.body.items[0].handled_at);
    assert.deepEqual(listed.body.items[0].refs, [["acme", id]], "the letter keeps which submissions failed");
  });
});

Deno.test("the sweeper processes batches left pending by a crash", async () => {
  await withServer({ listen: false, env: { SWEEP_GRACE_MS: "0" } }, async (server) => {
    await addClient(server, "acme");
    // What a process killed right after its commit leaves behind: stored, pending, never processed.
    const crashed = new IngestBatcher(server.kv, { queue: null });
    for (const name of ["booking_created", "booking_cancelled"] as const) {
      const body = new TextEncoder().encode(fixture(name).body);
      const receivedAt = new Date().toISOString();
      const interpretation = interpretBytes(body, receivedAt);
      const submission = createSubmission({ slug: "acme", body, secretId: "s", receivedAt, interpretation });
      assert.equal((await crashed.ingest(submission, await clientGuard(server.kv, "acme"))).kind, "stored");
    }
    const pending = await listAll(server, "/admin/clients/acme/submissions?status=pending");
    assert.equal(pending.length, 2);
    const report = await server.service.sweeper.sweepOnce();
    assert.ok(report.redriven >= 1);
    const settled = await waitSettled(server, "acme", 1000);
    assert.ok(settled.every((s) => s.status === "processed"));
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.equal(jobs.length, 2, "no reschedule links these two fixtures, so two Jobs");
    const batches = await Array.fromAsync(server.kv.list({ prefix: ["pending_batches"] }));
    assert.equal(batches.length, 0);
  });
});

Deno.test("inline mode: the Job exists when the webhook has been answered", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const res = await server.post("acme", fixture("booking_created").body);
    assert.equal(res.status, 202);
    const { submission_id } = await res.json();
    const submission = await server.admin<SubmissionView>(
      "GET",
      `/admin/clients/acme/submissions/${submission_id}`,
    );
    assert.equal(submission.body.status, "processed");
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].calcom_event_id, "8sQm2xKpV4nTcRw7yHdJ3L");
  });
});

Deno.test("replay re-runs failed and quarantined submissions with today's code", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const quarantined = await (await server.post("acme", "false")).json();
    assert.equal(quarantined.status, "quarantined");

    // A stored booking marked failed (as after an outage) is processed again by replay.
    const ok = await (await server.post("acme", fixture("booking_created").body)).json();
    const key = submissionKey("acme", ok.submission_id);
    const entry = await server.kv.get<Submission>(key);
    await server.kv.set(key, { ...entry.value!, status: "failed", error: "simulated outage" });
    for (const k of await Array.fromAsync(server.kv.list({ prefix: ["jobs", "acme"] }), (e) => e.key)) {
      await server.kv.delete(k);
    }
    for (
      const k of await Array.fromAsync(server.kv.list({ prefix: ["jobs_by_event_id", "acme"] }), (e) => e.key)
    ) {
      await server.kv.delete(k);
    }

    const all = await server.admin<ReplaySummary>("POST", "/admin/clients/acme/replay?status=failed");
    assert.equal(all.status, 200);
    assert.equal(all.body.replayed, 1);
    assert.deepEqual(all.body.results, { processed: 1 });
    assert.equal((await listAll(server, "/admin/clients/acme/jobs")).length, 1);

    const one = await server.admin<SubmissionView>(
      "POST",
      `/admin/clients/acme/submissions/${quarantined.submission_id}/replay`,
    );
    assert.equal(one.status, 200);
    assert.equal(one.body.status, "quarantined");
    assert.match(String(one.body.error), /not an object/);
    assert.equal((await server.admin("POST", "/admin/clients/acme/replay")).status, 400);
  });
});

Deno.test("a uid index pointing at a Job that does not exist fails processing with a clear error, after a bounded re-read", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    await (await server.post("acme", bookingCreated("uid-broken", "pat@example.com"))).body?.cancel();
    const [job] = await waitFor("the Job", async () => {
      const jobs = await listAll(server, "/admin/clients/acme/jobs");
      return jobs.length === 1 ? jobs : undefined;
    });
    // Break the store by hand: the index still names the Job, the Job is gone.
    await server.kv.delete(jobKey("acme", job.id));
    const later = bookingCreated("uid-broken", "pat@example.com", "2026-10-03T09:00:00.000Z", {
      title: "Changed",
    });
    const res = await server.post("acme", later);
    const { submission_id } = await res.json();
    const failed = await waitFor("the failure to be recorded", async () => {
      const s =
        (await server.admin<SubmissionView>("GET", `/admin/clients/acme/submissions/${submission_id}`))
          .body;
      return s.attempts >= 1 ? s : undefined;
    });
    assert.equal(failed.status, "pending", "left for the queue's retries and the sweeper");
    assert.match(String(failed.error), new RegExp(`Index points at missing job ${job.id}`));
  });
});
