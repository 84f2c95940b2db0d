/**
 * Applying a submission to Jobs and Contacts in KV. Each submission becomes a *plan*: the entries
 * it read (checked by versionstamp at commit) and the writes it implies: Job upsert or merge by
 * booking uid, Contact upsert by email, and the submission's new status, all in one atomic commit.
 * Plans over disjoint keys can share one commit; a losing plan is re-read and retried.
 */
import { applyObservation, type Contact, type ContactObservation } from "../domain/contact.ts";
import {
  deriveJob,
  type DraftJobEvent,
  eventIds,
  type Job,
  type JobEvent,
  mergeEvents,
} from "../domain/job.ts";
import { type Interpretation, statusFor, type Submission } from "../domain/submission.ts";
import {
  contactByEmailKey,
  contactKey,
  contactsPrefix,
  jobByEventIdKey,
  jobKey,
  jobPartKey,
  jobRedirectKey,
  jobsPrefix,
  submissionKey,
} from "./keys.ts";
import { commit, getAll, listPage, type Page, readParts, withOccRetry } from "./kv.ts";
import { newId } from "../domain/ids.ts";

export interface Plan {
  submissionId: string;
  client: string;
  /** The status the submission settles with, and when it was received (for metrics). */
  status: string;
  receivedAt: string;
  checks: Deno.AtomicCheck[];
  sets: [Deno.KvKey, unknown][];
  deletes: Deno.KvKey[];
  /** Every key read or written, serialised: plans that share none can commit together. */
  touched: Set<string>;
}

/** Largest serialised Job kept in one value (KV values are ≤ 64 KiB); larger ones go to parts. */
const MAX_JOB_JSON = 60_000;
/** Bytes of Job JSON per part. */
const JOB_PART_BYTES = 60_000;
/**
 * Emails whose Contacts are planned inside the submission's own commit (two checks each; KV allows
 * 100 per atomic). A booking with more attendees upserts its Contacts first, in commits of this
 * many, each idempotent, and the submission's commit then carries only the Job.
 */
const CONTACTS_PER_COMMIT = 20;

/** What `jobKey` holds for a Job stored in parts. */
interface JobStub {
  id: string;
  client: string;
  parts: number;
}

type StoredJob = Job | JobStub;

const isStub = (value: StoredJob): value is JobStub => "parts" in value && !("events" in value);
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** The whole Job, reading its parts when it is stored in parts. */
async function loadJob(kv: Deno.Kv, value: StoredJob): Promise<Job> {
  if (!isStub(value)) return value;
  const keys = Array.from({ length: value.parts }, (_, n) => jobPartKey(value.client, value.id, n));
  const bytes = await readParts(kv, keys, (n) => `Part ${n} of job ${value.id} is missing.`);
  return JSON.parse(fromUtf8.decode(bytes));
}

/** Writes the Job: in one value when it fits, else a stub and parts; parts it no longer needs are deleted. */
function planJobWrite(plan: Plan, job: Job, previous: StoredJob | null): void {
  const oldParts = previous && isStub(previous) ? previous.parts : 0;
  const json = JSON.stringify(job);
  const bytes = json.length > MAX_JOB_JSON / 3 ? utf8.encode(json) : null;
  let parts = 0;
  if (bytes && bytes.length > MAX_JOB_JSON) {
    for (let offset = 0; offset < bytes.length; offset += JOB_PART_BYTES, parts++) {
      plan.sets.push([jobPartKey(job.client, job.id, parts), bytes.slice(offset, offset + JOB_PART_BYTES)]);
    }
    const stub: JobStub = { id: job.id, client: job.client, parts };
    plan.sets.push([jobKey(job.client, job.id), stub]);
  } else {
    plan.sets.push([jobKey(job.client, job.id), job]);
  }
  for (let n = parts; n < oldParts; n++) plan.deletes.push(jobPartKey(job.client, job.id, n));
}

const keyId = (key: Deno.KvKey) => JSON.stringify(key);

/** An empty plan; the metric fields are only meaningful for a submission's own plan. */
function newPlan(
  fields: Pick<Plan, "submissionId" | "client" | "status" | "receivedAt">,
  checks: Deno.AtomicCheck[] = [],
): Plan {
  return { ...fields, checks, sets: [], deletes: [], touched: new Set() };
}

