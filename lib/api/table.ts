/**
 * The client API's table: every route a business's own system may call under
 * `/api/v1/clients/{slug}/…` with a client token (`cit_…`) of that client holding the row's scope
 * (or with the admin token): the change feed, Jobs, Contacts, its outbound endpoints and its client
 * tokens. Each row
 * declares its input and answers as schemas (`schemas.ts`); the routes, the OpenAPI document and
 * the operator's copies of the endpoint rows (`admin/table.ts`) are made from it.
 */
import { z } from "zod";
import { op, type Operation } from "./operation.ts";
import { changesOp, clientJobsOp } from "./feed.ts";
import { getContactOp, getJobOp, listContactsOp } from "./records.ts";
import { createTokenOp, listTokensOp, revokeTokenOp } from "./tokens.ts";
import { connectionOp } from "./connection.ts";
import { endPortalSessionOp, openPortalSessionOp } from "./portal.ts";
import {
  createEndpointOp,
  deleteEndpointOp,
  endpointAttemptsOp,
  endpointSecretOp,
  getEndpointOp,
  listEndpointsOp,
  recoverEndpointOp,
  resendToEndpointOp,
  rotateEndpointSecretOp,
  sendTestEventOp,
  updateEndpointOp,
} from "./endpoints.ts";
import {
  Attempt,
  AttemptsPage,
  ChangesPage,
  ChangeType,
  ClientJobsPage,
  Connection,
  Contact,
  ContactsPage,
  Deleted,
  Endpoint as EndpointSchema,
  EndpointFields,
  EndpointSecrets,
  EndpointsPage,
  EndpointStateInput,
  EndpointWithSecret,
  FeedQuery,
  IssuedToken,
  Job,
  JobsQuery,
  PageQuery,
  PortalSessionOpened,
  RecoveringEndpoint,
  Slots,
  TokenScope,
  TokensPage,
  WriteBackAnswer,
} from "./schemas.ts";
import { slotsOp, writeBackOp } from "./write_back.ts";

export const CLIENT_API_PREFIX = "/api/v1/clients/:slug";

