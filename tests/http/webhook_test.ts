import assert from "node:assert/strict";
import {
  addClient,
  bookingCreated,
  type ClientView,
  fixture,
  FIXTURE_NAMES,
  FIXTURE_SECRET,
  found,
  type JobView,
  listAll,
  type PageAnswer,
  type SubmissionView,
  waitSettled,
  withServer,
} from "../_helpers.ts";

Deno.test("every fixture, sent as Cal.com signs it, lands as the right Jobs and Contacts", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "northpeak");
    for (const name of FIXTURE_NAMES) {
      const { body, signature } = fixture(name);
      const res = await server.post("northpeak", body, FIXTURE_SECRET, { "x-cal-signature-256": signature });
      const answer = await res.json();
      if (name === "ping") {
        assert.equal(res.status, 200);
        assert.deepEqual(answer, { ok: true, signature_valid: true });
      } else {
        assert.equal(res.status, 202, `${name}: ${JSON.stringify(answer)}`);
        assert.equal(answer.status, "pending");
        assert.match(answer.submission_id, /^\d{13}-[0-9a-f]{32}$/);
      }
    }
    const submissions = await waitSettled(server, "northpeak");
    assert.equal(submissions.length, FIXTURE_NAMES.length - 1);
    assert.ok(
      submissions.every((s) => s.status === "processed"),
      JSON.stringify(submissions.map((s) => s.error)),
    );

    const jobs = await listAll(server, "/admin/clients/northpeak/jobs");
    const byUid = new Map(jobs.map((j) => [j.calcom_event_id, j]));
    assert.equal(
      jobs.length,
      4,
      "created→rescheduled→cancelled is one Job; requested/rejected, paid, meeting",
    );

    const marcus = found(byUid.get("Fq3TzW8hNc5bLm1XvPr9Ka"), "Fq3TzW8hNc5bLm1XvPr9Ka");
    assert.equal(marcus.status, "cancelled");
    assert.deepEqual(marcus.previous_event_ids, ["8sQm2xKpV4nTcRw7yHdJ3L"]);
    assert.equal(marcus.start_time, "2026-10-16T19:30:00.000Z");
    assert.equal(marcus.cancellation_reason, "Found someone who could come out sooner. Thanks anyway!");

    assert.equal(found(byUid.get("Zr7Hn2cWq9YdTb4KsMx6Pe"), "Zr7Hn2cWq9YdTb4KsMx6Pe").status, "rejected");
    assert.match(String(found(byUid.get("Zr7Hn2cWq9YdTb4KsMx6Pe")).rejection_reason), /25 miles/);
    assert.equal(found(byUid.get("Pw5Gk8TzR2nVc7LqXs3HdA"), "Pw5Gk8TzR2nVc7LqXs3HdA").payment_status, "paid");
    assert.equal(found(byUid.get("Pw5Gk8TzR2nVc7LqXs3HdA"), "Pw5Gk8TzR2nVc7LqXs3HdA").payment_id, "55127");
    const video = found(byUid.get("Hx4Vb9NqT2kWc6RmZp8YsE"), "Hx4Vb9NqT2kWc6RmZp8YsE");
    assert.equal(video.status, "completed");
    assert.equal(video.attendees[0].no_show, true);

    // The old uid still finds the rescheduled Job.
    const again = await server.admin<PageAnswer<JobView>>(
      "GET",
      "/admin/clients/northpeak/jobs?calcom_event_id=8sQm2xKpV4nTcRw7yHdJ3L",
    );
    assert.equal(again.body.items.length, 1);
    assert.equal(again.body.items[0].id, marcus.id);
    assert.equal(again.body.items[0].calcom_event_id, "Fq3TzW8hNc5bLm1XvPr9Ka");
    const none = await server.admin<PageAnswer<JobView>>(
      "GET",
      "/admin/clients/northpeak/jobs?calcom_event_id=unknown",
    );
    assert.deepEqual(none.body.items, []);

    const contacts = await listAll(server, "/admin/clients/northpeak/contacts");
    const emails = contacts.map((c) => c.email).sort();
    assert.deepEqual(emails, [
      "facilities@brightline-dental.example",
      "jordan.ellis@example.com",
      "lena.park@example.org",
      "marcus.okafor@example.net",
      "sam.rivera@example.com",
    ]);
    const lena = found(contacts.find((c) => c.email === "lena.park@example.org"));
    assert.equal(lena.name, "Lena Park");
    assert.equal(lena.phone, "+17205550193");
    assert.equal(lena.time_zone, "America/Chicago");
    assert.equal(marcus.contact_id, found(contacts.find((c) => c.email === "marcus.okafor@example.net")).id);
  });
});