/** Builds the plan for one submission, given what its body means, from the entries as they are now. */
export async function planSubmission(
  kv: Deno.Kv,
  entry: Deno.KvEntry<Submission>,
  meaning: Interpretation,
  now: string,
): Promise<Plan> {
  const s = entry.value;
  const plan = newPlan(
    {
      submissionId: s.id,
      client: s.client,
      status: statusFor(meaning, "applied"),
      receivedAt: s.received_at,
    },
    [entry],
  );
  const settle = (patch: Partial<Submission>) =>
    plan.sets.push([submissionKey(s.client, s.id), {
      ...s,
      ...patch,
      processed_at: now,
      attempts: s.attempts + 1,
    }]);

  const status = statusFor(meaning, "applied");
  if (meaning.kind === "invalid") settle({ status, error: meaning.reason });
  else if (meaning.kind === "ping") settle({ status, error: null });
  else if (meaning.kind === "ignored") settle({ ...meaning.fields, status, error: null });
  else {
    const jobIds = await planBooking(kv, plan, s, meaning.events, now);
    settle({ ...meaning.fields, status, error: null, job_ids: jobIds });
  }
  for (const c of plan.checks) plan.touched.add(keyId(c.key));
  for (const [k] of plan.sets) plan.touched.add(keyId(k));
  for (const k of plan.deletes) plan.touched.add(keyId(k));
  return plan;
}

/**
 * Commits several plans in one atomic (with `alsoDelete`, e.g. the records of batches this commit
 * settles); false when any check failed (nothing was written).
 */
export async function commitPlans(
  kv: Deno.Kv,
  plans: readonly Plan[],
  alsoDelete: readonly Deno.KvKey[] = [],
): Promise<boolean> {
  const op = plansOp(kv, plans);
  for (const key of alsoDelete) op.delete(key);
  return (await commit(op)).ok;
}

function plansOp(kv: Deno.Kv, plans: readonly Plan[]): Deno.AtomicOperation {
  const op = kv.atomic();
  for (const p of plans) {
    for (const c of p.checks) op.check(c);
    for (const [k, v] of p.sets) op.set(k, v);
    for (const k of p.deletes) op.delete(k);
  }
  return op;
}

export function planSize(plan: Plan): { checks: number; mutations: number } {
  return { checks: plan.checks.length, mutations: plan.sets.length + plan.deletes.length };
}

async function planBooking(
  kv: Deno.Kv,
  plan: Plan,
  s: Submission,
  drafts: DraftJobEvent[],
  now: string,
): Promise<string[]> {
  const events: JobEvent[] = drafts.map((d, i) => ({
    ...d,
    key: `${s.body_sha256}:${i}`,
    submission_id: s.id,
  }));
  const groups = linkedGroups(events);
  // The Contacts and the Jobs are read independently (each commit checks what it read).
  const [contactIds, closures] = await Promise.all([
    planContacts(kv, plan, s.client, events, now),
    Promise.all(groups.map((group) => readJobClosure(kv, s.client, eventIds(group)))),
  ]);
  const jobIds: string[] = [];
  for (const [i, group] of groups.entries()) {
    jobIds.push(await planJob(kv, plan, s.client, group, closures[i], contactIds, now));
  }
  return jobIds;
}

/** Splits a submission's events into groups that belong to the same Job (shared or linked uids). */
function linkedGroups(events: JobEvent[]): JobEvent[][] {
  const groups: { ids: Set<string>; events: JobEvent[] }[] = [];
  for (const e of events) {
    const ids = eventIds([e]);
    const matching = groups.filter((g) => [...ids].some((id) => g.ids.has(id)));
    const merged = { ids, events: [e] };
    for (const g of matching) {
      g.ids.forEach((id) => merged.ids.add(id));
      merged.events.push(...g.events);
      groups.splice(groups.indexOf(g), 1);
    }
    groups.push(merged);
  }
  return groups.map((g) => g.events);
}

/** Re-reads of a Job closure when a concurrent merge moved a Job between its index and Job reads. */
const MAX_CLOSURE_READS = 5;

/** Each Job's stored entry (checked at commit) and the whole Job, by id. */
type ClosureJobs = Map<string, { entry: Deno.KvEntry<StoredJob>; job: Job }>;

interface JobClosure {
  indexEntries: Map<string, Deno.KvEntryMaybe<string>>;
  jobs: ClosureJobs;
}