/** Outbound endpoints: rows of the client API, and (with a CLI command each) of the operator's. */
export const ENDPOINT_OPERATIONS = {
  createEndpoint: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/endpoints`,
    scope: "endpoints:write",
    summary: "Add an outbound webhook endpoint",
    description:
      "It gets every change committed from now on, signed per Standard Webhooks with its whsec_ secret, which this answer shows once.",
    body: z.strictObject({
      url: EndpointFields.url,
      event_types: EndpointFields.event_types.optional(),
      description: EndpointFields.description.optional(),
    }),
    answer: EndpointWithSecret,
    status: 201,
    run: createEndpointOp,
  }),
  listEndpoints: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/endpoints`,
    scope: "endpoints:write",
    capability: "view",
    summary: "A client's endpoints, with state, last success, failing since and backlog",
    answer: EndpointsPage,
    run: listEndpointsOp,
  }),
  getEndpoint: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/endpoints/:id`,
    scope: "endpoints:write",
    capability: "view",
    summary: "One endpoint",
    answer: EndpointSchema,
    run: getEndpointOp,
  }),
  endpointSecret: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/endpoints/:id/secret`,
    scope: "endpoints:write",
    capability: "secrets",
    summary: "An endpoint's signing secrets (each read is audited)",
    answer: EndpointSecrets,
    run: endpointSecretOp,
  }),
  updateEndpoint: op({
    method: "PATCH",
    path: `${CLIENT_API_PREFIX}/endpoints/:id`,
    scope: "endpoints:write",
    summary: "Change an endpoint's url, event types, description or state",
    description:
      "Enabled again (state active), it goes on from where it stopped: nothing it missed while disabled is skipped.",
    body: z.strictObject({
      url: EndpointFields.url.optional(),
      event_types: EndpointFields.event_types.optional(),
      description: EndpointFields.description.optional(),
      state: EndpointStateInput.optional(),
    }),
    answer: EndpointSchema,
    run: updateEndpointOp,
  }),
  deleteEndpoint: op({
    method: "DELETE",
    path: `${CLIENT_API_PREFIX}/endpoints/:id`,
    scope: "endpoints:write",
    summary: "Delete an endpoint and its attempt log",
    answer: Deleted,
    run: deleteEndpointOp,
  }),
  rotateEndpointSecret: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/endpoints/:id/rotate-secret`,
    scope: "endpoints:write",
    capability: "secrets",
    summary: "A new signing secret, shown once; the old one signs beside it for 24 h",
    answer: EndpointWithSecret,
    run: rotateEndpointSecretOp,
  }),
  recoverEndpoint: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/endpoints/:id/recover`,
    scope: "endpoints:write",
    capability: "replay",
    summary: "Deliver again everything committed since a time (and enable the endpoint)",
    description:
      "The change log keeps CHANGE_LOG_RETENTION_DAYS; a time before that starts at the oldest entry kept.",
    body: z.strictObject({ since: z.string().describe("An ISO 8601 time.") }),
    answer: RecoveringEndpoint,
    run: recoverEndpointOp,
  }),
  endpointAttempts: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/endpoints/:id/attempts`,
    scope: "endpoints:write",
    capability: "view",
    summary: "An endpoint's delivery attempts, newest first",
    query: z.strictObject(PageQuery),
    answer: AttemptsPage,
    run: endpointAttemptsOp,
  }),
  resendToEndpoint: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/endpoints/:id/attempts/:eventId/resend`,
    scope: "endpoints:write",
    capability: "replay",
    summary: "Send one event to the endpoint again now; answers the attempt",
    answer: Attempt,
    errors: { 503: "Outbound delivery does not run here." },
    run: resendToEndpointOp,
  }),
  sendTestEvent: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/endpoints/:id/test`,
    scope: "endpoints:write",
    summary: "Send a test event to the endpoint now; answers the attempt",
    description:
      'Made-up data with "test": true in the body and a webhook-id starting test_, signed like every delivery; ' +
      "recorded in the attempt log, never in the change log. The endpoint's position and retries are left alone.",
    body: z.strictObject({
      type: ChangeType.optional().describe("Which event to imitate (default job.created)."),
    }),
    answer: Attempt,
    errors: { 503: "Outbound delivery does not run here." },
    run: sendTestEventOp,
  }),
} satisfies Record<string, Operation>;

const WRITE_BACK_ERRORS = {
  403: "write_back_off: the operator has not turned write-back on for this client.",
  409:
    "calcom_refused (e.g. already cancelled, past, slot taken), idempotency_key_reused, in_progress, no_api_key.",
  422: "calcom_refused (Cal.com found the request invalid) or calcom_api_key_rejected.",
  429: "rate_limited: the client's Cal.com key is at its budget; Retry-After says when.",
  502: "calcom_unreachable: Cal.com did not answer; retry with the same Idempotency-Key after Retry-After.",
};
const WRITE_BACK_NOTE =
  "Requires an Idempotency-Key header: the same key and body answer the first answer again (kept 72 h), another " +
  "body with it answers 409, and a retry after a crash never acts twice in Cal.com. Accepted, the action is the " +
  "Job's pending_action (a job.updated change) until Cal.com's echo settles it.";

/** Write-back: a business's system acts on its Jobs in Cal.com (rows of the client API, and of the operator's). */
export const JOB_WRITE_OPERATIONS = {
  cancelJob: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/jobs/:id/cancel`,
    scope: "jobs:write",
    idempotent: true,
    summary: "Cancel the Job's booking in Cal.com",
    description: WRITE_BACK_NOTE,
    body: z.strictObject({ reason: z.string().max(500).optional() }),
    answer: WriteBackAnswer,
    errors: WRITE_BACK_ERRORS,
    run: writeBackOp("cancel"),
  }),
  rescheduleJob: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/jobs/:id/reschedule`,
    scope: "jobs:write",
    idempotent: true,
    summary: "Move the Job's booking to a new start in Cal.com",
    description: WRITE_BACK_NOTE + " Cal.com makes a new booking (uid); the Job follows it.",
    body: z.strictObject({
      start: z.string().describe("The new start, an ISO time (pick one from …/slots)."),
      reason: z.string().max(500).optional(),
    }),
    answer: WriteBackAnswer,
    errors: WRITE_BACK_ERRORS,
    run: writeBackOp("reschedule"),
  }),
  noShowJob: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/jobs/:id/no-show`,
    scope: "jobs:write",
    idempotent: true,
    summary: "Mark attendees (or the host) as no-shows in Cal.com",
    description: WRITE_BACK_NOTE,
    body: z.strictObject({
      attendees: z.array(z.string()).optional().describe("Attendees' emails."),
      host: z.boolean().optional(),
    }),
    answer: WriteBackAnswer,
    errors: WRITE_BACK_ERRORS,
    run: writeBackOp("no_show"),
  }),
  confirmJob: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/jobs/:id/confirm`,
    scope: "jobs:write",
    idempotent: true,
    summary: "Confirm a booking that awaits confirmation",
    description: WRITE_BACK_NOTE,
    body: z.strictObject({}),
    answer: WriteBackAnswer,
    errors: WRITE_BACK_ERRORS,
    run: writeBackOp("confirm"),
  }),
  declineJob: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/jobs/:id/decline`,
    scope: "jobs:write",
    idempotent: true,
    summary: "Decline a booking that awaits confirmation",
    description: WRITE_BACK_NOTE,
    body: z.strictObject({ reason: z.string().max(500).optional() }),
    answer: WriteBackAnswer,
    errors: WRITE_BACK_ERRORS,
    run: writeBackOp("decline"),
  }),
  jobSlots: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/slots`,
    scope: "jobs:write",
    summary: "Cal.com's free slots of an event type, for a reschedule (kept a minute)",
    query: z.strictObject({
      start: z.string().describe("ISO time."),
      end: z.string().describe("ISO time, at most 31 days after start."),
      event_type: z.string().describe("The Cal.com event type's id."),
    }),
    answer: Slots,
    errors: { 403: WRITE_BACK_ERRORS[403], 429: WRITE_BACK_ERRORS[429] },
    run: slotsOp,
  }),
} satisfies Record<string, Operation>;

/** Client tokens: rows of the client API (a token with tokens:write), and of the operator's. */
export const TOKEN_OPERATIONS = {
  createToken: op({
    method: "POST",
    path: `${CLIENT_API_PREFIX}/tokens`,
    scope: "tokens:write",
    summary: "A client token for the client API; its value is answered once",
    description:
      "Only its hash is kept. Made with a client token, it may hold only scopes that token holds, and expires " +
      "no later than it (by default: when it does).",
    body: z.strictObject({
      name: z.string().describe("Who uses it."),
      scopes: z.array(TokenScope),
      expires_at: z.string().nullable().optional(),
    }),
    answer: IssuedToken,
    status: 201,
    errors: { 403: "scope_not_held / expiry_beyond_own: more than the calling token may give." },
    run: createTokenOp,
  }),
  listTokens: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/tokens`,
    scope: "tokens:write",
    summary: "The client's tokens (never their values)",
    answer: TokensPage,
    run: listTokensOp,
  }),
  revokeToken: op({
    method: "DELETE",
    path: `${CLIENT_API_PREFIX}/tokens/:tokenId`,
    scope: "tokens:write",
    summary: "Revoke a client token at once",
    answer: z.strictObject({ revoked: z.string() }),
    run: revokeTokenOp,
  }),
} satisfies Record<string, Operation>;

