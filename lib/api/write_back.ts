/**
 * Write-back as the client API takes it (scope `jobs:write`, and the same rows for the operator):
 * cancel, reschedule, mark no-shows, confirm or decline a Job in Cal.com, each with a required
 * `Idempotency-Key`; and Cal.com's free slots, for a reschedule to pick a time. Inputs are checked
 * here; what happens in Cal.com and on the Job is `processing/write_back.ts`.
 */
import type { ActionInput } from "../calcom/actions.ts";
import { sha256Hex } from "../domain/ids.ts";
import { jobView, type WriteBackAction } from "../domain/job.ts";
import { HttpError } from "../errors.ts";
import type { WriteBack } from "../processing/write_back.ts";
import { getJob } from "../store/jobs.ts";
import type { OpsContext } from "./context.ts";
import { optionalString } from "./inputs.ts";
import type { OpInput } from "./operation.ts";
import { findJob } from "./records.ts";

const MAX_REASON = 500;

function writeBack(ctx: OpsContext): WriteBack {
  if (!ctx.deps.writeBack) {
    throw new HttpError(503, "write_back_unavailable", "Write-back to Cal.com does not run here.");
  }
  return ctx.deps.writeBack;
}

/** The header's key: 1–255 printable characters, or a 400 that says to send one. */
function idempotencyKey(input: OpInput): string {
  const key = input.idempotencyKey?.trim() ?? "";
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new HttpError(
      400,
      "idempotency_key_required",
      "Send an Idempotency-Key header (1–255 printable characters, e.g. a UUID) with every write-back request; retry with the same key to get the same answer without acting twice.",
    );
  }
  return key;
}

function inputOf(action: WriteBackAction, input: OpInput, attendees: string[]): ActionInput {
  const reason = optionalString(input.reason, "reason", MAX_REASON) ?? null;
  const out: ActionInput = { reason, start: null, attendees: null, host: null, by_email: null };
  if (action === "reschedule") {
    const at = typeof input.start === "string" ? Date.parse(input.start) : NaN;
    if (!Number.isFinite(at) || at <= Date.now()) {
      throw new HttpError(
        400,
        "invalid_start",
        '"start" must be the new start as an ISO time in the future, e.g. "2027-01-15T09:00:00Z" (see GET …/slots).',
      );
    }
    out.start = new Date(at).toISOString();
  }
  if (action === "no_show") {
    // A list, or (from the CLI) a comma-separated string.
    const given = typeof input.attendees === "string" ? input.attendees.split(",") : input.attendees;
    if (given !== undefined && (!Array.isArray(given) || !given.every((a) => typeof a === "string"))) {
      throw new HttpError(400, "invalid_attendees", '"attendees" must list attendees\' emails.');
    }
    const emails = (given as string[] | undefined ?? []).map((e) => e.trim().toLowerCase()).filter(Boolean);
    const unknown = emails.filter((e) => !attendees.includes(e));
    if (unknown.length > 0) {
      throw new HttpError(400, "unknown_attendee", `Not an attendee of this Job: ${unknown.join(", ")}.`);
    }
    out.attendees = emails.length ? emails : null;
    out.host = input.host === true || input.host === "true" ? true : null;
    if (!out.attendees && !out.host) {
      throw new HttpError(
        400,
        "invalid_no_show",
        'Say who did not show: "attendees" (emails), "host": true, or both.',
      );
    }
  }
  return out;
}

function by(input: OpInput): string {
  const caller = input.caller;
  return caller?.kind === "token"
    ? `token:${caller.tokenId}`
    : caller?.kind === "portal"
    ? `portal:${caller.sessionId}`
    : "admin";
}

/** One write-back action as an operation of the table. */
export function writeBackOp(action: WriteBackAction) {
  return async (ctx: OpsContext, input: OpInput) => {
    const key = idempotencyKey(input);
    const { client, job } = await findJob(ctx, input);
    const actionInput = inputOf(action, input, job.attendees.map((a) => a.email));
    const who = by(input);
    const answer = await writeBack(ctx).act({
      client,
      job,
      action,
      input: actionInput,
      by: who,
      keyHash: sha256Hex(key),
      bodyHash: sha256Hex(JSON.stringify([job.id, action, actionInput])),
    });
    ctx.audit("job.write_back", { slug: client.slug, job_id: job.id, action, by: who });
    const now = await getJob(ctx.kv, client.slug, answer.job_id);
    return { ...answer, job: now ? jobView(now) : null };
  };
}

/** Cal.com's free slots between two times for an event type (`event_type`: its id), kept a minute. */
export async function slotsOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const [start, end] = [input.start, input.end].map((v) => (typeof v === "string" ? Date.parse(v) : NaN));
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start || end - start > 31 * 86_400_000) {
    throw new HttpError(
      400,
      "invalid_range",
      '"start" and "end" must be ISO times, end after start, at most 31 days apart.',
    );
  }
  const eventType = typeof input.event_type === "string" ? input.event_type.trim() : "";
  if (!/^\d{1,12}$/.test(eventType)) {
    throw new HttpError(
      400,
      "invalid_event_type",
      '"event_type" must be the Cal.com event type\'s id (a number).',
    );
  }
  const query = new URLSearchParams({
    eventTypeId: eventType,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
  });
  return { slots: await writeBack(ctx).slots(client, query) };
}
