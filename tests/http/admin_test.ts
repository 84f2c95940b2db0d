import assert from "node:assert/strict";
import type { Operations } from "../../lib/admin/operations.ts";
import {
  addClient,
  type ClientView,
  type ContactView,
  type ErrorAnswer,
  fixture,
  FIXTURE_SECRET,
  type JobView,
  listAll,
  type PageAnswer,
  type SubmissionView,
  waitSettled,
  withServer,
} from "../_helpers.ts";

type PutAnswer = Awaited<ReturnType<Operations["putClient"]>>;
type SecretAnswer = Awaited<ReturnType<Operations["addSecret"]>>;

Deno.test("admin API answers 503 with a way forward when ADMIN_TOKEN is unset", async () => {
  await withServer({ adminToken: null }, async (server) => {
    const res = await server.fetch(`/admin/clients`);
    assert.equal(res.status, 503);
    const answer = await res.json();
    assert.equal(answer.error.code, "admin_disabled");
    assert.match(answer.error.message, /ADMIN_TOKEN/);
  });
});

Deno.test("clients: create, update, list, get, delete; the secret is shown only when created or given", async () => {
  await withServer({}, async (server) => {
    const created = await server.admin<PutAnswer>("PUT", "/admin/clients/acme-plumbing", {
      name: "Acme Plumbing",
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.created, true);
    assert.equal(created.body.client.webhook_path, "/webhooks/calcom/acme-plumbing");
    const secret = created.body.secret!.secret;
    assert.ok(secret.length >= 43, "at least 32 random bytes");

    const renamed = await server.admin<PutAnswer>("PUT", "/admin/clients/acme-plumbing", { name: "Acme" });
    assert.equal(renamed.status, 200);
    assert.equal(renamed.body.client.name, "Acme");
    assert.equal(renamed.body.secret, undefined);

    const listed = await server.admin<PageAnswer<ClientView>>("GET", "/admin/clients");
    assert.deepEqual(listed.body.items.map((c) => c.slug), ["acme-plumbing"]);
    assert.ok(!JSON.stringify(listed.body).includes(secret));
    const one = await server.admin<ClientView>("GET", "/admin/clients/acme-plumbing");
    assert.equal(one.body.secret_ids.length, 1);
    assert.ok(!JSON.stringify(one.body).includes(secret));

    // The generated secret works for real webhooks.
    const res = await server.post("acme-plumbing", fixture("booking_created").body, secret);
    assert.equal(res.status, 202);
    await res.body?.cancel();
    await waitSettled(server, "acme-plumbing");

    assert.equal((await server.admin("PUT", "/admin/clients/Bad_Slug", {})).status, 400);
    assert.equal((await server.admin("PUT", "/admin/clients/ok", { name: 42 })).status, 400);
    const notJson = await server.fetch(`/admin/clients/ok`, {
      method: "PUT",
      headers: { authorization: "Bearer test-admin-token-0123456789" },
      body: "{nope",
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as ErrorAnswer).error.code, "invalid_json");

    assert.equal((await server.admin("DELETE", "/admin/clients/acme-plumbing")).status, 200);
    const audit = server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "audit");
    assert.deepEqual(audit.map((l) => [l.action, l.slug, l.source]), [
      ["client.create", "acme-plumbing", "api"],
      ["client.update", "acme-plumbing", "api"],
      ["client.delete", "acme-plumbing", "api"],
    ]);
    assert.ok(!server.logs.join("\n").includes(secret), "no secret in audit lines");
    const requestLines = server.logs.map((l) => JSON.parse(l)).filter((l) =>
      l.msg === "request" && l.path?.startsWith("/admin/clients/acme")
    );
    assert.ok(requestLines.every((l) => l.slug === "acme-plumbing"), "admin request lines name the slug");
    assert.equal((await server.admin("GET", "/admin/clients/acme-plumbing")).status, 404);
    assert.equal((await server.admin("DELETE", "/admin/clients/acme-plumbing")).status, 404);
    const leftovers = await Array.fromAsync(server.kv.list({ prefix: ["jobs", "acme-plumbing"] }));
    assert.equal(leftovers.length, 0, "a deleted client's data goes with it");
    const after = await server.post("acme-plumbing", fixture("booking_created").body, secret);
    assert.equal(after.status, 404);
    await after.body?.cancel();
  });
});

