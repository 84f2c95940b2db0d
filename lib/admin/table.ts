/**
 * The operator's table: every admin operation, once — how it is reached (method, path under
 * `/admin`, admin token), its input and answers as schemas (`schemas.ts`, `api/schemas.ts`), how
 * the CLI names it, and the function that runs it — beside the client API's rows (`api/table.ts`),
 * which the operator may call too. The HTTP routes (`http/admin.ts`), the CLI (locally and through
 * `client.ts`), the dashboard's API client (`/admin/assets/api.json`) and both OpenAPI documents are
 * built from `OPERATIONS` (`operations.ts` binds them), so a new operation is its function and one
 * row (ARCHITECTURE.md).
 */
import { z } from "zod";
import { op, type Operation } from "../api/operation.ts";
import {
  CLIENT_API_OPERATIONS,
  CLIENT_API_PREFIX,
  ENDPOINT_OPERATIONS,
  JOB_WRITE_OPERATIONS,
  TOKEN_OPERATIONS,
} from "../api/table.ts";
import {
  Contact,
  ContactsPage,
  Deleted,
  Job,
  JobsPage,
  JobsQuery,
  PageQuery,
  PortalCapability,
} from "../api/schemas.ts";
import { createPortalLinkOp, endPortalOp, listPortalOp, portalAuditOp } from "./portal.ts";
import { getContactOp, getJobOp, listContactsOp, listJobsOp } from "../api/records.ts";
import {
  addSecretOp,
  checkCalcomOp,
  clientOverviewOp,
  connectCalcomOp,
  createClientOp,
  deleteClientOp,
  disconnectCalcomOp,
  listClientsOp,
  putClientOp,
  removeSecretOp,
  showClientOp,
  updateClientOp,
} from "./clients.ts";
import {
  deadLettersOp,
  eraseContactOp,
  exportCsvOp,
  getSubmissionOp,
  jobTimelineOp,
  listSubmissionsOp,
  missedWebhooksOp,
  recentChangesOp,
  reconcileOp,
  replayAllOp,
  replayOneOp,
  submissionDetailOp,
} from "./records.ts";
import {
  allOf,
  CalcomWebhookRecord,
  Client,
  ClientsPage,
  ConnectAnswer,
  DeadLetter,
  Erasure,
  IssuedSecret,
  MissedWebhook,
  Overview,
  PassResult,
  PortalAudit,
  PortalEnded,
  PortalLinkIssued,
  PortalState,
  PutClientAnswer,
  RecentChanges,
  ReplaySummary,
  Submission,
  SubmissionDetail,
  SubmissionsPage,
  SubmissionStatus,
  Timeline,
} from "./schemas.ts";

export type { CliSpec, Operation, OperationInput } from "../api/operation.ts";
export { fillPath, pathParams } from "../api/operation.ts";

const CLIENT_FIELDS = {
  name: z.string().max(200).nullable().optional(),
  secret: z.string().optional().describe("Cal.com's signing secret for this client (absent: one is made)."),
  calcom_api_key: z.string().nullable().optional().describe(
    'cal_live_… ("" or null removes it); never shown again.',
  ),
  calcom_api_url: z.string().nullable().optional().describe("For EU or self-hosted Cal.com."),
  time_zone: z.string().nullable().optional().describe("IANA, e.g. Europe/Berlin: how times are shown."),
  silence_days: z.number().int().min(1).nullable().optional().describe(
    "Alarm after this many days without a delivery (null: when quieter than its usual gap).",
  ),
  write_back: z.boolean().optional().describe(
    "Let the client's systems cancel, reschedule, mark no-shows, confirm and decline its Jobs in Cal.com (jobs:write).",
  ),
};
const CLIENT_FLAGS = { "api-key": "calcom_api_key", "api-url": "calcom_api_url" } as const;
const PAGE = z.strictObject(PageQuery);
const LIMIT = z.strictObject({ limit: PageQuery.limit });
const CONFLICT_SLUG = { 409: "A client with this slug exists already." };
const CALCOM = {
  422: "calcom_api_key_rejected: Cal.com refused the client's API key; set a new one (the message says how).",
  502:
    "calcom_api_failed: Cal.com answered with an error or could not be reached; calcom_api_inconsistent: " +
    "its answers contradicted each other (the message says what it said and what to do).",
  503: "Connecting to Cal.com is not available here.",
};

