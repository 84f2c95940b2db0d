/**
 * The OpenAPI 3.1 documents, generated from the operations tables and their zod schemas (never
 * kept by hand): the client API's (`/api/v1/openapi.json`: every client route with the scope it
 * needs, and a `webhooks` entry per `job.*` event with its exact body and the Standard Webhooks
 * headers) and the operator's (`/admin/openapi.json`). The suite validates the documents and
 * checks every real answer and every delivered webhook against them.
 */
import { z } from "zod";
import { CHANGE_TYPES, type ChangeType } from "../domain/changes.ts";
import { PORTAL_CAPABILITIES, TOKEN_SCOPES } from "../domain/tokens.ts";
import { bodyFields, capabilityOf, type Operation, pathParams } from "./operation.ts";
import { ErrorAnswer, webhookBody } from "./schemas.ts";
import { CLIENT_API_OPERATIONS } from "./table.ts";

type Json = Record<string, unknown>;

export interface DocumentOptions {
  title: string;
  version: string;
  description: string;
  /** Rows by operationId. */
  operations: Readonly<Record<string, Operation>>;
  /** Include the `webhooks` section (the client API's document). */
  webhooks?: boolean;
}

export const EVENT_SUMMARIES: Record<ChangeType, string> = {
  "job.created": "A new Job: the first booking event of an appointment was applied.",
  "job.updated": "A Job changed without moving (a payment, a no-show, a new location, a confirmation…).",
  "job.rescheduled": "The appointment moved: a new booking uid and (usually) a new time.",
  "job.cancelled": "The appointment was cancelled.",
  "job.merged": "Two Jobs turned out to be one appointment; this one is now part of `merged_into`.",
  "job.erased":
    "A person was erased from the Job (a privacy request): which fields changed, never the old values.",
};

/** An OpenAPI 3.1 document of the rows (and, for the client API, its webhooks). */
export function openApiDocument(options: DocumentOptions): Json {
  const components = new Components();
  const errorRef = components.inline(ErrorAnswer, "output");
  const paths: Record<string, Record<string, Json>> = {};
  for (const [name, row] of Object.entries(options.operations)) {
    const path = row.path.replace(/:([A-Za-z_]\w*)/g, "{$1}");
    (paths[path] ??= {})[row.method.toLowerCase()] = operationObject(name, row, components, errorRef);
  }
  const document: Json = {
    openapi: "3.1.0",
    info: { title: options.title, version: options.version, description: options.description },
    paths,
    ...(options.webhooks ? { webhooks: webhooksSection(components) } : {}),
    components: {
      schemas: components.schemas,
      securitySchemes: {
        clientToken: {
          type: "http",
          scheme: "bearer",
          description:
            "A client token (cit_…) of the client in the path, holding the scope the route names. The operator creates it; it is shown once.",
        },
        portalSession: {
          type: "http",
          scheme: "bearer",
          description:
            "A client portal session's token (cps_…), answered by opening a portal link; it may call a route when it holds the capability the route names (x-portal-capability).",
        },
        adminToken: { type: "http", scheme: "bearer", description: "The service's ADMIN_TOKEN." },
      },
    },
  };
  return document;
}