Deno.test("a client's settings are stored: set at creation, changed, kept when left out, cleared with null", async () => {
  await withServer({}, async (server) => {
    const created = await server.admin<PutAnswer>("POST", "/admin/clients", {
      slug: "acme",
      time_zone: "Europe/Berlin",
      silence_days: 3,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const read = async () => (await server.admin<ClientView>("GET", "/admin/clients/acme")).body;
    assert.deepEqual([(await read()).time_zone, (await read()).silence_days], ["Europe/Berlin", 3]);

    const changed = await server.admin<PutAnswer>("PATCH", "/admin/clients/acme", {
      time_zone: "America/New_York",
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.client.time_zone, "America/New_York");
    let now = await read();
    assert.deepEqual([now.time_zone, now.silence_days], ["America/New_York", 3], "a setting left out stays");

    await server.admin("PATCH", "/admin/clients/acme", { name: "Acme" });
    now = await read();
    assert.deepEqual([now.name, now.time_zone, now.silence_days], ["Acme", "America/New_York", 3]);
    const listed = await server.admin<PageAnswer<ClientView>>("GET", "/admin/clients");
    assert.equal(listed.body.items[0].time_zone, "America/New_York", "the Clients list reads them too");

    await server.admin("PATCH", "/admin/clients/acme", { time_zone: null, silence_days: null });
    now = await read();
    assert.deepEqual([now.time_zone, now.silence_days], [null, null]);

    const bad = await server.admin("PATCH", "/admin/clients/acme", { time_zone: "Mars/Olympus" });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "invalid_time_zone");

    // A Job's times are shown in the business's time zone once it is set.
    await server.admin("PATCH", "/admin/clients/acme", {
      time_zone: "Europe/Berlin",
      secret: FIXTURE_SECRET,
    });
    await (await server.post("acme", fixture("booking_created").body)).body?.cancel();
    await waitSettled(server, "acme");
    const [job] = await listAll(server, "/admin/clients/acme/jobs");
    const timeline = await server.admin<{ client_time_zone: string | null }>(
      "GET",
      `/admin/clients/acme/jobs/${job.id}/timeline`,
    );
    assert.equal(timeline.body.client_time_zone, "Europe/Berlin");
  });
});

Deno.test("secret rotation without downtime; the verifying secret is recorded", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const oldId = (await server.admin<ClientView>("GET", "/admin/clients/acme")).body.secret_ids[0];
    const added = await server.admin<SecretAnswer>("POST", "/admin/clients/acme/secrets");
    assert.equal(added.status, 201);
    const fresh = added.body.secret;

    const withOld = await (await server.post("acme", fixture("booking_created").body, FIXTURE_SECRET)).json();
    const withNew = await (await server.post("acme", fixture("booking_paid").body, fresh.secret)).json();
    const [a, b] = await Promise.all(
      [withOld, withNew].map((r) =>
        server.admin<SubmissionView>("GET", `/admin/clients/acme/submissions/${r.submission_id}`)
      ),
    );
    assert.equal(a.body.secret_id, oldId);
    assert.equal(b.body.secret_id, fresh.id);

    assert.equal((await server.admin("DELETE", `/admin/clients/acme/secrets/${oldId}`)).status, 200);
    const rejected = await server.post("acme", fixture("booking_rejected").body, FIXTURE_SECRET);
    assert.equal(rejected.status, 401, "a retired secret no longer verifies");
    await rejected.body?.cancel();
    const last = await server.admin("DELETE", `/admin/clients/acme/secrets/${fresh.id}`);
    assert.equal(last.status, 409);
    assert.equal(last.body.error.code, "last_secret");
    assert.equal((await server.admin("DELETE", "/admin/clients/acme/secrets/nope")).status, 404);
  });
});

Deno.test("listings paginate with limit and cursor, and filter submissions by status", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    for (const name of ["booking_created", "booking_paid", "booking_requested", "meeting_ended"] as const) {
      await (await server.post("acme", fixture(name).body)).body?.cancel();
    }
    await (await server.post("acme", "false")).body?.cancel();
    const first = await server.admin<PageAnswer<JobView>>("GET", "/admin/clients/acme/jobs?limit=3");
    assert.equal(first.body.items.length, 3);
    assert.equal(typeof first.body.cursor, "string");
    const second = await server.admin<PageAnswer<JobView>>(
      "GET",
      `/admin/clients/acme/jobs?limit=3&cursor=${first.body.cursor}`,
    );
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.cursor, null);
    const ids = [...first.body.items, ...second.body.items].map((j) => j.id);
    assert.equal(new Set(ids).size, 4);

    const quarantined = await listAll(server, "/admin/clients/acme/submissions?status=quarantined");
    assert.equal(quarantined.length, 1);
    const processed = await listAll(server, "/admin/clients/acme/submissions?status=processed");
    assert.equal(processed.length, 4);
    assert.ok(processed.every((s) => !("body" in s)), "raw bodies are never shown");

    const job = await server.admin<JobView>("GET", `/admin/clients/acme/jobs/${ids[0]}`);
    assert.equal(job.status, 200);
    for (
      const field of [
        "id",
        "client",
        "calcom_event_id",
        "previous_event_ids",
        "status",
        "title",
        "start_time",
      ]
    ) {
      assert.ok(field in job.body, field);
    }
    const contact = await server.admin<ContactView>(
      "GET",
      `/admin/clients/acme/contacts/${job.body.contact_id}`,
    );
    assert.equal(contact.status, 200);
    assert.ok(!("field_sources" in contact.body));

    assert.equal((await server.admin("GET", "/admin/clients/acme/jobs?limit=0")).status, 400);
    assert.equal((await server.admin("GET", "/admin/clients/acme/jobs?limit=501")).status, 400);
    assert.equal((await server.admin("GET", "/admin/clients/acme/submissions?status=weird")).status, 400);
    assert.equal((await server.admin("GET", "/admin/clients/acme/jobs/nope")).status, 404);
    assert.equal((await server.admin("GET", "/admin/clients/nobody/jobs")).status, 404);
  });
});

Deno.test("a submission's raw body is shown with oneTimePassword and other secrets redacted", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const res = await server.post("acme", fixture("booking_requested").body);
    const { submission_id } = await res.json();
    const detail = await server.admin<
      { body: Record<string, unknown>; body_format: string; replayable: boolean }
    >(
      "GET",
      `/admin/clients/acme/submissions/${submission_id}/body`,
    );
    assert.equal(detail.status, 200);
    assert.equal(detail.body.body_format, "json");
    const text = JSON.stringify(detail.body);
    assert.ok(!text.includes("3c9e41d2-7b5a-4f08-9d61-2a84e0b7c5f3"), "the oneTimePassword is not shown");
    assert.match(text, /"oneTimePassword":"\[redacted\]"/);
    assert.match(text, /BOOKING_REQUESTED/, "the rest of the body is shown");
    const plain = await server.admin("GET", `/admin/clients/acme/submissions/${submission_id}`);
    assert.ok(!JSON.stringify(plain.body).includes("3c9e41d2"), "nor in the submission record");
  });
});
