/**
 * The client API's contract as zod schemas: what a business's system reads (Jobs, Contacts, the
 * change log, its endpoints and their attempts), what it receives (`job.*` webhook bodies), and
 * the one error shape. The operations table names these for each route; the OpenAPI document
 * (`openapi.ts`), the TypeScript types consumers generate from it, and the dashboard's JSDoc types
 * all come from here, and the test suite checks every real answer against them. Objects are
 * strict: a field added to an answer without adding it here fails the suite.
 */
import { z } from "zod";
import { CHANGE_ID_PATTERN, CHANGE_TYPES } from "../domain/changes.ts";
import { JOB_STATUSES, WRITE_BACK_ACTIONS } from "../domain/job.ts";
import { PORTAL_CAPABILITIES, TOKEN_SCOPES } from "../domain/tokens.ts";
import { WEBHOOK_STATES } from "../calcom/webhooks_api.ts";
import { MAX_PAGE_LIMIT, MAX_WAIT_SECONDS } from "./inputs.ts";

const time = z.string().describe("An ISO 8601 time in UTC, e.g. 2026-12-07T14:00:00.000Z.");
const nullableTime = time.nullable();
const text = z.string().nullable();

export const ErrorAnswer = z.strictObject({
  error: z.looseObject({
    code: z.string().describe("Stable and machine-readable, e.g. unknown_job, invalid_cursor."),
    message: z.string().describe("What went wrong and what to do about it, in a person's words."),
  }),
}).meta({ id: "Error", description: "Every refusal has this shape, whatever the status." });

export const JobStatus = z.enum(JOB_STATUSES as [string, ...string[]]).meta({ id: "JobStatus" });
export const ChangeType = z.enum(CHANGE_TYPES).meta({ id: "ChangeType" });
export const TokenScope = z.enum(TOKEN_SCOPES).meta({ id: "TokenScope" });
export const PortalCapability = z.enum(PORTAL_CAPABILITIES).meta({
  id: "PortalCapability",
  description:
    "What a portal session may do: view (always), endpoints (manage), secrets (see, rotate), replay (resend, recover), tokens (client tokens within the session's capabilities), jobs (write-back: cancel, reschedule, no-show, confirm, decline).",
});
export const WebhookState = z.enum(WEBHOOK_STATES).meta({ id: "CalcomWebhookState" });

export const JobAttendee = z.strictObject({
  contact_id: z.string().nullable(),
  email: z.string().describe("Normalised (lower case, trimmed)."),
  name: text,
  no_show: z.boolean(),
}).meta({ id: "JobAttendee" });

export const JobEventSummary = z.strictObject({
  submission_id: z.string(),
  kind: z.string().describe(
    "What the event said: created, rescheduled, cancelled, paid, no_show, snapshot, …",
  ),
  source: z.enum(["webhook", "api"]),
  uid: z.string().describe("The Cal.com booking uid the event was about."),
  at: time.describe("Cal.com's time of the event; a Job's state is derived from its events in this order."),
}).meta({ id: "JobEventSummary" });

export const WriteBackAction = z.enum(WRITE_BACK_ACTIONS).meta({ id: "WriteBackAction" });

export const PendingAction = z.strictObject({
  action: WriteBackAction,
  uid: z.string().describe("The booking uid it was sent to Cal.com for."),
  requested_at: time,
  by: z.string().describe('Who asked: "admin", "token:<id>" or "portal:<session id>".'),
  reason: text,
  start: nullableTime.describe("A reschedule's new start."),
  attendees: z.array(z.string()).nullable().describe("A no-show's attendees (emails)."),
  host: z.boolean().nullable().describe("A no-show of the host."),
}).meta({
  id: "PendingAction",
  description: "Cal.com accepted it; it is settled (null) by Cal.com's echo, in the change that applies it.",
});

