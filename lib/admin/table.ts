/**
 * The one table of admin operations: for each, how it is reached (HTTP method and path, the query
 * and body fields it reads, its answer), how the CLI names it, and which `AdminOperations` method
 * runs it. The HTTP routes (`http/admin.ts`), the CLI (`cli/admin.ts`, locally and against a running
 * service through `client.ts`) and the dashboard's API client (served as `/admin/assets/api.json`)
 * are all built from it, so a new operation is its method and one row here (ARCHITECTURE.md has a
 * worked example).
 */
import type { TokenScope } from "../domain/tokens.ts";
import type { AdminOperations } from "./operations.ts";

/** An operation's input as every adapter hands it over: strings from the path and query, a JSON body. */
export interface OperationInput {
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  body: Record<string, unknown>;
  /** Aborts when the caller goes away (a long-poll stops waiting). */
  signal?: AbortSignal;
}

/** How the CLI offers an operation. */
export interface CliSpec {
  /** The command words, e.g. "client add". Several rows may share one: see `selectedBy`. */
  command: string;
  /**
   * Positional names, one per path parameter in order (e.g. ["slug", "job-id"]); one written
   * "=word" is that word typed literally, which picks this row among rows of the same command.
   */
  args?: readonly string[];
  summary: string;
  /** Columns of the table shown for a listing's items. */
  columns?: readonly string[];
  /** A boolean flag that picks this row among rows of the same command (e.g. `submission --body`). */
  selectedBy?: string;
  /** Query fields that must be given (the command is refused without them). */
  required?: readonly string[];
  /** Destroys data: refused without --yes (or a typed confirmation), and says what. */
  confirm?: string;
  /** CLI flag → field, where the flag is not the field's name with `-` for `_`. */
  flags?: Readonly<Record<string, string>>;
  /** Fields the CLI fills in itself (e.g. `erase: "true"`: the confirmation is --yes). */
  fixed?: Readonly<Record<string, string>>;
}

export interface Operation {
  method: "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
  /**
   * A row of the client API (`/api/v1/clients/:slug/…`): a client token of that client with this
   * scope may call it, as may the admin token. Rows without are the admin API's.
   */
  scope?: TokenScope;
  /** A URLPattern pathname; `:name` parts become `params`. */
  path: string;
  /** Query fields the operation reads. */
  query?: readonly string[];
  /** Fields of the JSON object body it reads (an empty body is `{}`). */
  body?: readonly string[];
  /** The answer's status: fixed, or chosen from the result (default 200). */
  status?: number | ((result: never) => number);
  /** "csv": the result is `{filename, csv}`, answered as a file. */
  answer?: "json" | "csv";
  cli?: CliSpec;
  run: (ops: AdminOperations, input: OperationInput) => Promise<unknown>;
}

const PAGE = ["limit", "cursor"] as const;
const ENDPOINT_FIELDS = ["url", "event_types", "description"] as const;

/**
 * Outbound endpoints, managed by the operator (`/admin/…`, with a CLI command each) and by the
 * client's own systems with an `endpoints:write` token (the same rows under `/api/v1/…`).
 */