Deno.test("status codes of the webhook endpoint", async (t) => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const created = fixture("booking_created").body;

    await t.step(
      "202 for a new booking, the same 202 again for the same body, nothing new stored",
      async () => {
        const first = await server.post("acme", created);
        assert.equal(first.status, 202);
        const { submission_id } = await first.json();
        const second = await server.post("acme", created);
        assert.equal(second.status, 202, "the same bytes get the same answer");
        assert.deepEqual(await second.json(), { submission_id, status: "pending", duplicate: true });
        await waitSettled(server, "acme");
        assert.equal((await listAll(server, "/admin/clients/acme/submissions")).length, 1);
      },
    );

    await t.step("the same body for another client is not a duplicate of it", async () => {
      await addClient(server, "other");
      const res = await server.post("other", created);
      assert.equal(res.status, 202);
      await res.body?.cancel();
    });

    await t.step("404 for an unknown slug, 405 with Allow for other methods", async () => {
      const res = await server.post("nobody", created);
      assert.equal(res.status, 404);
      assert.equal((await res.json()).error.code, "unknown_client");
      const get = await server.fetch(`/webhooks/calcom/acme`);
      assert.equal(get.status, 405);
      assert.equal(get.headers.get("allow"), "POST");
      assert.match((await get.json()).error.message, /POST/);
    });

    await t.step("401 for missing, malformed, no-secret-provided and wrong signatures", async () => {
      for (
        const [header, code] of [
          [null, "signature_missing"],
          ["abc", "signature_malformed"],
          ["no-secret-provided", "signature_no_secret_provided"],
          ["0".repeat(64), "invalid_signature"],
        ] as const
      ) {
        const res = await server.fetch(`/webhooks/calcom/acme`, {
          method: "POST",
          headers: header === null ? {} : { "x-cal-signature-256": header },
          body: fixture("booking_requested").body,
        });
        assert.equal(res.status, 401, String(header));
        const answer = await res.json();
        assert.equal(answer.error.code, code);
        assert.match(answer.error.message, /secret|signature|X-Cal-Signature-256/i);
      }
    });

    await t.step("uppercase hex signatures verify too", async () => {
      const { body, signature } = fixture("booking_paid");
      const res = await server.post("acme", body, FIXTURE_SECRET, {
        "x-cal-signature-256": signature.toUpperCase(),
      });
      assert.equal(res.status, 202);
      await res.body?.cancel();
    });

    await t.step("413 for a body over 1 MiB", async () => {
      const res = await server.post("acme", "x".repeat(1024 * 1024 + 1));
      assert.equal(res.status, 413);
      assert.equal((await res.json()).error.code, "body_too_large");
    });

    await t.step("422 and a quarantined submission for a signed body that is not usable", async () => {
      const res = await server.post("acme", "uid=abc&title=Hello");
      assert.equal(res.status, 422);
      const answer = await res.json();
      assert.equal(answer.status, "quarantined");
      assert.match(answer.error.message, /payload template/);
      const stored = await server.admin<SubmissionView>(
        "GET",
        `/admin/clients/acme/submissions/${answer.submission_id}`,
      );
      assert.equal(stored.body.status, "quarantined");
      assert.match(String(stored.body.error), /form-encoded/);
    });

    await t.step("202 ignored for a signed trigger we do not act on", async () => {
      const res = await server.post(
        "acme",
        JSON.stringify({ triggerEvent: "OOO_CREATED", createdAt: "2026-10-01T00:00:00Z", payload: {} }),
      );
      assert.equal(res.status, 202);
      const answer = await res.json();
      assert.equal(answer.status, "ignored");
      const stored = await server.admin<SubmissionView>(
        "GET",
        `/admin/clients/acme/submissions/${answer.submission_id}`,
      );
      assert.equal(stored.body.status, "ignored");
      assert.equal(stored.body.event_type, "OOO_CREATED");
    });

    await t.step(
      "ping: signed → ok; unsigned → ok with a hint; remembered on the client; no side effects",
      async () => {
        const before = (await listAll(server, "/admin/clients/acme/submissions")).length;
        const signed = await server.post("acme", fixture("ping").body);
        assert.deepEqual(await signed.json(), { ok: true, signature_valid: true });
        const unsigned = await server.fetch(`/webhooks/calcom/acme`, {
          method: "POST",
          headers: { "x-cal-signature-256": "no-secret-provided" },
          body: fixture("ping").body,
        });
        assert.equal(unsigned.status, 200);
        const answer = await unsigned.json();
        assert.equal(answer.signature_valid, false);
        assert.match(answer.hint, /secret/);
        const client = await server.admin<ClientView>("GET", "/admin/clients/acme");
        assert.equal(client.body.last_ping?.signature_valid, false);
        assert.equal((await listAll(server, "/admin/clients/acme/submissions")).length, before);
        assert.equal(
          (await listAll(server, "/admin/clients/acme/jobs")).some((j) => j.title === "Test trigger event"),
          false,
        );
      },
    );

    await t.step("a trailing slash on the URL is accepted, never redirected", async () => {
      const res = await server.fetch(`/webhooks/calcom/acme/`, {
        method: "POST",
        headers: { "x-cal-signature-256": fixture("ping").signature },
        body: fixture("ping").body,
        redirect: "manual",
      });
      assert.equal(res.status, 200);
      await res.body?.cancel();
    });
  });
});

