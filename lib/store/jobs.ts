/**
 * Jobs in KV: one value per Job (or a stub and parts when it outgrows a value), the booking-uid
 * index, merge redirects; reading a Job's closure for a plan, writing it into one, and every read
 * the admin side makes. What a merge does is `domain/job.ts`'s `mergeIntoJob`.
 */
import { changeEntry, type ChangeType, mergeEntries } from "../domain/changes.ts";
import { eventIds, type Job, type JobEvent, mergeIntoJob } from "../domain/job.ts";
import { newId } from "../domain/ids.ts";
import { contactIdsByEmail } from "./contacts.ts";
import { jobByEventIdKey, jobKey, jobPartKey, jobRedirectKey, jobsPrefix } from "./keys.ts";
import { getAll, listPage, type Page, readParts, withOccRetry } from "./kv.ts";
import { newPlan, type Plan, plansOp } from "./plan.ts";
import { type Encoding, pack, unpackJson } from "./packed.ts";

/** Largest Job (packed, or its JSON) kept in one value (KV values are ≤ 64 KiB); larger ones go to parts. */
const MAX_JOB_BYTES = 60_000;
/** Bytes of a Job per part. */
const JOB_PART_BYTES = 60_000;
/** How compact plans store Jobs: their events repeat each other's fields, which a write unit per KiB bills. */
const JOB_ENCODING: Encoding = "deflate-raw";

/** What `jobKey` holds for a Job stored packed in one value: its JSON, packed. */
interface PackedJob {
  id: string;
  client: string;
  packed: Uint8Array;
  encoding: Encoding;
}

/** What `jobKey` holds for a Job stored in parts (`encoding` absent: parts of its plain JSON). */
interface JobStub {
  id: string;
  client: string;
  parts: number;
  encoding?: Encoding;
}

/** A Job stored unpacked in one value is the Job itself. */
export type StoredJob = PackedJob | JobStub | Job;

const isStub = (value: StoredJob): value is JobStub => "parts" in value && !("events" in value);
const isPacked = (value: StoredJob): value is PackedJob => "packed" in value;
const utf8 = new TextEncoder();

/** The whole Job, unpacked, reading its parts when it is stored in parts. */
async function loadJob(kv: Deno.Kv, value: StoredJob): Promise<Job> {
  if (isPacked(value)) return unpackJson(value.packed, value.encoding);
  if (!isStub(value)) return value;
  const keys = Array.from({ length: value.parts }, (_, n) => jobPartKey(value.client, value.id, n));
  const bytes = await readParts(kv, keys, (n) => `Part ${n} of job ${value.id} is missing.`);
  return unpackJson(bytes, value.encoding);
}

/**
 * Writes the Job: packed for a compact plan, or when it was stored packed (a rewrite keeps its
 * form), else as it is; in one value when it fits, else a stub and parts. Parts it no longer needs
 * are deleted.
 */
function planJobWrite(plan: Plan, job: Job, previous: StoredJob | null): void {
  const oldParts = previous && isStub(previous) ? previous.parts : 0;
  const packing = plan.compact ||
    (previous !== null && (isPacked(previous) || (isStub(previous) && !!previous.encoding)));
  const json = JSON.stringify(job);
  const bytes = packing
    ? pack(utf8.encode(json), JOB_ENCODING)
    : json.length > MAX_JOB_BYTES / 3
    ? utf8.encode(json)
    : null;
  let parts = 0;
  if (bytes && bytes.length > MAX_JOB_BYTES) {
    for (let offset = 0; offset < bytes.length; offset += JOB_PART_BYTES, parts++) {
      plan.sets.push([jobPartKey(job.client, job.id, parts), bytes.slice(offset, offset + JOB_PART_BYTES)]);
    }
    const stub: JobStub = {
      id: job.id,
      client: job.client,
      parts,
      ...(packing ? { encoding: JOB_ENCODING } : {}),
    };
    plan.sets.push([jobKey(job.client, job.id), stub]);
  } else if (packing) {
    const stored: PackedJob = { id: job.id, client: job.client, packed: bytes!, encoding: JOB_ENCODING };
    plan.sets.push([jobKey(job.client, job.id), stored]);
  } else {
    plan.sets.push([jobKey(job.client, job.id), job]);
  }
  for (let n = parts; n < oldParts; n++) plan.deletes.push(jobPartKey(job.client, job.id, n));
}

/** Re-reads of a Job closure when a concurrent merge moved a Job between its index and Job reads. */
const MAX_CLOSURE_READS = 5;

/** Each Job's stored entry (checked at commit) and the whole Job, by id. */
type ClosureJobs = Map<string, { entry: Deno.KvEntry<StoredJob>; job: Job }>;

