/**
 * Erasing a person leaves no trace of them in any KV value or key (the test scans every entry):
 * Contact, Jobs and their events, submission records and raw bodies (chunked ones included),
 * the change log; packed values are read unpacked.
 */
import assert from "node:assert/strict";
import {
  addClient,
  bookingCreated,
  calcomBody,
  listAll,
  type SubmissionView,
  waitSettled,
  withServer,
} from "../_helpers.ts";
import { type Encoding, unpack } from "../../lib/store/packed.ts";

const EMAIL = "Priyanka.Rama@Example.org";
const NAME = "Priyanka Ramaswamy";
const PHONE = "+14165550143";
const TRACES = [EMAIL.toLowerCase(), NAME.toLowerCase(), "ramaswamy", PHONE];

/** Bytes as text, and as text again through every packed encoding they unpack with. */
function bytesText(bytes: Uint8Array): string {
  const decoder = new TextDecoder();
  const texts = [decoder.decode(bytes)];
  for (const encoding of ["deflate-calcom-1", "deflate-raw"] as Encoding[]) {
    try {
      texts.push(decoder.decode(unpack(bytes, encoding)));
    } catch {
      // Not packed with this encoding.
    }
  }
  return texts.join("\n");
}

async function everything(kv: Deno.Kv): Promise<string> {
  const parts: string[] = [];
  for await (const e of kv.list({ prefix: [] })) {
    const value = e.value instanceof Uint8Array
      ? bytesText(e.value)
      : JSON.stringify(e.value, (_k, v) =>
        v instanceof Uint8Array ? bytesText(v) : typeof v === "bigint" ? String(v) : v);
    parts.push(JSON.stringify(e.key), value);
  }
  return parts.join("\n").toLowerCase();
}

// Queue mode stores bodies, Jobs and the log as they are; inline mode packs them.
for (const mode of ["queue", "inline"] as const) {
  Deno.test(`${mode}: erase a person: no trace in any KV entry, others untouched, bodies not replayable, a new booking is a new Contact`, async () => {
    await withServer({ mode }, async (server) => {
      await addClient(server, "acme");
      const her = { email: EMAIL, name: NAME, timeZone: "America/Toronto", phoneNumber: PHONE };
      const marcus = { email: "marcus.okafor@example.net", name: "Marcus Okafor", timeZone: "UTC" };
      const bodies = [
        bookingCreated("e-1", EMAIL, "2026-11-01T10:00:00.000Z", {
          title: `Estimate between Owner and ${NAME}`,
          attendees: [her],
          responses: {
            name: { label: "your_name", value: { firstName: "Priyanka", lastName: "Ramaswamy" } },
            email: { label: "email_address", value: EMAIL },
            attendeePhoneNumber: { label: "phone", value: PHONE },
          },
        }),
        // A guest in Marcus's booking.
        bookingCreated("e-2", marcus.email, "2026-11-02T10:00:00.000Z", { attendees: [marcus, her] }),
        // A large body (stored in chunks) that names her.
        bookingCreated("e-3", EMAIL, "2026-11-03T10:00:00.000Z", {
          attendees: [her],
          userFieldsResponses: {
            notes: { label: "Notes", value: `Call ${NAME} at ${PHONE}. ${"x".repeat(40_000)}` },
          },
        }),
        calcomBody("BOOKING_CANCELLED", "2026-11-04T10:00:00.000Z", {
          uid: "e-1",
          attendees: [her],
          cancellationReason: `${NAME} is travelling`,
        }),
      ];
      for (const body of bodies) assert.equal((await server.post("acme", body)).status, 202);
      await waitSettled(server, "acme");
      const before = await everything(server.kv);
      for (const trace of TRACES) assert.ok(before.includes(trace), `the data held ${trace} before`);

      const contacts = await listAll(server, "/admin/clients/acme/contacts");
      const contact = contacts.find((c) => c.email === EMAIL.toLowerCase())!;
      const refused = await server.admin("DELETE", `/admin/clients/acme/contacts/${contact.id}`);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, "erase_required");

      const erased = await server.admin<
        { erased: { jobs_changed: string[]; submissions_scrubbed: string[] }; note: string }
      >(
        "DELETE",
        `/admin/clients/acme/contacts/${contact.id}?erase=true`,
      );
      assert.equal(erased.status, 200, JSON.stringify(erased.body));
      assert.equal(erased.body.erased.jobs_changed.length, 3);
      assert.equal(erased.body.erased.submissions_scrubbed.length, 4);
      assert.match(erased.body.note, /can no longer be replayed/);

      const after = await everything(server.kv);
      for (const trace of TRACES) assert.ok(!after.includes(trace), `${trace} is still stored`);
      assert.ok(after.includes("marcus.okafor@example.net"), "the other person is kept");
      assert.ok(after.includes("estimate between owner and [erased]"));

      const scrubbedId = erased.body.erased.submissions_scrubbed[0];
      const replay = await server.admin("POST", `/admin/clients/acme/submissions/${scrubbedId}/replay`);
      assert.equal(replay.status, 409);
      assert.equal(replay.body.error.code, "body_not_replayable");
      const replayAll = await server.admin<{ results: Record<string, number> }>(
        "POST",
        "/admin/clients/acme/replay?status=processed",
      );
      assert.equal(replayAll.status, 200);
      assert.ok(
        !(await everything(server.kv)).includes(EMAIL.toLowerCase()),
        "replaying everything brings nothing back",
      );

      // She books again: a new Contact.
      assert.equal(
        (await server.post("acme", bookingCreated("e-4", EMAIL, "2026-11-05T10:00:00.000Z"))).status,
        202,
      );
      await waitSettled(server, "acme");
      const again = (await listAll(server, "/admin/clients/acme/contacts")).find((c) =>
        c.email === EMAIL.toLowerCase()
      );
      assert.ok(again && again.id !== contact.id, "a new Contact");
      const submissions: SubmissionView[] = await listAll(server, "/admin/clients/acme/submissions");
      assert.equal(submissions.filter((s) => s.body_scrubbed_at).length, 4);
    });
  });
}