function operationObject(name: string, row: Operation, components: Components, errorRef: Json): Json {
  const params = pathParams(row.path);
  const parameters = [
    ...params.map((p) => ({ name: p, in: "path", required: true, schema: { type: "string" } })),
    ...Object.entries(row.query?.shape ?? {}).map(([field, schema]) => {
      const json = components.inline(schema as z.ZodType, "input");
      const { description, ...rest } = json;
      return {
        name: field,
        in: "query",
        required: !(schema as z.ZodType).safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema: rest,
      };
    }),
  ];
  if (row.idempotent) {
    parameters.push({
      name: "Idempotency-Key",
      in: "header",
      required: true,
      description:
        "1–255 printable characters, new for each request (e.g. a UUID); a retry with the same key and body answers the first answer again.",
      schema: { type: "string" },
    });
  }
  const error = (description: string) => ({
    description,
    content: { "application/json": { schema: errorRef } },
  });
  const successes = row.statuses ?? [typeof row.status === "number" ? row.status : 200];
  const answer = row.csv
    ? { "text/csv": { schema: { type: "string" } } }
    : { "application/json": { schema: components.inline(row.answer, "output") } };
  const responses: Record<string, Json> = {};
  for (const status of successes) responses[String(status)] = { description: row.summary, content: answer };
  if (parameters.length > 0 || bodyFields(row)) {
    responses["400"] = error("The input is not valid: the message says which field and what to send.");
  }
  const capability = capabilityOf(row);
  if (!row.public) responses["401"] = error("No token, or a token that is not valid, expired or revoked.");
  if (row.scope) {
    responses["403"] = error(
      `The token lacks the scope ${row.scope}${
        capability ? `, or the portal session the capability ${capability}` : ""
      }.`,
    );
  }
  if (params.includes("slug")) {
    responses["404"] = error(
      "No such client (or not one this token may reach), or no such record of it.",
    );
  }
  if (bodyFields(row)) responses["413"] = error("The body is larger than 64 KiB.");
  for (const [status, when] of Object.entries(row.errors ?? {})) responses[status] = error(when);
  responses.default = error("Any other refusal or failure; the message says what to do.");
  return {
    operationId: name,
    summary: row.summary,
    ...(row.description ? { description: row.description } : {}),
    tags: [tagOf(row.path)],
    security: row.public
      ? []
      : row.scope
      ? [{ clientToken: [row.scope] }, ...(capability ? [{ portalSession: [] }] : []), { adminToken: [] }]
      : [{ adminToken: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(row.body
      ? {
        requestBody: {
          required: true,
          content: { "application/json": { schema: components.inline(row.body, "input") } },
        },
      }
      : {}),
    responses,
    ...(row.scope ? { "x-required-scope": row.scope } : {}),
    ...(capability ? { "x-portal-capability": capability } : {}),
  };
}

/** The resource a path is about: its first segment after the client (or after /admin). */
function tagOf(path: string): string {
  const rest = path.replace(/^\/api\/v1\/clients\/:slug\/?/, "").replace(/^\/admin\/clients\/:slug\/?/, "");
  if (rest === path) return path.split("/")[2] ?? "service";
  return (rest.split("/")[0] || "clients").replace(/\.csv$/, "");
}

function webhooksSection(components: Components): Json {
  const header = (name: string, description: string) => ({
    name,
    in: "header",
    required: true,
    description,
    schema: { type: "string" },
  });
  return Object.fromEntries(CHANGE_TYPES.map((type) => [type, {
    post: {
      operationId: `webhook.${type}`,
      summary: EVENT_SUMMARIES[type],
      description:
        "Delivered to each endpoint that subscribes to the type, signed per Standard Webhooks (https://www.standardwebhooks.com): " +
        "verify `webhook-signature` over `webhook-id.webhook-timestamp.body` with the endpoint's whsec_ secret (any library: " +
        "standardwebhooks, svix). Entries arrive in commit order per endpoint; a failed delivery is retried (about 3 days) before " +
        "the endpoint is disabled, and nothing it missed is lost (recover since a time). Deduplicate by `webhook-id`; apply a " +
        "change only if its `data.job_version` is newer than the one you hold.",
      parameters: [
        header("webhook-id", "The change-log entry's id (chg_…): the same on every retry and in the feed."),
        header("webhook-timestamp", "Unix seconds when this attempt was signed."),
        header(
          "webhook-signature",
          "Space-separated `v1,<base64 HMAC-SHA256>`, one per live secret (two for 24 h after a rotation).",
        ),
      ],
      requestBody: {
        required: true,
        content: { "application/json": { schema: components.inline(webhookBody(type), "output") } },
      },
      responses: {
        "2XX": { description: "Received. Any other answer (or none within 15 s) is retried." },
        "410": { description: "Answered by a receiver: that endpoint is disabled at once." },
      },
    },
  }]));
}

/**
 * The documents' `components.schemas`: each zod schema is converted (JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 uses) and its named parts (`.meta({ id })`) are hoisted here and referred to.
 */
class Components {
  readonly schemas: Record<string, Json> = {};

  inline(schema: z.ZodType, io: "input" | "output"): Json {
    const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
    const { $schema: _schema, $defs, ...top } = json;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
      this.schemas[id] = rewriteRefs(def) as Json;
    }
    return rewriteRefs(top) as Json;
  }
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      k === "$ref" && typeof v === "string"
        ? v.replace(/^#\/\$defs\//, "#/components/schemas/")
        : rewriteRefs(v),
    ]),
  );
}

/** The client API's document: its routes and its webhooks. */
export function clientApiDocument(changeLogRetentionDays: number): Json {
  return openApiDocument({
    title: "calcom-intake client API",
    version: "1.0.0",
    description: [
      "A business's Jobs (one per appointment, followed across reschedules) and Contacts (one per person, by email), " +
      "made from its Cal.com bookings, and every change to them: read by cursor from the change feed, or pushed as " +
      "signed `job.*` webhooks (see `webhooks`). Both carry the same entries with the same ids.",
      "",
      "**Tokens.** Every route takes `Authorization: Bearer cit_…`, a client token of the client in the path with the " +
      `scope the route names (${TOKEN_SCOPES.join(", ")}). Another ` +
      "client's token is answered 404, as if the client did not exist.",
      "",
      "**Portal sessions.** The client portal (`/portal/`) opens a session with a single-use link's key " +
      "(`POST /api/v1/portal/sessions`) and calls these same routes with its `cps_…` token, each within the " +
      `capability the route names (\`x-portal-capability\`: ${PORTAL_CAPABILITIES.join(", ")}).`,
      "",
      "**Cursors.** Listings answer `cursor` (null on the last page): pass it back to read the next page. The feed " +
      "answers `next_cursor`, which is always set: store it after applying a page and read from it next time. To copy " +
      "everything and then follow, list the Jobs first and follow the feed from the listing's `changes_cursor`: " +
      "nothing committed in between is missed. Entries are at-least-once: apply one only if its `job_version` is " +
      "newer than what you hold.",
      "",
      `**Retention.** The change log keeps ${changeLogRetentionDays} days (CHANGE_LOG_RETENTION_DAYS). A cursor older ` +
      "than that answers 410 `cursor_expired`: read the Jobs again and follow from the new `changes_cursor`.",
      "",
      '**Errors.** Every refusal is `{"error": {"code", "message"}}`; `code` is stable, `message` says what to do.',
    ].join("\n"),
    operations: CLIENT_API_OPERATIONS,
    webhooks: true,
  });
}
