/**
 * Erasing one person from a client's data: their Contact goes, and their addresses, names and
 * phone numbers are scrubbed out of every Job (events included) and every stored raw body and
 * submission record (`domain/privacy.ts` decides what matches). Records that hold one of their
 * addresses or phone numbers are scrubbed of their name parts too; others only of their full
 * name. Each changed Job gets a `job.erased` entry in its change log, and older entries of the log
 * are scrubbed the same way. A scrubbed body no longer verifies or means what Cal.com sent, so it is
 * never replayed.
 */
import type { Contact } from "../domain/contact.ts";
import { personMatcher, scrub, scrubText } from "../domain/privacy.ts";
import type { Submission } from "../domain/submission.ts";
import { nowIso } from "../time.ts";
import { deleteContact } from "./contacts.ts";
import { scrubChangeLog } from "./changes.ts";
import { allJobs, rewriteJobs } from "./jobs.ts";
import { allSubmissions, readBody, replaceBody } from "./submissions.ts";

export interface ErasureReport {
  contact_id: string;
  jobs_changed: string[];
  submissions_scrubbed: string[];
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export async function erasePerson(kv: Deno.Kv, contact: Contact): Promise<ErasureReport> {
  const slug = contact.client;
  // Names the person went by in this client's Jobs, besides the Contact's own.
  const names = new Set([contact.name]);
  const addresses = new Set([contact.email, contact.email_as_sent, contact.phone]);
  for await (const job of allJobs(kv, slug)) {
    for (const e of job.events) {
      for (const a of e.attendees) {
        if (a.email !== contact.email) continue;
        names.add(a.name);
        addresses.add(a.email_as_sent ?? null);
        addresses.add(a.phone);
      }
    }
  }
  const parts = [...names].flatMap((n) => n?.split(/\s+/) ?? []);
  const strong = personMatcher(addresses)!;
  const full = personMatcher([...addresses, ...names, ...parts])!;
  const weak = personMatcher(names);
  const matcherFor = (text: string) => {
    strong.lastIndex = 0;
    return strong.test(text) ? full : weak;
  };

  await deleteContact(kv, contact);
  const now = nowIso();
  const jobsChanged = await rewriteJobs(
    kv,
    slug,
    (job) => {
      const matcher = matcherFor(JSON.stringify(job));
      if (!matcher) return null;
      const { value, changed } = scrub(job, matcher);
      const unlinked = value.attendees.some((a) => a.contact_id === contact.id) ||
        value.contact_id === contact.id;
      if (!changed && !unlinked) return null;
      return {
        ...value,
        contact_id: value.contact_id === contact.id ? null : value.contact_id,
        attendees: value.attendees.map((a) => (a.contact_id === contact.id ? { ...a, contact_id: null } : a)),
      };
    },
    "job.erased",
    now,
  );
  // Older change-log entries carried the person too (the Job as it was then).
  await scrubChangeLog(kv, slug, (entries) => {
    const matcher = matcherFor(JSON.stringify(entries));
    return matcher ? scrub(entries, matcher) : { value: entries, changed: false };
  });

  const scrubbed: string[] = [];
  for await (const s of allSubmissions(kv, slug)) {
    const body = s.body_dropped_at ? null : fromUtf8.decode(await readBody(kv, s));
    const matcher = matcherFor(JSON.stringify({ ...s, body: null }) + (body ?? ""));
    if (!matcher) continue;
    const record = scrub({ ...s, body: null } as Submission, matcher);
    const text = body === null ? null : scrubText(body, matcher);
    if (!record.changed && !text?.changed) continue;
    await replaceBody(kv, s, text ? utf8.encode(text.text) : null, {
      ...record.value,
      body_scrubbed_at: text?.changed ? nowIso() : s.body_scrubbed_at ?? null,
    });
    scrubbed.push(s.id);
  }
  return { contact_id: contact.id, jobs_changed: jobsChanged, submissions_scrubbed: scrubbed };
}
