/**
 * CSV exports round-trip through a CSV parser with awkward values (quotes, commas, newlines,
 * non-ASCII), and cells a spreadsheet would evaluate are neutralised.
 */
import assert from "node:assert/strict";
import { parse } from "csv-parse/sync";
import { safeCell } from "../../lib/admin/export.ts";
import { addClient, ADMIN_TOKEN, bookingCreated, listAll, waitSettled, withServer } from "../_helpers.ts";

const AWKWARD_TITLE = 'Roof "leak", upstairs\nsecond line — naïve café';
const FORMULAS = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0"];

Deno.test("jobs.csv and contacts.csv: RFC 4180 quoting round-trips, formulas are neutralised", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    await server.post(
      "acme",
      bookingCreated("csv-0", "quote@example.org", "2026-11-01T10:00:00.000Z", { title: AWKWARD_TITLE }),
    );
    for (const [i, formula] of FORMULAS.entries()) {
      const body = bookingCreated(`csv-${i + 1}`, `f${i}@example.org`, `2026-11-0${i + 2}T10:00:00.000Z`, {
        title: formula,
        attendees: [{ email: `f${i}@example.org`, name: formula, timeZone: "UTC" }],
      });
      assert.equal((await server.post("acme", body)).status, 202);
    }
    await waitSettled(server, "acme");

    const res = await server.fetch("/admin/clients/acme/jobs.csv", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(res.headers.get("content-disposition") ?? "", /acme-jobs\.csv/);
    const rows: Record<string, string>[] = parse(await res.text(), { columns: true });
    assert.equal(rows.length, 1 + FORMULAS.length);
    const byUid = new Map(rows.map((r) => [r.calcom_event_id, r]));
    assert.equal(byUid.get("csv-0")?.title, AWKWARD_TITLE, "quotes, commas, newlines and accents survive");
    for (const [i, formula] of FORMULAS.entries()) {
      const row = byUid.get(`csv-${i + 1}`)!;
      assert.equal(row.title, `'${formula}`, "a formula is shown as text");
      assert.equal(row.booker_name, `'${formula}`);
      assert.ok(!/^[=+\-@\t\r]/.test(row.title));
    }
    const jobs = await listAll(server, "/admin/clients/acme/jobs");
    assert.deepEqual(new Set(rows.map((r) => r.job_id)), new Set(jobs.map((j) => j.id)));

    const contactsRes = await server.fetch("/admin/clients/acme/contacts.csv", {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const contacts: Record<string, string>[] = parse(await contactsRes.text(), { columns: true });
    assert.equal(contacts.length, 1 + FORMULAS.length);
    assert.ok(contacts.some((c) => c.name === `'${FORMULAS[0]}`));
    assert.ok(contacts.every((c) => !/^[=+\-@\t\r]/.test(c.name)));

    const unauthorised = await server.fetch("/admin/clients/acme/jobs.csv");
    assert.equal(unauthorised.status, 401);
    await unauthorised.body?.cancel();
  });
});

Deno.test("safeCell: every formula start is neutralised, other text is left alone", () => {
  for (const start of ["=", "+", "-", "@", "\t", "\r"]) assert.equal(safeCell(`${start}x`), `'${start}x`);
  assert.equal(safeCell("a=b"), "a=b");
  assert.equal(safeCell(null), "");
  assert.equal(safeCell(42), "42");
});