export const Job = z.strictObject({
  id: z.string(),
  pending_action: PendingAction.nullable().optional(),
  version: z.number().int().optional().describe(
    "Rises by one with every change; absent on Jobs not changed since the change log began.",
  ),
  client: z.string(),
  contact_id: z.string().nullable().describe("The booker's Contact."),
  calcom_event_id: z.string().describe("The current Cal.com booking uid (a reschedule moves it)."),
  previous_event_ids: z.array(z.string()),
  status: JobStatus,
  title: text,
  start_time: nullableTime,
  end_time: nullableTime,
  location: text,
  organizer_email: text,
  responses: z.record(z.string(), z.unknown()).describe("The booking form's answers as Cal.com sent them."),
  booker_email: text,
  booker_time_zone: text,
  attendees: z.array(JobAttendee),
  cancellation_reason: text,
  rejection_reason: text,
  payment_status: z.enum(["pending", "paid"]).nullable(),
  payment_id: text,
  seated: z.boolean(),
  events: z.array(JobEventSummary),
  created_at: time,
  updated_at: time,
}).meta({ id: "Job", description: "One appointment: one per booking, followed across reschedules." });

export const Contact = z.strictObject({
  id: z.string(),
  client: z.string(),
  email: z.string().describe("The normalised address: the Contact's identity."),
  email_as_sent: text,
  name: text,
  time_zone: text,
  phone: text,
  created_at: time,
  updated_at: time,
}).meta({ id: "Contact", description: "One person, by email." });

const changedPairs = z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).describe(
  "Which fields of the Job changed: [old, new]. A very long pair is summarised as {trimmed: true}; an erasure says [null, null].",
);

const entryDataFields = {
  job: Job.nullable().describe("The Job after the change (null for job.merged)."),
  job_trimmed: z.boolean().describe("True when `job` was trimmed to fit: read it whole at `job_url`."),
  job_url: z.string().describe("The Job's path in the client API."),
  changes: changedPairs,
  previous_calcom_event_id: z.string().nullable(),
  calcom_event_id: z.string().nullable(),
  merged_into: z.string().optional().describe("job.merged: the Job it is now part of."),
};

export const ChangeEntry = z.strictObject({
  id: z.string().regex(CHANGE_ID_PATTERN).describe(
    "Stable per (Job, version): the same on every read and every delivery (webhook-id).",
  ),
  type: ChangeType,
  job_id: z.string(),
  job_version: z.number().int().min(1).describe(
    "Apply an entry only if it is newer than the version you hold.",
  ),
  occurred_at: time.describe("When the service committed the change."),
  business_at: nullableTime.describe("Cal.com's time of the newest event the change applied."),
  data: z.strictObject(entryDataFields),
}).meta({ id: "ChangeEntry", description: "One entry of a client's change log." });

/** The body of an outbound `job.*` webhook, for one change type (`domain/outbound.ts` builds it). */
export function webhookBody(type: (typeof CHANGE_TYPES)[number]) {
  return z.strictObject({
    type: z.literal(type),
    timestamp: time.describe("When the change was committed (the entry's occurred_at)."),
    test: z.literal(true).optional().describe(
      "Only on a test event sent by hand (its webhook-id starts test_): made-up data, not a change.",
    ),
    data: z.strictObject({
      ...entryDataFields,
      job_id: z.string(),
      job_version: z.number().int(),
    }),
  });
}

export const ChangesPage = z.strictObject({
  items: z.array(ChangeEntry),
  next_cursor: z.string().describe("Pass it as `cursor` to read on; it is the same when nothing was new."),
  has_more: z.boolean().describe("True when more entries are waiting: read again at once."),
}).meta({ id: "ChangesPage" });

/** A listing: its items and the cursor of the next page (null: the last page). */
export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z.strictObject({ items: z.array(item), cursor: z.string().nullable() }).meta({ id });
}

export const JobsPage = pageOf(Job, "JobsPage");
export const ClientJobsPage = z.strictObject({
  items: z.array(Job),
  cursor: z.string().nullable(),
  changes_cursor: z.string().describe(
    "The change log's end when the listing began: follow /changes from it and nothing is missed.",
  ),
}).meta({ id: "ClientJobsPage" });
export const ContactsPage = pageOf(Contact, "ContactsPage");