const ENDPOINT_OPERATIONS = {
  createEndpoint: {
    method: "POST",
    path: "/admin/clients/:slug/endpoints",
    body: ENDPOINT_FIELDS,
    status: 201,
    cli: {
      command: "endpoint add",
      args: ["slug"],
      summary:
        "an outbound webhook endpoint (--endpoint-url https://…, --event-types job.created,job.cancelled, --description); its whsec_ secret is printed once",
      flags: { "endpoint-url": "url" },
    },
    run: (ops, { params, body }) => ops.createEndpoint(params.slug, body),
  },
  listEndpoints: {
    method: "GET",
    path: "/admin/clients/:slug/endpoints",
    cli: {
      command: "endpoint list",
      args: ["slug"],
      summary: "a client's endpoints: state, last success, failing since, backlog",
      columns: ["id", "url", "state", "last_success_at", "failing_since", "backlog"],
    },
    run: (ops, { params }) => ops.listEndpoints(params.slug),
  },
  getEndpoint: {
    method: "GET",
    path: "/admin/clients/:slug/endpoints/:id",
    cli: { command: "endpoint show", args: ["slug", "endpoint-id"], summary: "one endpoint" },
    run: (ops, { params }) => ops.getEndpoint(params.slug, params.id),
  },
  updateEndpoint: {
    method: "PATCH",
    path: "/admin/clients/:slug/endpoints/:id",
    body: [...ENDPOINT_FIELDS, "state"],
    cli: {
      command: "endpoint update",
      args: ["slug", "endpoint-id"],
      summary:
        "change an endpoint's --endpoint-url, --event-types, --description, or --state active|disabled",
      flags: { "endpoint-url": "url" },
    },
    run: (ops, { params, body }) => ops.updateEndpoint(params.slug, params.id, body),
  },
  deleteEndpoint: {
    method: "DELETE",
    path: "/admin/clients/:slug/endpoints/:id",
    cli: {
      command: "endpoint remove",
      args: ["slug", "endpoint-id"],
      summary: "delete an endpoint",
      confirm: "deletes the endpoint and its attempt log",
    },
    run: (ops, { params }) => ops.deleteEndpoint(params.slug, params.id),
  },
  rotateEndpointSecret: {
    method: "POST",
    path: "/admin/clients/:slug/endpoints/:id/rotate-secret",
    cli: {
      command: "endpoint rotate",
      args: ["slug", "endpoint-id"],
      summary: "a new secret, printed once (the old one signs too for 24 h)",
    },
    run: (ops, { params }) => ops.rotateEndpointSecret(params.slug, params.id),
  },
  recoverEndpoint: {
    method: "POST",
    path: "/admin/clients/:slug/endpoints/:id/recover",
    body: ["since"],
    cli: {
      command: "endpoint recover",
      args: ["slug", "endpoint-id"],
      summary: "deliver again everything since --since ISO (and enable the endpoint)",
    },
    run: (ops, { params, body }) => ops.recoverEndpoint(params.slug, params.id, body),
  },
  endpointAttempts: {
    method: "GET",
    path: "/admin/clients/:slug/endpoints/:id/attempts",
    query: PAGE,
    cli: {
      command: "endpoint attempts",
      args: ["slug", "endpoint-id"],
      summary: "an endpoint's delivery attempts, newest first",
      columns: ["at", "event_id", "type", "attempt", "status", "error", "duration_ms", "next_retry_at"],
    },
    run: (ops, { params, query }) => ops.endpointAttempts(params.slug, params.id, page(query)),
  },
  resendToEndpoint: {
    method: "POST",
    path: "/admin/clients/:slug/endpoints/:id/attempts/:eventId/resend",
    cli: {
      command: "endpoint resend",
      args: ["slug", "endpoint-id", "event-id"],
      summary: "send one event to the endpoint again now",
    },
    run: (ops, { params }) => ops.resendToEndpoint(params.slug, params.id, params.eventId),
  },
} satisfies Record<string, Operation>;

/** The endpoint rows again under the client API, for a token with `endpoints:write`. */
const CLIENT_ENDPOINT_OPERATIONS: Record<string, Operation> = Object.fromEntries(
  Object.entries(ENDPOINT_OPERATIONS as Record<string, Operation>).map(([name, op]) => [
    `api${name[0].toUpperCase()}${name.slice(1)}`,
    {
      ...op,
      path: op.path.replace("/admin/clients/", "/api/v1/clients/"),
      scope: "endpoints:write",
      cli: undefined,
    },
  ]),
);
const CLIENT_FIELDS = [
  "name",
  "secret",
  "calcom_api_key",
  "calcom_api_url",
  "time_zone",
  "silence_days",
] as const;
const CLIENT_FLAGS = { "api-key": "calcom_api_key", "api-url": "calcom_api_url" } as const;
const page = (q: OperationInput["query"]) => ({ limit: q.limit, cursor: q.cursor });