/**
 * Follows uid → job → more uids until closed: events may reveal that two Jobs are one chain. The
 * index and the Jobs are read in separate calls, so a concurrent merge can delete a Job the index
 * pointed at a moment ago: then the closure is read again (the commit's checks catch any other
 * change). A Job still missing after that is a broken index, and an error.
 */
async function readJobClosure(kv: Deno.Kv, client: string, uids: ReadonlySet<string>): Promise<JobClosure> {
  for (let attempt = 1;; attempt++) {
    const indexEntries = new Map<string, Deno.KvEntryMaybe<string>>();
    const jobs: ClosureJobs = new Map();
    let missing: string | null = null;
    let frontier = [...uids];
    while (frontier.length > 0 && missing === null) {
      const found = await getAll<string>(kv, frontier.map((uid) => jobByEventIdKey(client, uid)));
      frontier.forEach((uid, i) => indexEntries.set(uid, found[i]));
      const newJobIds = [
        ...new Set(found.map((e) => e.value).filter((id): id is string => !!id && !jobs.has(id))),
      ];
      const jobEntries = await getAll<StoredJob>(kv, newJobIds.map((id) => jobKey(client, id)));
      frontier = [];
      for (const [i, entry] of jobEntries.entries()) {
        if (!entry.value) {
          missing ??= newJobIds[i];
          continue;
        }
        const job = await loadJob(kv, entry.value);
        jobs.set(newJobIds[i], { entry: entry as Deno.KvEntry<StoredJob>, job });
        for (const uid of eventIds(job.events)) if (!indexEntries.has(uid)) frontier.push(uid);
      }
    }
    if (missing === null) return { indexEntries, jobs };
    if (attempt >= MAX_CLOSURE_READS) throw new Error(`Index points at missing job ${missing}`);
  }
}

/** Upserts the Job (merging every Job the uids already point at) and returns its id. */
async function planJob(
  kv: Deno.Kv,
  plan: Plan,
  client: string,
  incoming: JobEvent[],
  { indexEntries, jobs }: JobClosure,
  contactIds: Map<string, string>,
  now: string,
): Promise<string> {
  const existing = [...jobs.values()].sort((a, b) => (a.job.id < b.job.id ? -1 : 1));
  const survivor = existing[0]?.job;
  const id = survivor?.id ?? newId();
  const priorEvents = existing.flatMap((e) => e.job.events);
  const events = mergeEvents(priorEvents, incoming);
  const unchanged = existing.length === 1 && events.length === survivor!.events.length;

  for (const entry of indexEntries.values()) plan.checks.push(entry);
  for (const { entry } of existing) plan.checks.push(entry);
  if (unchanged) return id;
  // Attendees the Job already knows keep their Contacts (an email's Contact never changes).
  const known = new Map(contactIds);
  for (const { job } of existing) {
    for (const a of job.attendees) if (a.contact_id && !known.has(a.email)) known.set(a.email, a.contact_id);
  }

  const derived = deriveJob(events);
  const job: Job = {
    id,
    client,
    ...derived,
    contact_id: derived.booker_email ? known.get(derived.booker_email) ?? null : null,
    attendees: derived.attendees.map((a) => ({ ...a, contact_id: known.get(a.email) ?? null })),
    events,
    created_at: existing.map((e) => e.job.created_at).sort()[0] ?? now,
    updated_at: now,
  };
  await fillMissingContactIds(kv, client, job);
  planJobWrite(plan, job, existing[0]?.entry.value ?? null);
  for (const uid of eventIds(events)) {
    if (indexEntries.get(uid)?.value !== id) plan.sets.push([jobByEventIdKey(client, uid), id]);
  }
  for (const { entry, job: merged } of existing.slice(1)) {
    plan.deletes.push(jobKey(client, merged.id));
    const parts = isStub(entry.value) ? entry.value.parts : 0;
    for (let n = 0; n < parts; n++) plan.deletes.push(jobPartKey(client, merged.id, n));
    plan.sets.push([jobRedirectKey(client, merged.id), id]);
  }
  return id;
}

