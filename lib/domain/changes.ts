/**
 * The change log's vocabulary, pure: what one change of a Job becomes as an entry of its client's
 * log (the feed shows it, and an outbound webhook delivery of it carries the same id). An entry is
 * written in the same commit as the change itself; this module only decides what it says.
 */
import { sha256Hex } from "./ids.ts";
import { type Job, jobView } from "./job.ts";

export const CHANGE_TYPES = [
  "job.created",
  "job.updated",
  "job.rescheduled",
  "job.cancelled",
  "job.merged",
  "job.erased",
] as const;
export type ChangeType = typeof CHANGE_TYPES[number];

/** Largest serialised Job view an entry carries whole; a larger Job is trimmed (flag and link). */
export const MAX_ENTRY_JOB_BYTES = 16_000;
/** Attendees and events a trimmed view keeps. */
const TRIMMED_LIST = 20;

export type JobView = ReturnType<typeof jobView>;

/** One entry of a client's change log. */
export interface ChangeEntry {
  /** Stable: derived from (client, job id, job_version), the same on every delivery of it. */
  id: string;
  type: ChangeType;
  job_id: string;
  /** Rises by one with every change of the Job: apply an entry only if it is newer than what you hold. */
  job_version: number;
  /** When the service committed the change. */
  occurred_at: string;
  /** Cal.com's time of the newest event the change applied, where known (the business's own time). */
  business_at: string | null;
  data: {
    /** The Job after the change, as the admin API shows it (null when it merged into another). */
    job: JobView | null;
    /** True when `job` was trimmed to fit (a Job with very many attendees): read it whole at `job_url`. */
    job_trimmed: boolean;
    /** The Job's path in the client API. */
    job_url: string;
    /** Which fields changed: [old, new]. */
    changes: Record<string, [unknown, unknown]>;
    /** The booking uid before the change and after it (a reschedule moves a Job to a new uid). */
    previous_calcom_event_id: string | null;
    calcom_event_id: string | null;
    /** `job.merged`: the Job it is now part of. */
    merged_into?: string;
  };
}

/** What an entry's id looks like. */
export const CHANGE_ID_PATTERN = /^chg_[0-9a-f]{32}$/;

/** An entry's id: stable, from (client, job id, version), so a retry or a replay of it has the same one. */
export function changeId(client: string, jobId: string, version: number): string {
  return "chg_" + sha256Hex(`${client}\n${jobId}\n${version}`).slice(0, 32);
}

/** The path of a Job in the client API. */
export const jobUrl = (client: string, jobId: string) =>
  `/api/v1/clients/${encodeURIComponent(client)}/jobs/${encodeURIComponent(jobId)}`;

/** Fields of a Job view compared for `changes` (`events` and `updated_at` change with every entry). */
const IGNORED = new Set(["id", "client", "events", "created_at", "updated_at", "version"]);

/** The view's fields that differ, old and new. */
export function changedFields(before: JobView | null, after: JobView): Record<string, [unknown, unknown]> {
  const out: Record<string, [unknown, unknown]> = {};
  for (const [key, value] of Object.entries(after)) {
    if (IGNORED.has(key)) continue;
    const old = before ? (before as Record<string, unknown>)[key] : null;
    if (JSON.stringify(old ?? null) !== JSON.stringify(value ?? null)) out[key] = [old ?? null, value];
  }
  return out;
}

/** Largest [old, new] pair an entry carries whole; a longer one is summarised (lists by their length). */
const MAX_CHANGE_PAIR = 2_000;

/** `changes` with every pair small enough for an entry (a 500-attendee list is not repeated in it). */
function boundedChanges(changes: Record<string, [unknown, unknown]>): Record<string, [unknown, unknown]> {
  const summary = (v: unknown) => (Array.isArray(v) ? { trimmed: true, items: v.length } : { trimmed: true });
  return Object.fromEntries(
    Object.entries(changes).map(([k, pair]) =>
      JSON.stringify(pair).length > MAX_CHANGE_PAIR ? [k, [summary(pair[0]), summary(pair[1])]] : [k, pair]
    ),
  );
}

/** The type of a change from its Job before and after. */
export function changeType(before: Job | null, after: Job): ChangeType {
  if (!before) return "job.created";
  if (after.status === "cancelled" && before.status !== "cancelled") return "job.cancelled";
  if (after.calcom_event_id !== before.calcom_event_id) return "job.rescheduled";
  return "job.updated";
}

/** The view an entry carries: whole, or trimmed to fit. */
function entryView(job: Job): { view: JobView; trimmed: boolean } {
  const view = jobView(job);
  if (JSON.stringify(view).length <= MAX_ENTRY_JOB_BYTES) return { view, trimmed: false };
  return {
    view: {
      ...view,
      responses: {},
      attendees: view.attendees.slice(0, TRIMMED_LIST),
      events: view.events.slice(-TRIMMED_LIST),
    },
    trimmed: true,
  };
}

/** The entry for one change of a Job (`type` decided by the caller or from before/after). */
export function changeEntry(
  client: string,
  before: Job | null,
  after: Job,
  occurredAt: string,
  type: ChangeType = changeType(before, after),
): ChangeEntry {
  const version = after.version ?? 1;
  const { view, trimmed } = entryView(after);
  const newest = after.events.at(-1)?.at ?? null;
  return {
    id: changeId(client, after.id, version),
    type,
    job_id: after.id,
    job_version: version,
    occurred_at: occurredAt,
    business_at: newest,
    data: {
      job: view,
      job_trimmed: trimmed,
      job_url: jobUrl(client, after.id),
      // An erasure's old values are the person's data: which fields changed is all it says.
      changes: type === "job.erased"
        ? Object.fromEntries(
          Object.keys(changedFields(before && jobView(before), jobView(after))).map((k) => [k, [null, null]]),
        )
        : boundedChanges(changedFields(before ? jobView(before) : null, jobView(after))),
      previous_calcom_event_id: before?.calcom_event_id ?? null,
      calcom_event_id: after.calcom_event_id,
    },
  };
}

/** The entry for a Job that turned out to be part of another (its id now redirects there). */
export function mergedEntry(client: string, merged: Job, into: Job, occurredAt: string): ChangeEntry {
  const version = (merged.version ?? 0) + 1;
  return {
    id: changeId(client, merged.id, version),
    type: "job.merged",
    job_id: merged.id,
    job_version: version,
    occurred_at: occurredAt,
    business_at: into.events.at(-1)?.at ?? null,
    data: {
      job: null,
      job_trimmed: false,
      job_url: jobUrl(client, into.id),
      changes: {},
      previous_calcom_event_id: merged.calcom_event_id,
      calcom_event_id: into.calcom_event_id,
      merged_into: into.id,
    },
  };
}

/** The entries of one merge decision: the merged-away Jobs first, then the surviving Job's change. */
export function mergeEntries(
  client: string,
  before: Job | null,
  after: Job,
  mergedAway: readonly Job[],
  occurredAt: string,
): ChangeEntry[] {
  return [
    ...mergedAway.map((m) => mergedEntry(client, m, after, occurredAt)),
    changeEntry(client, before, after, occurredAt),
  ];
}