export const EndpointState = z.enum(["active", "disabled", "behind_retention"]).describe(
  "behind_retention: stopped, it fell further behind than the change log keeps; recover it since a time.",
);
/** What a caller may set (behind_retention is the service's to say). */
export const EndpointStateInput = z.enum(["active", "disabled"]);

export const Endpoint = z.strictObject({
  id: z.string(),
  url: z.string(),
  event_types: z.array(ChangeType).nullable().describe("The change types it gets; null: every type."),
  description: text,
  state: EndpointState,
  disabled_reason: text,
  disabled_at: nullableTime,
  secrets: z.array(z.strictObject({ created_at: time, expires_at: nullableTime })).describe(
    "Its signing secrets (never their values): a rotated-out one signs beside the new one until it expires.",
  ),
  created_at: time,
  updated_at: time,
  failures: z.number().int().describe("Failed attempts of the next entry."),
  next_attempt_at: nullableTime,
  failing_since: nullableTime,
  last_success_at: nullableTime,
  backlog: z.number().int().describe("Entries committed but not yet delivered."),
  oldest_undelivered_at: nullableTime,
}).meta({ id: "Endpoint", description: "Where the client's job.* webhooks are delivered." });

export const EndpointWithSecret = z.strictObject({
  ...Endpoint.shape,
  secret: z.string().describe("whsec_…: the signing secret, shown this once."),
}).meta({ id: "EndpointWithSecret" });

export const EndpointsPage = pageOf(Endpoint, "EndpointsPage");

export const EndpointSecrets = z.strictObject({
  secret: z.string().describe("whsec_…: the secret that signs now."),
  secrets: z.array(z.strictObject({ secret: z.string(), created_at: time, expires_at: nullableTime }))
    .describe(
      "Every secret that signs, a rotated-out one until it expires.",
    ),
}).meta({ id: "EndpointSecrets" });

export const Attempt = z.strictObject({
  id: z.string(),
  event_id: z.string().nullable().describe(
    "The entry sent (null: the log could not be read, kind log_read).",
  ),
  type: z.string().nullable(),
  attempt: z.number().int(),
  at: time,
  status: z.number().int().nullable().describe("The receiver's HTTP status (null: no answer)."),
  error: text,
  duration_ms: z.number().int(),
  response_body: text.describe("The first KiB of the receiver's answer."),
  next_retry_at: nullableTime,
  kind: z.enum(["delivery", "resend", "test", "log_read"]).describe(
    "resend: sent again by hand; test: a test event (its event_id test_…, never in the change log); log_read: the log could not be read.",
  ),
  request_headers: z.record(z.string(), z.string()).optional().describe(
    "The headers the request was sent with (never the signature).",
  ),
}).meta({ id: "Attempt", description: "One delivery attempt to an endpoint." });

export const AttemptsPage = pageOf(Attempt, "AttemptsPage");

export const Deleted = z.strictObject({ deleted: z.string() }).meta({ id: "Deleted" });

export const RecoveringEndpoint = z.strictObject({
  ...Endpoint.shape,
  recovering_since: time,
}).meta({ id: "RecoveringEndpoint" });

// ---- client tokens -------------------------------------------------------------------------

const tokenFields = {
  id: z.string(),
  name: z.string(),
  scopes: z.array(TokenScope),
  created_at: time,
  expires_at: nullableTime,
};
export const Token = z.strictObject({ ...tokenFields, last_used_at: nullableTime }).meta({ id: "Token" });
export const IssuedToken = z.strictObject({
  ...tokenFields,
  token: z.string().describe("cit_…, shown once."),
})
  .meta({ id: "IssuedToken" });

export const TokensPage = z.strictObject({ items: z.array(Token), cursor: z.null() }).meta({ id: "Tokens" });
export type TokenAnswer = z.infer<typeof Token>;

// ---- write-back ----------------------------------------------------------------------------

export const WriteBackAnswer = z.strictObject({
  action: PendingAction,
  job_id: z.string(),
  calcom_uid: z.string().describe("The booking uid the action was sent for."),
  job: Job.nullable().describe("The Job with its pending_action, as it is now."),
}).meta({
  id: "WriteBackAnswer",
  description:
    "Cal.com accepted the action. The same Idempotency-Key and body answer this again; Cal.com's echo settles pending_action.",
});