/** A client-API name for a shared row: `createToken` → `apiCreateToken`. */
function apiNamed<T extends Record<string, Operation>>(rows: T) {
  return Object.fromEntries(
    Object.entries(rows).map(([name, row]) => [`api${name[0].toUpperCase()}${name.slice(1)}`, row]),
  ) as { [K in keyof T & string as `api${Capitalize<K>}`]: T[K] };
}

export const CLIENT_API_OPERATIONS = {
  apiChanges: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/changes`,
    scope: "changes:read",
    summary: "The client's change log after a cursor, oldest first",
    description:
      "Every change of every Job, once, in commit order. Start without a cursor (the oldest entry kept) or with the " +
      "`changes_cursor` of a Job listing; pass each answer's `next_cursor` to read on. With `wait`, an empty page is " +
      "held until an entry is committed. Entries are kept CHANGE_LOG_RETENTION_DAYS (default 30); a cursor older " +
      "than that answers 410 `cursor_expired` (copy the Jobs again, then follow from the listing's `changes_cursor`).",
    query: z.strictObject(FeedQuery),
    answer: ChangesPage,
    errors: { 410: "The cursor is older than the log's retention." },
    run: changesOp,
  }),
  apiListJobs: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/jobs`,
    scope: "jobs:read",
    summary: "The client's Jobs, newest first, with the change log's end as `changes_cursor`",
    query: JobsQuery,
    answer: ClientJobsPage,
    run: clientJobsOp,
  }),
  apiGetJob: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/jobs/:id`,
    scope: "jobs:read",
    summary: "One Job",
    answer: Job,
    run: getJobOp,
  }),
  apiListContacts: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/contacts`,
    scope: "contacts:read",
    summary: "The client's Contacts",
    query: z.strictObject(PageQuery),
    answer: ContactsPage,
    run: listContactsOp,
  }),
  apiGetContact: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/contacts/:id`,
    scope: "contacts:read",
    summary: "One Contact",
    answer: Contact,
    run: getContactOp,
  }),
  apiConnection: op({
    method: "GET",
    path: `${CLIENT_API_PREFIX}/connection`,
    scope: "jobs:read",
    summary: "The client's Cal.com connection: its webhook, deliveries and silence, reconciliation",
    answer: Connection,
    run: connectionOp,
  }),
  ...apiNamed(ENDPOINT_OPERATIONS),
  ...apiNamed(TOKEN_OPERATIONS),
  ...apiNamed(JOB_WRITE_OPERATIONS),
  apiOpenPortalSession: op({
    method: "POST",
    path: "/api/v1/portal/sessions",
    public: true,
    summary: "Open a portal session with a portal link's key (once per link)",
    description:
      "The key is the link's fragment (`#key=cpl_…`), sent in the body so it reaches no URL or log. The answer's " +
      "token calls this API as a client token does, within the link's capabilities, until `expires_at`.",
    body: z.strictObject({ key: z.string().describe("cpl_…: the key from the link's fragment.") }),
    answer: PortalSessionOpened,
    status: 201,
    errors: { 410: "portal_link_used / portal_link_expired: ask for a new link." },
    run: openPortalSessionOp,
  }),
  apiEndPortalSession: op({
    method: "DELETE",
    path: `${CLIENT_API_PREFIX}/portal/session`,
    scope: "jobs:read",
    summary: "End the calling portal session (sign out)",
    answer: z.strictObject({ ended: z.string() }),
    run: endPortalSessionOp,
  }),
} satisfies Record<string, Operation>;
