/**
 * The operator's view of a client's records beyond what the client API shows: a Job's timeline,
 * submissions (with their raw bodies, secrets redacted), replay, erasing a person, CSV export,
 * reconciliation on demand, missed webhooks, the newest change-log entries and dead letters.
 */
import { jobTimeline, jobView } from "../domain/job.ts";
import { redactBody } from "../domain/privacy.ts";
import { isReplayable, submissionView } from "../domain/submission.ts";
import { HttpError } from "../errors.ts";
import type { OpsContext } from "../api/context.ts";
import { listing, noSubmission, optionalStatus, pageOf, validId } from "../api/inputs.ts";
import type { OpInput } from "../api/operation.ts";
import { findJob } from "../api/records.ts";
import { listDeadLetters } from "../store/batches.ts";
import { recentChanges } from "../store/changes.ts";
import { allContacts, getContact } from "../store/contacts.ts";
import { erasePerson } from "../store/erase.ts";
import { allJobs } from "../store/jobs.ts";
import { listMissedWebhooks } from "../store/reconcile.ts";
import { getSubmission, listSubmissions, readBody } from "../store/submissions.ts";
import { contactsCsv, jobsCsv } from "./export.ts";

/** A Job's history: each event (webhook or API snapshot) in Cal.com's time order and what it changed. */
export async function jobTimelineOp(ctx: OpsContext, input: OpInput) {
  const { client, job } = await findJob(ctx, input);
  return {
    job: jobView(job),
    client_time_zone: client.time_zone ?? null,
    booker_time_zone: job.booker_time_zone ?? null,
    timeline: jobTimeline(job.events),
  };
}

export async function listSubmissionsOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const status = optionalStatus(input.status) ?? undefined;
  return await listing(() =>
    listSubmissions(ctx.kv, client.slug, { ...pageOf(input), status, view: submissionView })
  );
}

async function findSubmission(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const submissionId = validId(input.id, "submission");
  const submission = await getSubmission(ctx.kv, client.slug, submissionId);
  if (!submission) throw noSubmission(client.slug, submissionId);
  return { client, submission };
}

export async function getSubmissionOp(ctx: OpsContext, input: OpInput) {
  return submissionView((await findSubmission(ctx, input)).submission);
}

/** A submission with its raw body as an operator may see it (secrets redacted). */
export async function submissionDetailOp(ctx: OpsContext, input: OpInput) {
  const { client, submission: s } = await findSubmission(ctx, input);
  const shown = s.body_dropped_at ? null : redactBody(new TextDecoder().decode(await readBody(ctx.kv, s)));
  return {
    submission: submissionView(s),
    body_format: shown?.format ?? ("dropped" as const),
    body: shown?.body ?? null,
    replayable: isReplayable(s),
    // For showing its times as the business reads them, as a Job's timeline does.
    client_time_zone: client.time_zone ?? null,
  };
}

/** Re-runs one submission with today's code; answers it as it is afterwards. */
export async function replayOneOp(ctx: OpsContext, input: OpInput) {
  const { client, submission: stored } = await findSubmission(ctx, input);
  if (!isReplayable(stored)) {
    throw new HttpError(
      409,
      "body_not_replayable",
      stored.body_scrubbed_at
        ? "This submission's raw body was scrubbed when a person was erased, so it can no longer be replayed."
        : "This submission's raw body was dropped after RAW_BODY_RETENTION_DAYS, so it can no longer be replayed.",
    );
  }
  const submission = await ctx.deps.replayer.replayOne(client.slug, stored.id);
  if (!submission) throw noSubmission(client.slug, stored.id);
  ctx.audit("submission.replay", { slug: client.slug, submission_id: stored.id });
  return submissionView(submission);
}

/** Re-runs every submission of the client with the given status. */
export async function replayAllOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const wanted = optionalStatus(input.status);
  if (!wanted) {
    throw new HttpError(400, "missing_status", "Say which submissions to replay, e.g. status failed.");
  }
  const summary = await ctx.deps.replayer.replayAll(client.slug, wanted);
  ctx.audit("submissions.replay", { slug: client.slug, status: wanted, replayed: summary.replayed });
  return summary;
}

/**
 * Erases a person: their Contact, and their email, name and phone from every Job, event, stored
 * raw body and submission record of the client. Needs `erase` to be true (it cannot be undone).
 */
export async function eraseContactOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const contactId = validId(input.id, "contact");
  if (input.erase !== true && input.erase !== "true") {
    throw new HttpError(
      400,
      "erase_required",
      "Deleting a Contact erases the person from every Job and stored body and cannot be undone; add ?erase=true to do it.",
    );
  }
  const contact = await getContact(ctx.kv, client.slug, contactId);
  if (!contact) {
    throw new HttpError(404, "unknown_contact", `Client "${client.slug}" has no contact ${contactId}.`);
  }
  const report = await erasePerson(ctx.kv, contact);
  ctx.audit("contact.erase", {
    slug: client.slug,
    contact_id: contactId,
    jobs_changed: report.jobs_changed.length,
    submissions_scrubbed: report.submissions_scrubbed.length,
  });
  return {
    erased: report,
    note:
      "The scrubbed raw bodies can no longer be replayed. A later booking by the same person creates a new Contact.",
  };
}

/** Every Job or Contact of the client as CSV (for the business's own spreadsheets). */
export async function exportCsvOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const what = input.what;
  if (what !== "jobs" && what !== "contacts") {
    throw new HttpError(400, "invalid_export", 'Export "jobs" or "contacts".');
  }
  const csv = what === "jobs"
    ? jobsCsv(await Array.fromAsync(allJobs(ctx.kv, client.slug)))
    : contactsCsv(await Array.fromAsync(allContacts(ctx.kv, client.slug)));
  ctx.audit("client.export", { slug: client.slug, what });
  return { filename: `${client.slug}-${what}.csv`, csv };
}

/** Runs one reconciliation pass for the client now; answers what it fetched and changed. */
export async function reconcileOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  if (!ctx.deps.reconciler) {
    throw new HttpError(503, "reconcile_unavailable", "Reconciliation is not available here.");
  }
  ctx.audit("client.reconcile", { slug: client.slug });
  return await ctx.deps.reconciler.reconcile(client.slug);
}

/** Bookings Cal.com's API showed that no webhook ever delivered. */
export async function missedWebhooksOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const { limit } = pageOf({ limit: input.limit });
  return { items: await listMissedWebhooks(ctx.kv, client.slug, limit), cursor: null };
}

/** The newest entries of the client's change log, newest first (the dashboard's Change log tab). */
export async function recentChangesOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const { limit } = pageOf({ limit: input.limit });
  return { items: await recentChanges(ctx.kv, client.slug, limit), cursor: null };
}

export async function deadLettersOp(ctx: OpsContext) {
  return { items: (await listDeadLetters(ctx.kv)).map((e) => e.value), cursor: null };
}
