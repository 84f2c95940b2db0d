/**
 * The operator's API's answers as zod schemas, beside the client API's (`api/schemas.ts`, which
 * these reuse): clients and their health, secrets, overview, Cal.com connect, submissions, a Job's
 * timeline, tokens, replay, erase, reconciliation, missed webhooks and dead letters. The admin
 * OpenAPI document and the dashboard's JSDoc types come from here.
 */
import { z } from "zod";
import { SUBMISSION_STATUSES } from "../domain/submission.ts";
import { ChangeEntry, Job, PortalCapability, WebhookState } from "../api/schemas.ts";

const time = z.string();
const nullableTime = time.nullable();
const text = z.string().nullable();
const counts = z.record(z.string(), z.number().int()).describe("By status.");

export const SubmissionStatus = z.enum(SUBMISSION_STATUSES as unknown as [string, ...string[]]).meta({
  id: "SubmissionStatus",
});

export const Problem = z.strictObject({
  code: z.string(),
  message: z.string().describe("What is wrong and how to fix it."),
}).meta({ id: "Problem" });

export const SecretSummary = z.strictObject({ id: z.string(), created_at: time, weak: z.boolean() }).meta({
  id: "SecretSummary",
});

export const IssuedSecret = z.strictObject({
  id: z.string(),
  secret: z.string().describe("Shown this once."),
  created_at: time,
  weak: z.boolean(),
}).meta({ id: "IssuedSecret" });

export const Ping = z.strictObject({ at: time, signature_valid: z.boolean(), secret_id: text }).meta({
  id: "Ping",
});

const silenceFields = {
  last_delivery_at: nullableTime,
  usual_gap_ms: z.number().nullable(),
  silence_threshold_ms: z.number().nullable(),
  silent: z.boolean(),
};

export const PassSummary = z.strictObject({
  fetched: z.number().int(),
  created: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  missed_webhooks: z.number().int(),
});

const ApiKeyState = z.enum(["unchecked", "ok", "rejected"]);

export const Client = z.strictObject({
  slug: z.string(),
  name: text,
  calcom_api_url: z.string(),
  time_zone: text.optional(),
  silence_days: z.number().int().nullable().optional(),
  write_back: z.boolean().optional(),
  created_at: time,
  updated_at: time,
  webhook_path: z.string().describe("Where Cal.com delivers: PUBLIC_URL + this."),
  webhook_url: text.describe("The full URL to paste into Cal.com (null: PUBLIC_URL is not set)."),
  webhook_url_problem: text,
  secrets: z.array(SecretSummary),
  secret_ids: z.array(z.string()),
  last_ping: Ping.nullable(),
  has_api_key: z.boolean(),
  webhook_version: text,
  payload_template_detected: z.strictObject({ at: time, submission_id: text, message: z.string() })
    .nullable(),
  api_key_state: ApiKeyState.nullable(),
  missed_webhooks: z.number().int(),
  calcom_webhook: z.strictObject({
    state: WebhookState,
    webhook_id: text,
    missing_triggers: z.array(z.string()),
    checked_at: nullableTime,
    connected_at: nullableTime,
    error: text,
  }).nullable(),
  activity: z.strictObject({
    jobs_by_status: counts,
    submissions_by_status: counts,
    contacts: z.number().int(),
    signature_failures: z.number().int(),
    ...silenceFields,
  }),
  reconciliation: z.strictObject({
    api_key_state: ApiKeyState.nullable(),
    checkpoint: nullableTime,
    last_pass: z.strictObject({ ...PassSummary.shape, started_at: time, finished_at: time, ok: z.boolean() })
      .nullable(),
    error: text,
    missed_webhooks: z.number().int(),
  }),
  problems: z.array(Problem).describe("Everything wrong with the client, each with its fix."),
}).meta({
  id: "Client",
  description: "A client as the operator sees it: never a secret's value or the API key.",
});

export const ClientsPage = z.strictObject({ items: z.array(Client), cursor: z.null() }).meta({
  id: "ClientsPage",
});

export const PutClientAnswer = z.strictObject({
  created: z.boolean(),
  client: Client,
  secret: IssuedSecret.optional().describe("The new or given secret, shown once."),
}).meta({ id: "PutClientAnswer" });

export const Overview = z.strictObject({
  slug: z.string(),
  jobs_by_status: counts,
  contacts: z.number().int(),
  submissions_by_status: counts,
  signature_failures: z.number().int(),
  last_ping: Ping.nullable(),
  ...silenceFields,
}).meta({ id: "Overview" });

export const ConnectAnswer = z.strictObject({
  action: z.enum(["created", "updated", "unchanged"]),
  webhook_id: z.string(),
  subscriber_url: z.string(),
  changed: z.array(z.string()),
  triggers: z.array(z.string()),
  new_secret_id: text,
  repaired_delivery: z.boolean(),
  message: z.string(),
}).meta({ id: "ConnectAnswer" });

export const CalcomWebhookRecord = z.strictObject({
  webhook_id: text,
  state: WebhookState,
  problems: z.array(z.strictObject({ state: WebhookState, message: z.string() })),
  missing_triggers: z.array(z.string()),
  triggers: z.array(z.string()).nullable(),
  checked_at: nullableTime,
  connected_at: nullableTime,
  error: text,
  observed_at: nullableTime,
}).meta({ id: "CalcomWebhookRecord" });