/** Attendees known only from earlier events: their Contacts already exist, so look their ids up. */
async function fillMissingContactIds(kv: Deno.Kv, client: string, job: Job): Promise<void> {
  const missing = job.attendees.filter((a) => a.contact_id === null);
  if (missing.length === 0) return;
  const found = await getAll<string>(kv, missing.map((a) => contactByEmailKey(client, a.email)));
  missing.forEach((a, i) => (a.contact_id = found[i].value ?? null));
  job.contact_id = job.attendees[0]?.contact_id ?? null;
}

/** Upserts a Contact per attendee email of the incoming events; returns email → contact id. */
async function planContacts(
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
    if (!index.value) plan.sets.push([contactByEmailKey(client, email), contact!.id]);
  });
  return ids;
}

/** A Job by id, following merge redirects. */
export async function getJob(kv: Deno.Kv, client: string, id: string): Promise<Job | null> {
  let current = id;
  for (let hops = 0; hops < 16; hops++) {
    const job = await kv.get<StoredJob>(jobKey(client, current));
    if (job.value) return await loadJob(kv, job.value);
    const redirect = await kv.get<string>(jobRedirectKey(client, current));
    if (!redirect.value) return null;
    current = redirect.value;
  }
  return null;
}

export async function getJobByEventId(kv: Deno.Kv, client: string, uid: string): Promise<Job | null> {
  const id = await kv.get<string>(jobByEventIdKey(client, uid));
  return id.value ? await getJob(kv, client, id.value) : null;
}

/** The Job id each booking uid points at (null where none does yet), in the order of `uids`. */
export async function findJobIds(
  kv: Deno.Kv,
  client: string,
  uids: readonly string[],
): Promise<(string | null)[]> {
  return (await getAll<string>(kv, uids.map((uid) => jobByEventIdKey(client, uid)))).map((e) => e.value);
}

/** How many Jobs a client has. */
export async function countJobs(kv: Deno.Kv, client: string): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: jobsPrefix(client) })) n++;
  return n;
}

/** Every Job of the client, whole (for scans: export, overview, erase). */
export async function* allJobs(kv: Deno.Kv, client: string): AsyncGenerator<Job> {
  for await (const { value } of kv.list<StoredJob>({ prefix: jobsPrefix(client) })) {
    yield await loadJob(kv, value);
  }
}

/** Every Contact of the client (for scans: export, overview). */
export async function* allContacts(kv: Deno.Kv, client: string): AsyncGenerator<Contact> {
  for await (const { value } of kv.list<Contact>({ prefix: contactsPrefix(client) })) yield value;
}

/** A page of Jobs; with `keep`, only those it keeps (a page may then be shorter than `limit`). */
export async function listJobs<V>(
  kv: Deno.Kv,
  client: string,
  opts: { limit: number; cursor?: string; view: (j: Job) => V; keep?: (j: Job) => boolean },
): Promise<Page<V>> {
  const page = await listPage<StoredJob>(kv, jobsPrefix(client), { limit: opts.limit, cursor: opts.cursor });
  const jobs = await Promise.all(page.items.map((stored) => loadJob(kv, stored)));
  return { items: jobs.filter((j) => !opts.keep || opts.keep(j)).map(opts.view), cursor: page.cursor };
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

/**
 * Rewrites every Job of the client that `change` returns a new version of (null: leave it), each
 * checked against the entry it was read from; returns the ids rewritten. Parts are handled here.
 */
export async function rewriteJobs(
  kv: Deno.Kv,
  client: string,
  change: (job: Job) => Job | null,
): Promise<string[]> {
  const rewritten = new Set<string>();
  for await (const entry of kv.list<StoredJob>({ prefix: jobsPrefix(client) })) {
    await withOccRetry(`rewrite job ${entry.value.id}`, async () => {
      const current = await kv.get<StoredJob>(entry.key);
      if (!current.value) return { op: null, result: null };
      const next = change(await loadJob(kv, current.value));
      if (!next) return { op: null, result: null };
      const plan = newPlan({ submissionId: "", client, status: "", receivedAt: "" }, [current]);
      planJobWrite(plan, next, current.value);
      rewritten.add(next.id);
      return { op: plansOp(kv, [plan]), result: null };
    });
  }
  return [...rewritten];
}

/** Deletes a Contact and its email index entry. */
export async function deleteContact(kv: Deno.Kv, contact: Contact): Promise<void> {
  await commit(
    kv.atomic().delete(contactKey(contact.client, contact.id)).delete(
      contactByEmailKey(contact.client, contact.email),
    ),
  );
}
