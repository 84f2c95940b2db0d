/**
 * Reading a client's Jobs and Contacts: the listings (with their filters) and single records, as
 * both the client API and the operator's API answer them.
 */
import { contactView, normalizeEmail } from "../domain/contact.ts";
import { type Job, jobView } from "../domain/job.ts";
import { HttpError } from "../errors.ts";
import { getContact, listContacts } from "../store/contacts.ts";
import { getJob, getJobByEventId, listJobs } from "../store/jobs.ts";
import type { OpsContext } from "./context.ts";
import { listing, optionalJobStatus, optionalTime, pageOf, validEventId, validId } from "./inputs.ts";
import type { OpInput } from "./operation.ts";
import type { Client } from "../store/clients.ts";

/**
 * Jobs, or with `calcom_event_id` the Job any of whose booking uids (current or previous) it is;
 * `status`, `email` (any attendee's) and the start time (`start_from` ≤ start < `start_before`)
 * filter the listing.
 */
export async function listJobsOp(ctx: OpsContext, input: OpInput) {
  return await jobsOf(ctx, await ctx.client(input.slug), input);
}

export async function jobsOf(ctx: OpsContext, client: Client, input: OpInput) {
  const eventId = input.calcom_event_id;
  if (eventId !== undefined && eventId !== null && eventId !== "") {
    const job = await getJobByEventId(ctx.kv, client.slug, validEventId(eventId));
    return { items: job ? [jobView(job)] : [], cursor: null };
  }
  const status = optionalJobStatus(input.status);
  const email = input.email === undefined || input.email === null || input.email === ""
    ? null
    : normalizeEmail(String(input.email)) ?? String(input.email).trim().toLowerCase();
  const from = optionalTime(input.start_from, "start_from");
  const before = optionalTime(input.start_before, "start_before");
  const starts = (j: Job) => {
    const at = j.start_time ? Date.parse(j.start_time) : NaN;
    return (!from || at >= Date.parse(from)) && (!before || at < Date.parse(before));
  };
  const keep = status || email || from || before
    ? (j: Job) =>
      (!status || j.status === status) && (!email || j.attendees.some((a) => a.email === email)) &&
      (!(from || before) || starts(j))
    : undefined;
  return await listing(() => listJobs(ctx.kv, client.slug, { ...pageOf(input), view: jobView, keep }));
}

/** The Job, or a 404 that names it. */
export async function findJob(ctx: OpsContext, input: OpInput): Promise<{ client: Client; job: Job }> {
  const client = await ctx.client(input.slug);
  const jobId = validId(input.id, "job");
  const job = await getJob(ctx.kv, client.slug, jobId);
  if (!job) throw new HttpError(404, "unknown_job", `Client "${client.slug}" has no job ${jobId}.`);
  return { client, job };
}

export async function getJobOp(ctx: OpsContext, input: OpInput) {
  return jobView((await findJob(ctx, input)).job);
}

export async function listContactsOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  return await listing(() => listContacts(ctx.kv, client.slug, { ...pageOf(input), view: contactView }));
}

export async function getContactOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const contactId = validId(input.id, "contact");
  const contact = await getContact(ctx.kv, client.slug, contactId);
  if (!contact) {
    throw new HttpError(404, "unknown_contact", `Client "${client.slug}" has no contact ${contactId}.`);
  }
  return contactView(contact);
}