export const Submission = z.strictObject({
  id: z.string(),
  client: z.string(),
  channel: z.enum(["calcom", "calcom_api"]),
  status: SubmissionStatus,
  error: text,
  received_at: time,
  processed_at: nullableTime,
  secret_id: z.string(),
  body_sha256: z.string(),
  body_bytes: z.number().int(),
  body_encoding: text.optional(),
  batch_id: text,
  job_ids: z.array(z.string()),
  attempts: z.number().int(),
  body_scrubbed_at: nullableTime.optional(),
  body_dropped_at: nullableTime.optional(),
  event_type: z.string(),
  booking_uid: text,
  title: text,
  start_time: nullableTime,
  end_time: nullableTime,
  attendee_name: text,
  attendee_email: text,
  attendee_time_zone: text,
  organizer_email: text,
  rescheduled_from_uid: text,
  cancellation_reason: text,
  created_at: nullableTime,
}).meta({ id: "Submission", description: "One delivery as received (its raw body is kept apart)." });

export const SubmissionsPage = z.strictObject({ items: z.array(Submission), cursor: z.string().nullable() })
  .meta({ id: "SubmissionsPage" });

export const SubmissionDetail = z.strictObject({
  submission: Submission,
  body_format: z.enum(["json", "text", "dropped"]),
  body: z.unknown().describe("The raw body with secrets redacted (null once dropped)."),
  replayable: z.boolean(),
  client_time_zone: text,
}).meta({ id: "SubmissionDetail" });

export const Timeline = z.strictObject({
  job: Job,
  client_time_zone: text,
  booker_time_zone: text,
  timeline: z.array(z.strictObject({
    at: time,
    kind: z.string(),
    source: z.enum(["webhook", "api"]),
    uid: z.string(),
    submission_id: z.string(),
    changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])),
  })),
}).meta({ id: "Timeline" });

export const ReplaySummary = z.strictObject({
  status: SubmissionStatus,
  replayed: z.number().int(),
  results: counts,
  errors: z.array(z.strictObject({ submission_id: z.string(), error: z.string() })),
}).meta({ id: "ReplaySummary" });

export const Erasure = z.strictObject({
  erased: z.strictObject({
    contact_id: z.string(),
    jobs_changed: z.array(z.string()),
    submissions_scrubbed: z.array(z.string()),
  }),
  note: z.string(),
}).meta({ id: "Erasure" });

export const PassResult = z.strictObject({
  ...PassSummary.shape,
  slug: z.string(),
  started_at: time,
  finished_at: time,
  checkpoint: nullableTime,
}).meta({ id: "PassResult" });

export const MissedWebhook = z.strictObject({
  uid: z.string(),
  job_id: text,
  booking_status: text,
  booking_updated_at: nullableTime,
  found_at: time,
}).meta({ id: "MissedWebhook" });

export const DeadLetter = z.strictObject({
  type: z.literal("process_batch"),
  batch_id: z.string(),
  refs: z.array(z.tuple([z.string(), z.string()]).readonly()).optional(),
  handled_at: time.optional(),
  attempts: z.number().int().optional(),
  dead_at: time.optional(),
}).meta({ id: "DeadLetter" });

/** A listing that is never paged (its `cursor` is always null). */
export function allOf<T extends z.ZodType>(item: T, id: string) {
  return z.strictObject({ items: z.array(item), cursor: z.null() }).meta({ id });
}

export const RecentChanges = allOf(ChangeEntry, "RecentChanges");

export type ClientAnswer = z.infer<typeof Client>;
export type OverviewAnswer = z.infer<typeof Overview>;
export type SubmissionAnswer = z.infer<typeof Submission>;
export type TimelineAnswer = z.infer<typeof Timeline>;
export type IssuedSecretAnswer = z.infer<typeof IssuedSecret>;

// ---- the client portal ------------------------------------------------------------------------

export const PortalLinkIssued = z.strictObject({
  id: z.string(),
  url: text.describe(
    "PUBLIC_URL/portal/#key=…: send it to the business; it opens once (null: PUBLIC_URL unset).",
  ),
  path: z.string().describe("The link under the service's address (the key is in the fragment)."),
  url_problem: text,
  capabilities: z.array(PortalCapability),
  link_expires_at: time.describe("Unopened by then, it opens nothing."),
  session_seconds: z.number().int().describe("How long the session lasts once opened."),
}).meta({ id: "PortalLinkIssued", description: "Answered once: the key is not kept, only its hash." });

export const PortalState = z.strictObject({
  sessions: z.array(z.strictObject({
    id: z.string(),
    link_id: z.string(),
    capabilities: z.array(PortalCapability),
    opened_at: time,
    expires_at: time,
  })),
  links: z.array(z.strictObject({
    id: z.string(),
    capabilities: z.array(PortalCapability),
    session_seconds: z.number().int(),
    created_at: time,
    expires_at: time,
  })).describe("Links made and not yet opened."),
}).meta({ id: "PortalState" });

export const PortalEnded = z.strictObject({
  ended_sessions: z.number().int(),
  voided_links: z.number().int(),
}).meta({ id: "PortalEnded" });

export const PortalAudit = z.strictObject({
  items: z.array(z.strictObject({
    id: z.string(),
    at: time,
    action: z.enum([
      "portal_link.created",
      "portal_link.opened",
      "portal_link.refused",
      "portal_sessions.ended",
    ]),
    link_id: text,
    session_id: text,
    capabilities: z.array(PortalCapability).nullable(),
    detail: text,
    source: z.string(),
  })),
}).meta({ id: "PortalAudit", description: "Newest first, kept 90 days." });