Deno.test("one JSON log line per request, with no secret or signature in it", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const { body, signature } = fixture("booking_created");
    await (await server.post("acme", body, FIXTURE_SECRET, { "x-cal-signature-256": signature })).body
      ?.cancel();
    const lines = server.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === "request");
    const webhook = lines.find((l) => l.path === "/webhooks/calcom/acme");
    assert.ok(webhook);
    assert.equal(webhook.method, "POST");
    assert.equal(webhook.slug, "acme");
    assert.equal(webhook.trigger, "BOOKING_CREATED");
    assert.equal(webhook.status, 202);
    assert.equal(typeof webhook.ms, "number");
    const all = server.logs.join("\n");
    assert.ok(!all.includes(FIXTURE_SECRET));
    assert.ok(!all.includes(signature));
  });
});

Deno.test("nothing Cal.com can send is answered 410 (Cal.com switches the webhook off) or with a redirect", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "gone");
    assert.equal((await server.admin("DELETE", "/admin/clients/gone")).status, 200);
    const body = bookingCreated("no-410", "a@example.org");
    const answers: number[] = [];
    for (const slug of ["acme", "gone", "nobody", "ACME", "acme/extra", "acme/", "a".repeat(300), "%2e%2e"]) {
      for (const secret of [FIXTURE_SECRET, "wrong-secret"]) {
        const res = await server.post(slug, body, secret);
        answers.push(res.status);
        await res.body?.cancel();
      }
    }
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const res = await server.fetch("/webhooks/calcom/acme", { method });
      answers.push(res.status);
      await res.body?.cancel();
    }
    const res = await server.post("acme", "{not json", FIXTURE_SECRET);
    answers.push(res.status);
    await res.body?.cancel();
    assert.ok(answers.includes(202) && answers.includes(401) && answers.includes(404), answers.join(","));
    assert.deepEqual(answers.filter((s) => s === 410 || (s >= 300 && s < 400)), [], answers.join(","));
  });
});