/** The CLI command of each endpoint row the operator calls under `/admin`. */
const ENDPOINT_CLI: { [K in keyof typeof ENDPOINT_OPERATIONS]: Operation["cli"] } = {
  createEndpoint: {
    command: "endpoint add",
    args: ["slug"],
    summary:
      "an outbound webhook endpoint (--endpoint-url https://…, --event-types job.created,job.cancelled, --description); its whsec_ secret is printed once",
    flags: { "endpoint-url": "url" },
  },
  listEndpoints: {
    command: "endpoint list",
    args: ["slug"],
    columns: ["id", "url", "state", "last_success_at", "failing_since", "backlog"],
  },
  getEndpoint: { command: "endpoint show", args: ["slug", "endpoint-id"] },
  updateEndpoint: {
    command: "endpoint update",
    args: ["slug", "endpoint-id"],
    summary: "change an endpoint's --endpoint-url, --event-types, --description, or --state active|disabled",
    flags: { "endpoint-url": "url" },
  },
  deleteEndpoint: {
    command: "endpoint remove",
    args: ["slug", "endpoint-id"],
    confirm: "deletes the endpoint and its attempt log",
  },
  rotateEndpointSecret: { command: "endpoint rotate", args: ["slug", "endpoint-id"] },
  endpointSecret: { command: "endpoint secret", args: ["slug", "endpoint-id"] },
  recoverEndpoint: {
    command: "endpoint recover",
    args: ["slug", "endpoint-id"],
    summary: "deliver again everything since --since ISO (and enable the endpoint)",
  },
  endpointAttempts: {
    command: "endpoint attempts",
    args: ["slug", "endpoint-id"],
    columns: ["at", "event_id", "type", "attempt", "status", "error", "duration_ms", "next_retry_at"],
  },
  resendToEndpoint: { command: "endpoint resend", args: ["slug", "endpoint-id", "event-id"] },
  sendTestEvent: {
    command: "endpoint test",
    args: ["slug", "endpoint-id"],
    summary:
      "send a test event (--type job.cancelled; default job.created) to the endpoint now; never in the change log",
  },
};

/** The CLI command of each token row the operator calls under `/admin`. */
const TOKEN_CLI: { [K in keyof typeof TOKEN_OPERATIONS]: Operation["cli"] } = {
  createToken: {
    command: "token add",
    args: ["slug"],
    summary:
      "a client token for the client API (--name who uses it, --scopes jobs:read,contacts:read,changes:read,endpoints:write,tokens:write,jobs:write, --expires-at ISO); printed once",
  },
  listTokens: {
    command: "token list",
    args: ["slug"],
    columns: ["id", "name", "scopes", "created_at", "expires_at", "last_used_at"],
  },
  revokeToken: { command: "token revoke", args: ["slug", "token-id"] },
};

/** Client-API rows again under `/admin` (the admin token), each with its CLI command. */
function asAdminRows<T extends Record<string, Operation>>(
  rows: T,
  cli: { [K in keyof T]: Operation["cli"] },
): T {
  return Object.fromEntries(
    Object.entries(rows).map(([name, row]) => [name, {
      ...row,
      path: row.path.replace(CLIENT_API_PREFIX, "/admin/clients/:slug"),
      // The operator's copy: the admin token only (no scope, so no portal capability either).
      scope: undefined,
      capability: undefined,
      cli: cli[name as keyof T],
    }]),
  ) as unknown as T;
}