export const Slots = z.strictObject({
  slots: z.unknown().describe(
    'Cal.com\'s free slots by day, as it answers them (e.g. {"2027-01-15": [{"start": …}]}).',
  ),
}).meta({ id: "Slots" });

// ---- the portal and the connection ------------------------------------------------------

export const PortalSessionOpened = z.strictObject({
  token: z.string().describe(
    "cps_…: the session's bearer token, answered this once; keep it in the tab only.",
  ),
  session_id: z.string(),
  slug: z.string(),
  client_name: text,
  time_zone: text,
  capabilities: z.array(PortalCapability),
  token_scopes: z.array(TokenScope).describe("The scopes a client token made by this session may hold."),
  expires_at: time,
}).meta({ id: "PortalSessionOpened" });

export const Connection = z.strictObject({
  slug: z.string(),
  name: text,
  time_zone: text,
  write_back: z.boolean().describe(
    "Whether jobs:write may act on Jobs in Cal.com (the operator turns it on).",
  ),
  calcom_webhook: z.strictObject({
    state: WebhookState,
    missing_triggers: z.array(z.string()),
    checked_at: nullableTime,
    connected_at: nullableTime,
  }).nullable().describe("The webhook in Cal.com as last checked (null: no API key, so never checked)."),
  last_ping_at: nullableTime.describe('When Cal.com\'s "Ping test" last reached us.'),
  deliveries: z.strictObject({
    last_delivery_at: nullableTime,
    usual_gap_ms: z.number().nullable(),
    silence_threshold_ms: z.number().nullable(),
    silent: z.boolean().describe("No delivery for longer than usual: Cal.com may have stopped sending."),
  }),
  reconciliation: z.strictObject({
    api_key_state: z.enum(["unchecked", "ok", "rejected"]).nullable(),
    last_pass_at: nullableTime,
    last_pass_ok: z.boolean().nullable(),
    missed_webhooks: z.number().int(),
  }).nullable().describe("Reading Cal.com's bookings with its API key (null: none was given)."),
}).meta({ id: "Connection", description: "The client's Cal.com connection, read-only." });

// ---- inputs --------------------------------------------------------------------------------

/** The feed's query: where to read from, how much, how long to wait for something new. */
export const FeedQuery = {
  cursor: z.string().optional().describe(
    "The `next_cursor` of the page before (absent: the oldest entry kept).",
  ),
  limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).optional().describe("Entries per page (default 100)."),
  wait: z.number().min(0).max(MAX_WAIT_SECONDS).optional().describe(
    "Seconds to hold an empty page open until an entry is committed (default 0: answer at once).",
  ),
};

export const PageQuery = {
  limit: z.number().int().min(1).max(MAX_PAGE_LIMIT).optional().describe("Items per page (default 50)."),
  cursor: z.string().optional().describe("The `cursor` of the page before."),
};

export const JobsQuery = z.strictObject({
  ...PageQuery,
  status: JobStatus.optional(),
  email: z.string().optional().describe("Jobs any of whose attendees has this email."),
  calcom_event_id: z.string().optional().describe("The Job of this booking uid (current or previous)."),
  start_from: z.string().optional().describe("Jobs that start at or after this ISO time."),
  start_before: z.string().optional().describe("Jobs that start before this ISO time."),
});

export const EndpointFields = {
  url: z.string().describe("https://… (a private address is refused unless the operator allows it)."),
  event_types: z.array(ChangeType).nullable().describe("Only these change types (null or absent: all)."),
  description: z.string().max(500).nullable(),
};

export type JobAnswer = z.infer<typeof Job>;
export type ContactAnswer = z.infer<typeof Contact>;
export type ChangeEntryAnswer = z.infer<typeof ChangeEntry>;
export type EndpointAnswer = z.infer<typeof Endpoint>;
export type AttemptAnswer = z.infer<typeof Attempt>;
