/**
 * The routes of the operations table (`admin/table.ts`): the admin API (`/admin/...`, the admin
 * token) and the client API (`/api/v1/clients/{slug}/...`, a client token of that client with the
 * row's scope, or the admin token). Each route reads the path, the query fields and the JSON body
 * its row names and answers what the shared operation returns. No answer ever carries a secret
 * except the one a call has just created.
 */
import type { AccessControl } from "../admin/access.ts";
import type { AdminSource, OpsContext } from "../api/context.ts";
import { bodyFields, capabilityOf, queryFields } from "../api/operation.ts";
import { countedCall, countRefusal } from "../api/metrics.ts";
import { ADMIN_CLIENT_HEADER } from "../admin/client.ts";
import { OPERATION_LIST } from "../admin/table.ts";
import { adminApiDocument, runOperation } from "../admin/operations.ts";
import { clientApiDocument } from "../api/openapi.ts";
import { HttpError } from "../errors.ts";
import { json } from "./errors.ts";
import type { Router } from "./router.ts";
import type { Metrics } from "../metrics.ts";

const MAX_ADMIN_BODY = 64 * 1024;

export function registerAdminRoutes(
  router: Router,
  contexts: Record<AdminSource, OpsContext>,
  access: AccessControl,
  observability: { metrics: Metrics; metricsPublic: boolean; changeLogRetentionDays: number },
): void {
  const { metrics } = observability;
  for (const [, op] of OPERATION_LIST) {
    router.on(op.method, op.path, async (ctx) => {
      ctx.slug = ctx.params.slug ?? null;
      const authorization = ctx.req.headers.get("authorization");
      // The client API counts its requests by outcome (`api/metrics.ts`).
      const caller = op.public ? undefined : op.scope
        ? await countRefusal(
          metrics,
          null,
          () => access.client(authorization, ctx.params.slug ?? "", op.scope!, capabilityOf(op)),
        )
        : await access.admin(authorization);
      const from = ctx.req.headers.get(ADMIN_CLIENT_HEADER);
      const context = from === "dashboard"
        ? contexts.dashboard
        : from === "cli"
        ? contexts.cli
        : contexts.api;
      const params = Object.fromEntries(
        Object.entries(ctx.params).filter((e): e is [string, string] => e[1] !== undefined),
      );
      const answer = async () => {
        const query = Object.fromEntries(
          queryFields(op).map((name) => [name, ctx.url.searchParams.get(name) ?? undefined]),
        );
        const body = bodyFields(op) ? await readJsonObject(ctx.req) : {};
        // The signal is read only by an operation that waits (a long-poll): reading it makes Deno
        // watch the connection.
        return await runOperation(context, op, {
          params,
          query,
          body,
          caller,
          idempotencyKey: ctx.req.headers.get("idempotency-key") ?? undefined,
          get signal() {
            return ctx.req.signal;
          },
        });
      };
      const result = op.scope ? await countedCall(metrics, params.slug, answer) : await answer();
      if (op.csv) {
        const { filename, csv } = result as { filename: string; csv: string };
        return new Response(csv, {
          headers: {
            "content-type": "text/csv; charset=utf-8",
            "content-disposition": `attachment; filename="${filename}"`,
          },
        });
      }
      const status = typeof op.status === "function"
        ? (op.status as (r: unknown) => number)(result)
        : op.status;
      return json(status ?? 200, result);
    });
  }

  // The contracts, made once: the client API's is public (a business's developer reads it before
  // holding a token), the operator's behind the admin token.
  const clientDocument = JSON.stringify(clientApiDocument(observability.changeLogRetentionDays));
  const adminDocument = JSON.stringify(adminApiDocument());
  router.on("GET", "/api/v1/openapi.json", () => openApiAnswer(clientDocument));
  router.on("GET", "/admin/openapi.json", async (ctx) => {
    await access.admin(ctx.req.headers.get("authorization"));
    return openApiAnswer(adminDocument);
  });

  // Prometheus text; behind the admin token unless METRICS_PUBLIC=1.
  router.on("GET", "/metrics", async (ctx) => {
    if (!observability.metricsPublic) await access.admin(ctx.req.headers.get("authorization"));
    return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
  });
}

function openApiAnswer(document: string): Response {
  return new Response(document, {
    headers: { "content-type": "application/json; charset=utf-8", "access-control-allow-origin": "*" },
  });
}

/** The body as a JSON object; an empty body counts as `{}`. */
async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.length > MAX_ADMIN_BODY) {
    throw new HttpError(413, "body_too_large", "The request body is too large.");
  }
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", 'The body must be a JSON object, e.g. {"name": "Acme"}.');
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "invalid_json", 'The body must be a JSON object, e.g. {"name": "Acme"}.');
  }
  return value as Record<string, unknown>;
}
