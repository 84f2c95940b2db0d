/**
 * The per-client counts the overview reads (kept by KV sums in the commits that change them): right
 * after deliveries, a quarantined body, a submission given up as failed, an erased person, and for a
 * client whose data predates them (counted once by a scan); and the overview reads the same few
 * keys for a client with many Jobs as for one with few.
 */
import assert from "node:assert/strict";
import { createSubmission, emptyFields } from "../../lib/domain/submission.ts";
import { type Client, clientGuard } from "../../lib/store/clients.ts";
import { IngestBatcher } from "../../lib/store/group_commit.ts";
import { markFailed } from "../../lib/store/submissions.ts";
import { addClient, bookingCreated, calcomBody, found, type TestServer, withServer } from "../_helpers.ts";

interface Overview {
  jobs_by_status: Record<string, number>;
  submissions_by_status: Record<string, number>;
  contacts: number;
}

async function overview(server: TestServer, slug = "acme"): Promise<Overview> {
  const res = await server.admin<Overview>("GET", `/admin/clients/${slug}/overview`);
  assert.equal(res.status, 200);
  const { jobs_by_status, submissions_by_status, contacts } = res.body;
  return { jobs_by_status, submissions_by_status, contacts };
}

Deno.test("counts follow deliveries, a quarantined body, a failed submission and an erase; an old client is counted once", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    assert.deepEqual(await overview(server), { jobs_by_status: {}, submissions_by_status: {}, contacts: 0 });
    for (
      const [uid, email] of [["c-1", "a@example.org"], ["c-2", "b@example.org"], ["c-3", "a@example.org"]]
    ) {
      assert.equal((await server.post("acme", bookingCreated(uid, email))).status, 202);
    }
    const cancel = calcomBody("BOOKING_CANCELLED", "2026-10-03T10:00:00.000Z", {
      uid: "c-2",
      startTime: "2026-10-14T16:00:00Z",
      endTime: "2026-10-14T17:00:00Z",
      attendees: [{ email: "b@example.org", name: "B" }],
      organizer: { email: "owner@business.example", name: "Owner" },
      status: "CANCELLED",
    });
    assert.equal((await server.post("acme", cancel)).status, 202);
    // A payload template's body: stored, quarantined on arrival.
    const templated = JSON.stringify({ content: "A new event has been scheduled", type: "BOOKING_CREATED" });
    assert.equal((await server.post("acme", templated)).status, 422, "answered 422, kept as quarantined");
    // A pending submission the sweeper gives up on.
    const guard = await clientGuard(server.kv, "acme");
    const pending = createSubmission({
      slug: "acme",
      body: new TextEncoder().encode(bookingCreated("never", "n@example.org")),
      secretId: "s",
      receivedAt: new Date().toISOString(),
      interpretation: { kind: "booking", fields: emptyFields("BOOKING_CREATED"), events: [] },
    });
    await new IngestBatcher(server.kv, { queue: null }).ingest(pending, guard);
    assert.ok(await markFailed(server.kv, ["acme", pending.id], "gave up"));

    const expected = {
      jobs_by_status: { scheduled: 2, cancelled: 1 },
      submissions_by_status: { processed: 4, quarantined: 1, failed: 1 },
      contacts: 2,
    };
    assert.deepEqual(await overview(server), expected);

    const contacts = await server.admin<{ items: { id: string; email: string }[] }>(
      "GET",
      "/admin/clients/acme/contacts",
    );
    const b = contacts.body.items.find((c) => c.email === "b@example.org")!;
    assert.equal(
      (await server.admin("DELETE", `/admin/clients/acme/contacts/${b.id}?erase=true`)).status,
      200,
    );
    expected.contacts = 1;
    assert.deepEqual(await overview(server), expected);

    // Data from before the counts: none stored; the first overview counts by reading everything, once.
    for await (const e of server.kv.list({ prefix: ["client_counts", "acme"] })) {
      await server.kv.delete(e.key);
    }
    const record = found((await server.kv.get<Client>(["clients", "acme"])).value);
    await server.kv.set(["clients", "acme"], { ...record, counts_built: undefined });
    assert.deepEqual(await overview(server), expected);
    assert.equal((await server.kv.get<Client>(["clients", "acme"])).value?.counts_built, true);
    assert.equal((await server.post("acme", bookingCreated("c-4", "d@example.org"))).status, 202);
    assert.deepEqual(await overview(server), {
      jobs_by_status: { scheduled: 3, cancelled: 1 },
      submissions_by_status: { processed: 5, quarantined: 1, failed: 1 },
      contacts: 2,
    });
  });
});
