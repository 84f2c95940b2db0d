import assert from "node:assert/strict";
import { applyObservation, type Contact, contactView, normalizeEmail } from "../../lib/domain/contact.ts";

const fresh = { id: "c1", client: "acme", now: "2026-10-01T00:00:00.000Z" };
const seen = (
  order: string,
  fields: Partial<{ email_as_sent: string; name: string; phone: string; time_zone: string }> = {},
) => ({
  email: "pat@example.com",
  email_as_sent: fields.email_as_sent ?? null,
  name: fields.name ?? null,
  phone: fields.phone ?? null,
  time_zone: fields.time_zone ?? null,
  order,
});

Deno.test("one spelling per person: case, spaces, full-width letters, invisible characters and a trailing dot", () => {
  const same = [
    "pat@example.com",
    "  PAT@Example.COM\t",
    "ｐａｔ＠ｅｘａｍｐｌｅ．ｃｏｍ",
    "pat\u200b@exam\u200dple.com",
    "\ufeffpat@example.com",
    "pat@example.com.",
  ];
  for (const spelling of same) {
    assert.equal(normalizeEmail(spelling), "pat@example.com", JSON.stringify(spelling));
  }
  for (
    const notAnEmail of ["", "   ", "pat", "pat@", "@example.com", "pat @example.com", 42, null, undefined]
  ) {
    assert.equal(normalizeEmail(notAnEmail), null, JSON.stringify(notAnEmail));
  }
  assert.notEqual(normalizeEmail("pat@example.com"), normalizeEmail("pat2@example.com"));
});

Deno.test("each Contact field keeps the value of the newest event that carried one, in any order", () => {
  const observations = [
    seen("2026-10-01|a", { name: "Pat", phone: "+1 555 0100" }),
    seen("2026-10-03|c", { name: "Pat Example" }),
    seen("2026-10-02|b", { name: "P.", time_zone: "America/Denver" }),
  ];
  const results = [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]].map((order) => {
    let contact: Contact | null = null;
    for (const i of order) contact = applyObservation(contact, observations[i], fresh) ?? contact;
    return contactView(contact!);
  });
  for (const r of results) assert.deepEqual(r, results[0]);
  assert.equal(results[0].name, "Pat Example");
  assert.equal(results[0].phone, "+1 555 0100");
  assert.equal(results[0].time_zone, "America/Denver");
  assert.ok(!("field_sources" in results[0]), "the API view hides where fields came from");
});

Deno.test("an observation that changes nothing returns null (no write), an empty value never erases one", () => {
  const first = applyObservation(null, seen("2026-10-02|b", { name: "Pat" }), fresh)!;
  assert.equal(first.name, "Pat");
  assert.equal(
    applyObservation(first, seen("2026-10-02|b", { name: "Pat" }), fresh),
    null,
    "same event again",
  );
  assert.equal(applyObservation(first, seen("2026-10-01|a", { name: "Old" }), fresh), null, "older event");
  assert.equal(applyObservation(first, seen("2026-10-03|c"), fresh), null, "newer event without a name");
});