export const OPERATIONS = {
  listClients: {
    method: "GET",
    path: "/admin/clients",
    cli: {
      command: "client list",
      summary: "list clients (never shows secrets or API keys)",
      columns: ["slug", "name", "webhook_path", "has_api_key", "problems"],
    },
    run: (ops) => ops.listClients(),
  },
  createClient: {
    method: "POST",
    path: "/admin/clients",
    body: ["slug", ...CLIENT_FIELDS],
    status: 201,
    cli: {
      command: "client add",
      args: ["slug"],
      summary:
        'create a client (its new secret is printed once; an existing slug is refused: use "client update"); --api-key sets its Cal.com API key (never shown again), --api-url for EU/self-hosted Cal.com',
      flags: CLIENT_FLAGS,
    },
    run: (ops, { body }) => ops.createClient(body),
  },
  putClient: {
    method: "PUT",
    path: "/admin/clients/:slug",
    body: CLIENT_FIELDS,
    status: (result: { created: boolean }) => (result.created ? 201 : 200),
    run: (ops, { params, body }) => ops.putClient(params.slug, body),
  },
  updateClient: {
    method: "PATCH",
    path: "/admin/clients/:slug",
    body: CLIENT_FIELDS,
    cli: {
      command: "client update",
      args: ["slug"],
      summary:
        'change a client\'s name, time zone, silence alarm or Cal.com API access (--api-key ""  removes the key); --secret adds that secret',
      flags: CLIENT_FLAGS,
    },
    run: (ops, { params, body }) => ops.updateClient(params.slug, body),
  },
  showClient: {
    method: "GET",
    path: "/admin/clients/:slug",
    cli: {
      command: "client show",
      args: ["slug"],
      summary: "one client: webhook URL, secret ids, last ping, reconciliation, problems",
    },
    run: (ops, { params }) => ops.showClient(params.slug),
  },
  deleteClient: {
    method: "DELETE",
    path: "/admin/clients/:slug",
    cli: {
      command: "client remove",
      args: ["slug"],
      summary: "delete a client and all of its data",
      confirm: "deletes the client and every Job, Contact and stored body of it",
    },
    run: (ops, { params }) => ops.deleteClient(params.slug),
  },
  clientOverview: {
    method: "GET",
    path: "/admin/clients/:slug/overview",
    cli: {
      command: "client overview",
      args: ["slug"],
      summary: "one client's numbers and health: Jobs/submissions by status, last delivery, silence",
    },
    run: (ops, { params }) => ops.clientOverview(params.slug),
  },
  connectCalcom: {
    method: "POST",
    path: "/admin/clients/:slug/calcom-webhook",
    cli: {
      command: "client connect",
      args: ["slug"],
      summary:
        "create (or correct) the client's webhook in Cal.com with its API key: our URL, every booking trigger, a fresh secret, no payload template, active",
    },
    run: (ops, { params }) => ops.connectCalcom(params.slug),
  },
  checkCalcom: {
    method: "POST",
    path: "/admin/clients/:slug/calcom-webhook/check",
    cli: {
      command: "client check",
      args: ["slug"],
      summary:
        "compare the client's webhook in Cal.com with what it should be now (reconciliation does it with every pass)",
    },
    run: (ops, { params }) => ops.checkCalcom(params.slug),
  },
  disconnectCalcom: {
    method: "DELETE",
    path: "/admin/clients/:slug/calcom-webhook",
    cli: {
      command: "client disconnect",
      args: ["slug"],
      summary: "remove the client's webhook from Cal.com (only one delivering to this service)",
      confirm:
        "removes the client's webhook from Cal.com: no booking reaches the service by webhook after it",
    },
    run: (ops, { params }) => ops.disconnectCalcom(params.slug),
  },
  addSecret: {
    method: "POST",
    path: "/admin/clients/:slug/secrets",
    body: ["secret"],
    status: 201,
    cli: { command: "secret add", args: ["slug"], summary: "add a secret (rotation); printed once" },
    run: (ops, { params, body }) => ops.addSecret(params.slug, body),
  },
  removeSecret: {
    method: "DELETE",
    path: "/admin/clients/:slug/secrets/:secretId",
    cli: {
      command: "secret remove",
      args: ["slug", "secret-id"],
      summary: "retire a secret (not the last one)",
    },
    run: (ops, { params }) => ops.removeSecret(params.slug, params.secretId),
  },
  listJobs: {
    method: "GET",
    path: "/admin/clients/:slug/jobs",
    query: [...PAGE, "status", "email", "calcom_event_id"],
    cli: {
      command: "jobs",
      args: ["slug"],
      summary: "a client's Jobs (filter by --status, --email of any attendee, or --calcom-event-id)",
      columns: ["id", "status", "start_time", "booker_email", "title", "calcom_event_id"],
    },
    run: (ops, { params, query }) =>
      ops.listJobs(params.slug, page(query), query.calcom_event_id, {
        status: query.status,
        email: query.email,
      }),
  },
  getJob: {
    method: "GET",
    path: "/admin/clients/:slug/jobs/:id",
    cli: { command: "job", args: ["slug", "job-id"], summary: "one Job" },
    run: (ops, { params }) => ops.getJob(params.slug, params.id),
  },
  jobTimeline: {
    method: "GET",
    path: "/admin/clients/:slug/jobs/:id/timeline",
    cli: {
      command: "timeline",
      args: ["slug", "job-id"],
      summary: "a Job's history: every webhook and API snapshot in Cal.com's time order and what it changed",
    },
    run: (ops, { params }) => ops.jobTimeline(params.slug, params.id),
  },
  listContacts: {
    method: "GET",
    path: "/admin/clients/:slug/contacts",
    query: PAGE,
    cli: {
      command: "contacts",
      args: ["slug"],
      summary: "a client's Contacts",
      columns: ["id", "email", "name", "phone", "time_zone"],
    },
    run: (ops, { params, query }) => ops.listContacts(params.slug, page(query)),
  },
  getContact: {
    method: "GET",
    path: "/admin/clients/:slug/contacts/:id",
    cli: { command: "contact", args: ["slug", "contact-id"], summary: "one Contact" },
    run: (ops, { params }) => ops.getContact(params.slug, params.id),
  },
  eraseContact: {
    method: "DELETE",
    path: "/admin/clients/:slug/contacts/:id",
    query: ["erase"],
    cli: {
      command: "erase",
      args: ["slug", "contact-id"],
      summary:
        "erase a person: the Contact, and their email, name and phone from every Job, event and stored body (cannot be undone; scrubbed bodies cannot be replayed)",
      confirm: "erases this person from every Job, event and stored body of the client, for good",
      fixed: { erase: "true" },
    },
    run: (ops, { params, query }) => ops.eraseContact(params.slug, params.id, query.erase),
  },
  listSubmissions: {
    method: "GET",
    path: "/admin/clients/:slug/submissions",
    query: [...PAGE, "status"],
    cli: {
      command: "submissions",
      args: ["slug"],
      summary: "a client's submissions (--status pending|processed|ignored|failed|quarantined)",
      columns: ["id", "status", "event_type", "booking_uid", "received_at", "error"],
    },
    run: (ops, { params, query }) =>
      ops.listSubmissions(params.slug, { ...page(query), status: query.status }),
  },
  getSubmission: {
    method: "GET",
    path: "/admin/clients/:slug/submissions/:id",
    cli: { command: "submission", args: ["slug", "submission-id"], summary: "one submission" },
    run: (ops, { params }) => ops.getSubmission(params.slug, params.id),
  },
  submissionDetail: {
    method: "GET",
    path: "/admin/clients/:slug/submissions/:id/body",
    cli: {
      command: "submission",
      args: ["slug", "submission-id"],
      selectedBy: "body",
      summary: "one submission with its raw body, secrets redacted",
    },
    run: (ops, { params }) => ops.submissionDetail(params.slug, params.id),
  },
  replayOne: {
    method: "POST",
    path: "/admin/clients/:slug/submissions/:id/replay",
    cli: {
      command: "replay",
      args: ["slug", "submission-id"],
      summary: "re-run one submission with today's code",
    },
    run: (ops, { params }) => ops.replayOne(params.slug, params.id),
  },
  replayAll: {
    method: "POST",
    path: "/admin/clients/:slug/replay",
    query: ["status"],
    cli: {
      command: "replay",
      args: ["slug"],
      required: ["status"],
      summary: "re-run every submission of the client with that --status (e.g. failed)",
    },
    run: (ops, { params, query }) => ops.replayAll(params.slug, query.status),
  },
  exportJobs: {
    method: "GET",
    path: "/admin/clients/:slug/jobs.csv",
    answer: "csv",
    cli: {
      command: "export",
      args: ["slug", "=jobs"],
      summary: "a client's Jobs as CSV (to stdout, or --out FILE)",
    },
    run: (ops, { params }) => ops.exportCsv(params.slug, "jobs"),
  },
  exportContacts: {
    method: "GET",
    path: "/admin/clients/:slug/contacts.csv",
    answer: "csv",
    cli: {
      command: "export",
      args: ["slug", "=contacts"],
      summary: "a client's Contacts as CSV (to stdout, or --out FILE)",
    },
    run: (ops, { params }) => ops.exportCsv(params.slug, "contacts"),
  },
  reconcile: {
    method: "POST",
    path: "/admin/clients/:slug/reconcile",
    cli: { command: "reconcile", args: ["slug"], summary: "one reconciliation pass with Cal.com's API now" },
    run: (ops, { params }) => ops.reconcile(params.slug),
  },
  missedWebhooks: {
    method: "GET",
    path: "/admin/clients/:slug/missed_webhooks",
    query: ["limit"],
    cli: {
      command: "missed-webhooks",
      args: ["slug"],
      summary: "bookings Cal.com's API showed that no webhook delivered",
      columns: ["uid", "booking_status", "booking_updated_at", "found_at", "job_id"],
    },
    run: (ops, { params, query }) => ops.missedWebhooks(params.slug, query.limit),
  },
  createToken: {
    method: "POST",
    path: "/admin/clients/:slug/tokens",
    body: ["name", "scopes", "expires_at"],
    status: 201,
    cli: {
      command: "token add",
      args: ["slug"],
      summary:
        "a client token for the client API (--name who uses it, --scopes jobs:read,contacts:read,changes:read,endpoints:write, --expires-at ISO); printed once",
    },
    run: (ops, { params, body }) => ops.createToken(params.slug, body),
  },
  listTokens: {
    method: "GET",
    path: "/admin/clients/:slug/tokens",
    cli: {
      command: "token list",
      args: ["slug"],
      summary: "a client's tokens (never their values)",
      columns: ["id", "name", "scopes", "created_at", "expires_at", "last_used_at"],
    },
    run: (ops, { params }) => ops.listTokens(params.slug),
  },
  revokeToken: {
    method: "DELETE",
    path: "/admin/clients/:slug/tokens/:tokenId",
    cli: { command: "token revoke", args: ["slug", "token-id"], summary: "revoke a client token at once" },
    run: (ops, { params }) => ops.revokeToken(params.slug, params.tokenId),
  },
  recentChanges: {
    method: "GET",
    path: "/admin/clients/:slug/changes",
    query: ["limit"],
    cli: {
      command: "changes",
      args: ["slug"],
      summary: "the newest entries of a client's change log, newest first",
      columns: ["occurred_at", "type", "job_id", "job_version", "id"],
    },
    run: (ops, { params, query }) => ops.recentChanges(params.slug, query.limit),
  },
  // ---- the client API: a client token of the client with the row's scope, or the admin token --
  apiChanges: {
    method: "GET",
    path: "/api/v1/clients/:slug/changes",
    scope: "changes:read",
    query: ["cursor", "limit", "wait"],
    run: (ops, input) =>
      ops.changes(input.params.slug, input.query, input.query.wait ? input.signal : undefined),
  },
  apiListJobs: {
    method: "GET",
    path: "/api/v1/clients/:slug/jobs",
    scope: "jobs:read",
    query: [...PAGE, "status", "email", "calcom_event_id"],
    run: (ops, { params, query }) =>
      ops.apiListJobs(params.slug, page(query), query.calcom_event_id, {
        status: query.status,
        email: query.email,
      }),
  },
  apiGetJob: {
    method: "GET",
    path: "/api/v1/clients/:slug/jobs/:id",
    scope: "jobs:read",
    run: (ops, { params }) => ops.getJob(params.slug, params.id),
  },
  apiListContacts: {
    method: "GET",
    path: "/api/v1/clients/:slug/contacts",
    scope: "contacts:read",
    query: PAGE,
    run: (ops, { params, query }) => ops.listContacts(params.slug, page(query)),
  },
  apiGetContact: {
    method: "GET",
    path: "/api/v1/clients/:slug/contacts/:id",
    scope: "contacts:read",
    run: (ops, { params }) => ops.getContact(params.slug, params.id),
  },
  deadLetters: {
    method: "GET",
    path: "/admin/dead_letters",
    cli: {
      command: "dead-letters",
      summary: "queue messages that exhausted their retries",
      columns: ["batch_id", "attempts", "dead_at", "handled_at"],
    },
    run: (ops) => ops.deadLetters(),
  },
  ...ENDPOINT_OPERATIONS,
  ...CLIENT_ENDPOINT_OPERATIONS,
} satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

/** Every row, typed as the general shape. */
export const OPERATION_LIST: readonly [OperationName, Operation][] = Object.entries(OPERATIONS) as [
  OperationName,
  Operation,
][];

/** The names of a path's `:params`, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z_]\w*)/g)].map((m) => m[1]);
}

/** The path with its params filled in (each encoded as one path segment). */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/:([A-Za-z_]\w*)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`Missing path parameter "${name}" for ${path}.`);
    return encodeURIComponent(value);
  });
}

/** What a browser or a remote client needs of the table: no code, only the shapes. */
export function publicTable(): Record<
  string,
  Omit<Operation, "run" | "status" | "cli" | "scope"> & { scope: TokenScope | null }
> {
  return Object.fromEntries(
    OPERATION_LIST.map(([name, op]) => [name, {
      method: op.method,
      path: op.path,
      scope: op.scope ?? null,
      query: op.query ?? [],
      body: op.body ?? [],
      answer: op.answer ?? "json",
    }]),
  );
}