/** The CLI command of each write-back row the operator calls under `/admin`. */
const JOB_WRITE_CLI: { [K in keyof typeof JOB_WRITE_OPERATIONS]: Operation["cli"] } = {
  cancelJob: {
    command: "job cancel",
    args: ["slug", "job-id"],
    summary: "cancel the Job in Cal.com (--reason)",
  },
  rescheduleJob: {
    command: "job reschedule",
    args: ["slug", "job-id"],
    summary: "move the Job in Cal.com (--start ISO, --reason)",
  },
  noShowJob: {
    command: "job no-show",
    args: ["slug", "job-id"],
    summary: "mark no-shows in Cal.com (--attendees a@x.com,b@y.com, --host true)",
  },
  confirmJob: { command: "job confirm", args: ["slug", "job-id"] },
  declineJob: { command: "job decline", args: ["slug", "job-id"], summary: "decline the booking (--reason)" },
  jobSlots: {
    command: "slots",
    args: ["slug"],
    summary: "Cal.com's free slots (--start ISO --end ISO --event-type ID)",
    required: ["start", "end", "event_type"],
  },
};

const ADMIN_ENDPOINT_OPERATIONS = asAdminRows(ENDPOINT_OPERATIONS, ENDPOINT_CLI);
const ADMIN_JOB_WRITE_OPERATIONS = asAdminRows(JOB_WRITE_OPERATIONS, JOB_WRITE_CLI);
const ADMIN_TOKEN_OPERATIONS = asAdminRows(TOKEN_OPERATIONS, TOKEN_CLI);

