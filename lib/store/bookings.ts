/**
 * Applying a submission to Jobs and Contacts: what its body means becomes a plan (`plan.ts`) with
 * the Job upsert or merge by booking uid (`jobs.ts`), the Contact upsert by email (`contacts.ts`)
 * and the submission's new status, all committed in one atomic commit by the processor.
 */
import { type DraftJobEvent, eventIds, type JobEvent, linkedGroups } from "../domain/job.ts";
import { type Interpretation, statusFor, type Submission } from "../domain/submission.ts";
import { planContacts } from "./contacts.ts";
import { planJob, readJobClosure } from "./jobs.ts";
import { submissionKey } from "./keys.ts";
import { keyId, newPlan, type Plan } from "./plan.ts";

/**
 * Builds the plan for one submission, given what its body means, from the entries as they are now
 * (`compact`: its Jobs and log entry packed).
 */
export async function planSubmission(
  kv: Deno.Kv,
  entry: Deno.KvEntry<Submission>,
  meaning: Interpretation,
  now: string,
  compact = false,
): Promise<Plan> {
  const s = entry.value;
  const plan = newPlan(
    {
      submissionId: s.id,
      client: s.client,
      status: statusFor(meaning, "applied"),
      receivedAt: s.received_at,
      compact,
    },
    [entry],
  );
  const settle = (patch: Partial<Submission>) => {
    plan.counts.move(s.client, "submissions", settled(s.status), settled(patch.status ?? s.status));
    plan.sets.push([submissionKey(s.client, s.id), {
      ...s,
      ...patch,
      processed_at: now,
      attempts: s.attempts + 1,
    }]);
  };

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

/** How a submission status is counted: pending ones are not (they are the backlog). */
function settled(status: string): string | null {
  return status === "pending" ? null : status;
}
