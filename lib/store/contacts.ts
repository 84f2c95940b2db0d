/**
 * Contacts in KV: one per person, found by normalised email (`contacts_by_email`), upserted into a
 * plan (or, for a booking with many attendees, ahead of it in commits of their own), and read by
 * the admin side. What an observation changes is `domain/contact.ts`'s `applyObservation`.
 */
import { applyObservation, type Contact, type ContactObservation } from "../domain/contact.ts";
import { newId } from "../domain/ids.ts";
import type { JobEvent } from "../domain/job.ts";
import { contactByEmailKey, contactKey, contactsPrefix } from "./keys.ts";
import { getAll, listPage, type Page, withOccRetry } from "./kv.ts";
import { newPlan, type Plan, plansOp } from "./plan.ts";
import { ALL, CountDeltas } from "./counts.ts";

/**
 * Emails whose Contacts are planned inside the submission's own commit (two checks each; KV allows
 * 100 per atomic). A booking with more attendees upserts its Contacts first, in commits of this
 * many, each idempotent, and the submission's commit then carries only the Job.
 */
const CONTACTS_PER_COMMIT = 20;

/** Upserts a Contact per attendee email of the incoming events; returns email → contact id. */
export async function planContacts(
  kv: Deno.Kv,
  plan: Plan,
  client: string,
  events: JobEvent[],
  now: string,
): Promise<Map<string, string>> {
  const observations = new Map<string, ContactObservation[]>();
  for (const e of events) {
    if (e.kind === "no_show") continue;
    for (const a of e.attendees) {
      const list = observations.get(a.email) ?? [];
      list.push({
        email: a.email,
        email_as_sent: a.email_as_sent ?? a.email,
        name: a.name,
        time_zone: a.time_zone,
        phone: a.phone,
        order: `${e.at}|${e.key}`,
      });
      observations.set(a.email, list);
    }
  }
  const emails = [...observations.keys()];
  if (emails.length > CONTACTS_PER_COMMIT) return await upsertContactsApart(kv, client, observations, now);
  return await planContactUpserts(kv, plan, client, emails, observations, now);
}

/** Contacts of a large booking, upserted ahead of its commit in commits of CONTACTS_PER_COMMIT. */
async function upsertContactsApart(
  kv: Deno.Kv,
  client: string,
  observations: Map<string, ContactObservation[]>,
  now: string,
): Promise<Map<string, string>> {
  const emails = [...observations.keys()];
  const ids = new Map<string, string>();
  for (let i = 0; i < emails.length; i += CONTACTS_PER_COMMIT) {
    const chunk = emails.slice(i, i + CONTACTS_PER_COMMIT);
    const found = await withOccRetry("upsert contacts", async () => {
      const part = newPlan({ submissionId: "", client, status: "", receivedAt: now });
      const chunkIds = await planContactUpserts(kv, part, client, chunk, observations, now);
      if (part.sets.length === 0) return { op: null, result: chunkIds };
      return { op: plansOp(kv, [part]), result: chunkIds };
    });
    for (const [email, id] of found) ids.set(email, id);
  }
  return ids;
}

/** Plans a Contact upsert per email into `plan` (its checks and writes); returns email → contact id. */
async function planContactUpserts(
  kv: Deno.Kv,
  plan: Plan,
  client: string,
  emails: string[],
  observations: Map<string, ContactObservation[]>,
  now: string,
): Promise<Map<string, string>> {
  const indexEntries = await getAll<string>(kv, emails.map((email) => contactByEmailKey(client, email)));
  const existingIds = indexEntries.map((e) => e.value);
  const contactEntries = await getAll<Contact>(
    kv,
    existingIds.filter((id): id is string => !!id).map((id) => contactKey(client, id)),
  );
  const byId = new Map(
    contactEntries.filter((e) => e.value).map((e) => [e.value!.id, e as Deno.KvEntry<Contact>]),
  );

  const ids = new Map<string, string>();
  emails.forEach((email, i) => {
    const index = indexEntries[i];
    const entry = index.value ? byId.get(index.value) ?? null : null;
    plan.checks.push(index);
    if (entry) plan.checks.push(entry);
    let contact: Contact | null = entry?.value ?? null;
    let changed = false;
    const fresh = { id: index.value ?? newId(), client, now };
    for (const seen of observations.get(email)!) {
      const next = applyObservation(contact, seen, fresh);
      if (next) {
        contact = next;
        changed = true;
      }
    }
    ids.set(email, contact!.id);
    if (changed) plan.sets.push([contactKey(client, contact!.id), contact]);
    if (!index.value) {
      plan.sets.push([contactByEmailKey(client, email), contact!.id]);
      plan.counts.add(client, "contacts", ALL, 1);
    }
  });
  return ids;
}

/** The Contact id of each email (null where there is none), in the order of `emails`. */
export async function contactIdsByEmail(
  kv: Deno.Kv,
  client: string,
  emails: readonly string[],
): Promise<(string | null)[]> {
  return (await getAll<string>(kv, emails.map((email) => contactByEmailKey(client, email)))).map((e) =>
    e.value
  );
}

export async function getContact(kv: Deno.Kv, client: string, id: string): Promise<Contact | null> {
  return (await kv.get<Contact>(contactKey(client, id))).value;
}

export function listContacts<V>(
  kv: Deno.Kv,
  client: string,
  opts: { limit: number; cursor?: string; view: (c: Contact) => V },
): Promise<Page<V>> {
  return listPage<Contact, V>(kv, contactsPrefix(client), opts);
}

/** Every Contact of the client (for scans: export, overview). */
export async function* allContacts(kv: Deno.Kv, client: string): AsyncGenerator<Contact> {
  for await (const { value } of kv.list<Contact>({ prefix: contactsPrefix(client) })) yield value;
}

/** Deletes a Contact and its email index entry. */
export async function deleteContact(kv: Deno.Kv, contact: Contact): Promise<void> {
  const counts = new CountDeltas();
  counts.add(contact.client, "contacts", ALL, -1);
  const op = kv.atomic().delete(contactKey(contact.client, contact.id)).delete(
    contactByEmailKey(contact.client, contact.email),
  );
  counts.applyTo(op);
  await op.commit();
}