export const ADMIN_OPERATIONS = {
  listClients: op({
    method: "GET",
    path: "/admin/clients",
    summary: "Every client (never a secret's value or an API key)",
    answer: ClientsPage,
    cli: { command: "client list", columns: ["slug", "name", "webhook_path", "has_api_key", "problems"] },
    run: listClientsOp,
  }),
  createClient: op({
    method: "POST",
    path: "/admin/clients",
    summary: "Create a client; its secret (given or new) is answered once",
    body: z.strictObject({ slug: z.string().describe("1–63 of a-z, 0-9 and -."), ...CLIENT_FIELDS }),
    answer: PutClientAnswer,
    status: 201,
    errors: CONFLICT_SLUG,
    cli: {
      command: "client add",
      args: ["slug"],
      summary:
        'create a client (its new secret is printed once; an existing slug is refused: use "client update"); --api-key sets its Cal.com API key (never shown again), --api-url for EU/self-hosted Cal.com',
      flags: CLIENT_FLAGS,
    },
    run: createClientOp,
  }),
  putClient: op({
    method: "PUT",
    path: "/admin/clients/:slug",
    summary: "Create or change a client (201 when created)",
    body: z.strictObject(CLIENT_FIELDS),
    answer: PutClientAnswer,
    status: (result) => (result.created ? 201 : 200),
    statuses: [200, 201],
    run: putClientOp,
  }),
  updateClient: op({
    method: "PATCH",
    path: "/admin/clients/:slug",
    summary: "Change a client's name, settings or Cal.com API access; a given secret is added",
    body: z.strictObject(CLIENT_FIELDS),
    answer: PutClientAnswer,
    cli: {
      command: "client update",
      args: ["slug"],
      summary:
        'change a client\'s name, time zone, silence alarm or Cal.com API access (--api-key ""  removes the key); --secret adds that secret',
      flags: CLIENT_FLAGS,
    },
    run: updateClientOp,
  }),
  showClient: op({
    method: "GET",
    path: "/admin/clients/:slug",
    summary: "One client: webhook URL, secret ids, last ping, reconciliation, problems",
    answer: Client,
    cli: { command: "client show", args: ["slug"] },
    run: showClientOp,
  }),
  deleteClient: op({
    method: "DELETE",
    path: "/admin/clients/:slug",
    summary: "Delete a client and all of its data",
    answer: Deleted,
    cli: {
      command: "client remove",
      args: ["slug"],
      confirm: "deletes the client and every Job, Contact and stored body of it",
    },
    run: deleteClientOp,
  }),
  clientOverview: op({
    method: "GET",
    path: "/admin/clients/:slug/overview",
    summary: "One client's numbers and health: Jobs/submissions by status, last delivery, silence",
    answer: Overview,
    cli: { command: "client overview", args: ["slug"] },
    run: clientOverviewOp,
  }),
  connectCalcom: op({
    method: "POST",
    path: "/admin/clients/:slug/calcom-webhook",
    summary: "Create (or correct) the client's webhook in Cal.com with its API key",
    description:
      "Our URL, every booking trigger, a fresh secret, no payload template, active. Where deliveries may have been lost, a reconciliation pass follows.",
    answer: ConnectAnswer,
    errors: { ...CALCOM, 409: "The client has no Cal.com API key, or PUBLIC_URL is not set." },
    cli: {
      command: "client connect",
      args: ["slug"],
      summary:
        "create (or correct) the client's webhook in Cal.com with its API key: our URL, every booking trigger, a fresh secret, no payload template, active",
    },
    run: connectCalcomOp,
  }),
  checkCalcom: op({
    method: "POST",
    path: "/admin/clients/:slug/calcom-webhook/check",
    summary: "Compare the client's webhook in Cal.com with what it should be now",
    description: "Reconciliation does it with every pass; this answers the state it recorded.",
    answer: CalcomWebhookRecord,
    errors: CALCOM,
    cli: {
      command: "client check",
      args: ["slug"],
      summary:
        "compare the client's webhook in Cal.com with what it should be now (reconciliation does it with every pass)",
    },
    run: checkCalcomOp,
  }),
  disconnectCalcom: op({
    method: "DELETE",
    path: "/admin/clients/:slug/calcom-webhook",
    summary: "Remove the client's webhook from Cal.com (only one delivering to this service)",
    answer: z.strictObject({ deleted: z.string(), subscriber_url: z.string() }),
    errors: CALCOM,
    cli: {
      command: "client disconnect",
      args: ["slug"],
      confirm:
        "removes the client's webhook from Cal.com: no booking reaches the service by webhook after it",
    },
    run: disconnectCalcomOp,
  }),
  addSecret: op({
    method: "POST",
    path: "/admin/clients/:slug/secrets",
    summary: "Add a secret (rotation); answered once",
    body: z.strictObject({ secret: CLIENT_FIELDS.secret }),
    answer: z.strictObject({ secret: IssuedSecret }),
    status: 201,
    cli: { command: "secret add", args: ["slug"] },
    run: addSecretOp,
  }),
  removeSecret: op({
    method: "DELETE",
    path: "/admin/clients/:slug/secrets/:secretId",
    summary: "Retire a secret (not the last one)",
    answer: z.strictObject({ removed: z.string() }),
    errors: { 409: "It is the client's only secret." },
    cli: { command: "secret remove", args: ["slug", "secret-id"] },
    run: removeSecretOp,
  }),
  listJobs: op({
    method: "GET",
    path: "/admin/clients/:slug/jobs",
    summary: "A client's Jobs (filter by status, any attendee's email, start time, or a booking uid)",
    query: JobsQuery,
    answer: JobsPage,
    cli: {
      command: "jobs",
      args: ["slug"],
      summary:
        "a client's Jobs (filter by --status, --email of any attendee, --start-from / --start-before ISO, or --calcom-event-id)",
      columns: ["id", "status", "start_time", "booker_email", "title", "calcom_event_id"],
    },
    run: listJobsOp,
  }),
  getJob: op({
    method: "GET",
    path: "/admin/clients/:slug/jobs/:id",
    summary: "One Job",
    answer: Job,
    cli: { command: "job", args: ["slug", "job-id"] },
    run: getJobOp,
  }),
  jobTimeline: op({
    method: "GET",
    path: "/admin/clients/:slug/jobs/:id/timeline",
    summary: "A Job's history: every webhook and API snapshot in Cal.com's time order and what it changed",
    answer: Timeline,
    cli: { command: "timeline", args: ["slug", "job-id"] },
    run: jobTimelineOp,
  }),
  listContacts: op({
    method: "GET",
    path: "/admin/clients/:slug/contacts",
    summary: "A client's Contacts",
    query: PAGE,
    answer: ContactsPage,
    cli: { command: "contacts", args: ["slug"], columns: ["id", "email", "name", "phone", "time_zone"] },
    run: listContactsOp,
  }),
  getContact: op({
    method: "GET",
    path: "/admin/clients/:slug/contacts/:id",
    summary: "One Contact",
    answer: Contact,
    cli: { command: "contact", args: ["slug", "contact-id"] },
    run: getContactOp,
  }),
  eraseContact: op({
    method: "DELETE",
    path: "/admin/clients/:slug/contacts/:id",
    summary: "Erase a person from every Job, event and stored body of the client (cannot be undone)",
    description: "Needs ?erase=true. The scrubbed raw bodies can no longer be replayed.",
    query: z.strictObject({ erase: z.literal("true").optional() }),
    answer: Erasure,
    cli: {
      command: "erase",
      args: ["slug", "contact-id"],
      summary:
        "erase a person: the Contact, and their email, name and phone from every Job, event and stored body (cannot be undone; scrubbed bodies cannot be replayed)",
      confirm: "erases this person from every Job, event and stored body of the client, for good",
      fixed: { erase: "true" },
    },
    run: eraseContactOp,
  }),
  listSubmissions: op({
    method: "GET",
    path: "/admin/clients/:slug/submissions",
    summary: "A client's submissions (deliveries as received)",
    query: z.strictObject({ ...PageQuery, status: SubmissionStatus.optional() }),
    answer: SubmissionsPage,
    cli: {
      command: "submissions",
      args: ["slug"],
      summary: "a client's submissions (--status pending|processed|ignored|failed|quarantined)",
      columns: ["id", "status", "event_type", "booking_uid", "received_at", "error"],
    },
    run: listSubmissionsOp,
  }),
  getSubmission: op({
    method: "GET",
    path: "/admin/clients/:slug/submissions/:id",
    summary: "One submission",
    answer: Submission,
    cli: { command: "submission", args: ["slug", "submission-id"] },
    run: getSubmissionOp,
  }),
  submissionDetail: op({
    method: "GET",
    path: "/admin/clients/:slug/submissions/:id/body",
    summary: "One submission with its raw body, secrets redacted",
    answer: SubmissionDetail,
    cli: { command: "submission", args: ["slug", "submission-id"], selectedBy: "body" },
    run: submissionDetailOp,
  }),
  replayOne: op({
    method: "POST",
    path: "/admin/clients/:slug/submissions/:id/replay",
    summary: "Re-run one submission with today's code",
    answer: Submission,
    errors: { 409: "Its raw body was scrubbed or dropped." },
    cli: { command: "replay", args: ["slug", "submission-id"] },
    run: replayOneOp,
  }),
  replayAll: op({
    method: "POST",
    path: "/admin/clients/:slug/replay",
    summary: "Re-run every submission of the client with a status (e.g. failed)",
    query: z.strictObject({ status: SubmissionStatus.optional() }),
    answer: ReplaySummary,
    cli: { command: "replay", args: ["slug"], required: ["status"] },
    run: replayAllOp,
  }),
  exportJobs: op({
    method: "GET",
    path: "/admin/clients/:slug/jobs.csv",
    summary: "A client's Jobs as CSV",
    answer: z.string(),
    csv: true,
    cli: {
      command: "export",
      args: ["slug", "=jobs"],
      summary: "a client's Jobs as CSV (to stdout, or --out FILE)",
    },
    run: (ctx, input) => exportCsvOp(ctx, { ...input, what: "jobs" }),
  }),
  exportContacts: op({
    method: "GET",
    path: "/admin/clients/:slug/contacts.csv",
    summary: "A client's Contacts as CSV",
    answer: z.string(),
    csv: true,
    cli: {
      command: "export",
      args: ["slug", "=contacts"],
      summary: "a client's Contacts as CSV (to stdout, or --out FILE)",
    },
    run: (ctx, input) => exportCsvOp(ctx, { ...input, what: "contacts" }),
  }),
  reconcile: op({
    method: "POST",
    path: "/admin/clients/:slug/reconcile",
    summary: "One reconciliation pass with Cal.com's API now",
    answer: PassResult,
    errors: CALCOM,
    cli: { command: "reconcile", args: ["slug"] },
    run: reconcileOp,
  }),
  missedWebhooks: op({
    method: "GET",
    path: "/admin/clients/:slug/missed_webhooks",
    summary: "Bookings Cal.com's API showed that no webhook delivered",
    query: LIMIT,
    answer: allOf(MissedWebhook, "MissedWebhooks"),
    cli: {
      command: "missed-webhooks",
      args: ["slug"],
      columns: ["uid", "booking_status", "booking_updated_at", "found_at", "job_id"],
    },
    run: missedWebhooksOp,
  }),
  recentChanges: op({
    method: "GET",
    path: "/admin/clients/:slug/changes",
    summary: "The newest entries of a client's change log, newest first",
    query: LIMIT,
    answer: RecentChanges,
    cli: {
      command: "changes",
      args: ["slug"],
      columns: ["occurred_at", "type", "job_id", "job_version", "id"],
    },
    run: recentChangesOp,
  }),
  deadLetters: op({
    method: "GET",
    path: "/admin/dead_letters",
    summary: "Queue messages that exhausted their retries",
    answer: allOf(DeadLetter, "DeadLetters"),
    cli: { command: "dead-letters", columns: ["batch_id", "attempts", "dead_at", "handled_at"] },
    run: deadLettersOp,
  }),
  createPortalLink: op({
    method: "POST",
    path: "/admin/clients/:slug/portal-links",
    summary: "A single-use link to the client portal, answered once",
    description:
      "Send the URL to the business. Opening it starts a session of `expires_in` seconds (default 24 h, at most " +
      "7 days) with these capabilities; the link opens once, and only within 24 h. The key is in the URL's " +
      "fragment: it reaches no server log or Referer.",
    body: z.strictObject({
      capabilities: z.array(PortalCapability).optional().describe("view is always given."),
      expires_in: z.number().int().optional().describe("The session's length in seconds (300 to 604800)."),
    }),
    answer: PortalLinkIssued,
    status: 201,
    cli: {
      command: "portal link",
      args: ["slug"],
      summary:
        "a single-use client portal link (--capabilities endpoints,secrets,replay,tokens; view is always given; --expires-in SECONDS, default 86400); printed once",
    },
    run: createPortalLinkOp,
  }),
  listPortalSessions: op({
    method: "GET",
    path: "/admin/clients/:slug/portal-sessions",
    summary: "The client's live portal sessions and unopened links",
    answer: PortalState,
    cli: { command: "portal sessions", args: ["slug"] },
    run: listPortalOp,
  }),
  endPortalSessions: op({
    method: "DELETE",
    path: "/admin/clients/:slug/portal-sessions",
    summary: "End every portal session of the client at once, and void its unopened links",
    answer: PortalEnded,
    cli: { command: "portal end", args: ["slug"], confirm: "signs the business out of every portal session" },
    run: endPortalOp,
  }),
  portalAudit: op({
    method: "GET",
    path: "/admin/clients/:slug/portal-audit",
    summary: "The client's portal audit: links made, opened and refused, sessions ended",
    query: LIMIT,
    answer: PortalAudit,
    cli: {
      command: "portal audit",
      args: ["slug"],
      columns: ["at", "action", "link_id", "session_id", "capabilities", "detail", "source"],
    },
    run: portalAuditOp,
  }),
  ...ADMIN_ENDPOINT_OPERATIONS,
  ...ADMIN_TOKEN_OPERATIONS,
  ...ADMIN_JOB_WRITE_OPERATIONS,
} satisfies Record<string, Operation>;

/** Every row: the operator's and the client API's. */
export const OPERATIONS = { ...ADMIN_OPERATIONS, ...CLIENT_API_OPERATIONS } satisfies Record<
  string,
  Operation
>;

export type OperationName = keyof typeof OPERATIONS;

/** Every row, typed as the general shape. */
export const OPERATION_LIST: readonly [OperationName, Operation][] = Object.entries(OPERATIONS) as [
  OperationName,
  Operation,
][];