export interface JobClosure {
  indexEntries: Map<string, Deno.KvEntryMaybe<string>>;
  jobs: ClosureJobs;
}

/**
 * Follows uid → job → more uids until closed: events may reveal that two Jobs are one chain. The
 * index and the Jobs are read in separate calls, so a concurrent merge can delete a Job the index
 * pointed at a moment ago: then the closure is read again (the commit's checks catch any other
 * change). A Job still missing after that is a broken index, and an error.
 */
export async function readJobClosure(
  kv: Deno.Kv,
  client: string,
  uids: ReadonlySet<string>,
): Promise<JobClosure> {
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

/** Upserts the Job (merging every Job the uids already point at: `mergeIntoJob`) and returns its id. */
export async function planJob(
  kv: Deno.Kv,
  plan: Plan,
  client: string,
  incoming: JobEvent[],
  { indexEntries, jobs }: JobClosure,
  contactIds: Map<string, string>,
  now: string,
): Promise<string> {
  const { job, changed, mergedAway } = mergeIntoJob([...jobs.values()].map((e) => e.job), incoming, {
    client,
    contactIds,
    now,
    newId,
  });
  for (const entry of indexEntries.values()) plan.checks.push(entry);
  for (const { entry } of jobs.values()) plan.checks.push(entry);
  if (!changed) return job.id;
  await fillMissingContactIds(kv, client, job);
  plan.changes.push(...mergeEntries(client, jobs.get(job.id)?.job ?? null, job, mergedAway, now));
  plan.counts.move(client, "jobs", jobs.get(job.id)?.job.status ?? null, job.status);
  for (const merged of mergedAway) plan.counts.move(client, "jobs", merged.status, null);
  planJobWrite(plan, job, jobs.get(job.id)?.entry.value ?? null);
  for (const uid of eventIds(job.events)) {
    if (indexEntries.get(uid)?.value !== job.id) plan.sets.push([jobByEventIdKey(client, uid), job.id]);
  }
  for (const merged of mergedAway) {
    const { entry } = jobs.get(merged.id)!;
    plan.deletes.push(jobKey(client, merged.id));
    const parts = isStub(entry.value) ? entry.value.parts : 0;
    for (let n = 0; n < parts; n++) plan.deletes.push(jobPartKey(client, merged.id, n));
    plan.sets.push([jobRedirectKey(client, merged.id), job.id]);
  }
  return job.id;
}

/** Attendees known only from earlier events: their Contacts already exist, so look their ids up. */
async function fillMissingContactIds(kv: Deno.Kv, client: string, job: Job): Promise<void> {
  const missing = job.attendees.filter((a) => a.contact_id === null);
  if (missing.length === 0) return;
  const found = await contactIdsByEmail(kv, client, missing.map((a) => a.email));
  missing.forEach((a, i) => (a.contact_id = found[i]));
  job.contact_id = job.attendees[0]?.contact_id ?? null;
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

/**
 * Rewrites every Job of the client that `change` returns a new version of (null: leave it), each
 * checked against the entry it was read from and committed with its change-log entry of `type`;
 * returns the ids rewritten. Parts are handled here.
 */
export async function rewriteJobs(
  kv: Deno.Kv,
  client: string,
  change: (job: Job) => Job | null,
  type: ChangeType,
  now: string,
): Promise<string[]> {
  const rewritten: string[] = [];
  for await (const entry of kv.list<StoredJob>({ prefix: jobsPrefix(client) })) {
    const id = await rewriteJob(kv, client, entry.value.id, change, type, now);
    if (id) rewritten.push(id);
  }
  return rewritten;
}

/**
 * Rewrites one Job by `change` (null: leave it) with a change-log entry of `type`, in one atomic
 * with `also`'s writes; answers the Job's id, or null when it is gone or unchanged.
 */
export async function rewriteJob(
  kv: Deno.Kv,
  client: string,
  id: string,
  change: (job: Job) => Job | null,
  type: ChangeType,
  now: string,
  also: (op: Deno.AtomicOperation) => void = () => {},
): Promise<string | null> {
  return await withOccRetry(`rewrite job ${id}`, async () => {
    const current = await kv.get<StoredJob>(jobKey(client, id));
    if (!current.value) return { op: null, result: null };
    const before = await loadJob(kv, current.value);
    const changed = change(before);
    if (!changed) return { op: null, result: null };
    const next = { ...changed, version: (before.version ?? 0) + 1, updated_at: now };
    const plan = newPlan({ submissionId: "", client, status: "", receivedAt: "" }, [current]);
    planJobWrite(plan, next, current.value);
    plan.changes.push(changeEntry(client, before, next, now, type));
    const op = plansOp(kv, [plan]);
    also(op);
    return { op, result: next.id };
  });
}
