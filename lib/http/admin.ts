/**
 * The admin API (`/admin/...`, `Authorization: Bearer $ADMIN_TOKEN`): each route reads its input
 * and answers what the shared admin operation returns. No answer ever carries a secret except
 * the one a call has just created.
 */
import { timingSafeEqual } from "node:crypto";
import type { AdminOperations, AdminSource } from "../admin/operations.ts";
import { HttpError } from "../errors.ts";
import type { Handler, RequestContext } from "./context.ts";
import { json } from "./errors.ts";
import type { Router } from "./router.ts";
import type { Metrics } from "../metrics.ts";

const MAX_ADMIN_BODY = 64 * 1024;

/** Sent by the dashboard's script and the CLI (`--url`), so audit lines say where a change came from. */
export const ADMIN_CLIENT_HEADER = "x-calcom-intake-client";

export function registerAdminRoutes(
  router: Router,
  admins: Record<AdminSource, AdminOperations>,
  adminToken: string | null,
  observability: { metrics: Metrics; metricsPublic: boolean },
): void {
  const guard = adminGuard(adminToken);
  const route = (
    method: string,
    path: string,
    handler: (ctx: RequestContext, admin: AdminOperations) => Promise<unknown>,
    status = 200,
  ) => {
    const guarded: Handler = async (ctx) => {
      ctx.slug = ctx.params.slug ?? null;
      await guard(ctx.req);
      const from = ctx.req.headers.get(ADMIN_CLIENT_HEADER);
      const admin = from === "dashboard" ? admins.dashboard : from === "cli" ? admins.cli : admins.api;
      const result = await handler(ctx, admin);
      return result instanceof Response ? result : json(status, result);
    };
    router.on(method, path, guarded);
  };
  const query = (ctx: RequestContext, name: string) => ctx.url.searchParams.get(name) ?? undefined;
  const page = (ctx: RequestContext) => ({ limit: query(ctx, "limit"), cursor: query(ctx, "cursor") });

  route("GET", "/admin/clients", (_ctx, admin) => admin.listClients());
  route("PUT", "/admin/clients/:slug", async (ctx, admin) => {
    const result = await admin.putClient(ctx.params.slug, await readJsonObject(ctx.req));
    return json(result.created ? 201 : 200, result);
  });
  route("GET", "/admin/clients/:slug", (ctx, admin) => admin.showClient(ctx.params.slug));
  route("DELETE", "/admin/clients/:slug", (ctx, admin) => admin.deleteClient(ctx.params.slug));
  route(
    "POST",
    "/admin/clients/:slug/secrets",
    async (ctx, admin) => admin.addSecret(ctx.params.slug, await readJsonObject(ctx.req)),
    201,
  );
  route(
    "DELETE",
    "/admin/clients/:slug/secrets/:secretId",
    (ctx, admin) => admin.removeSecret(ctx.params.slug, ctx.params.secretId),
  );

  route(
    "GET",
    "/admin/clients/:slug/jobs",
    (ctx, admin) =>
      admin.listJobs(ctx.params.slug, page(ctx), query(ctx, "calcom_event_id"), {
        status: query(ctx, "status"),
        email: query(ctx, "email"),
      }),
  );
  route("GET", "/admin/clients/:slug/overview", (ctx, admin) => admin.clientOverview(ctx.params.slug));
  route(
    "GET",
    "/admin/clients/:slug/jobs/:id/timeline",
    (ctx, admin) => admin.jobTimeline(ctx.params.slug, ctx.params.id),
  );
  route(
    "GET",
    "/admin/clients/:slug/submissions/:id/body",
    (ctx, admin) => admin.submissionDetail(ctx.params.slug, ctx.params.id),
  );
  route("GET", "/admin/clients/:slug/jobs/:id", (ctx, admin) => admin.getJob(ctx.params.slug, ctx.params.id));
  route(
    "GET",
    "/admin/clients/:slug/contacts",
    (ctx, admin) => admin.listContacts(ctx.params.slug, page(ctx)),
  );
  route(
    "GET",
    "/admin/clients/:slug/contacts/:id",
    (ctx, admin) => admin.getContact(ctx.params.slug, ctx.params.id),
  );
  route(
    "DELETE",
    "/admin/clients/:slug/contacts/:id",
    (ctx, admin) => admin.eraseContact(ctx.params.slug, ctx.params.id, query(ctx, "erase")),
  );
  route(
    "GET",
    "/admin/clients/:slug/submissions",
    (ctx, admin) => admin.listSubmissions(ctx.params.slug, { ...page(ctx), status: query(ctx, "status") }),
  );
  route(
    "GET",
    "/admin/clients/:slug/submissions/:id",
    (ctx, admin) => admin.getSubmission(ctx.params.slug, ctx.params.id),
  );
  route(
    "POST",
    "/admin/clients/:slug/submissions/:id/replay",
    (ctx, admin) => admin.replayOne(ctx.params.slug, ctx.params.id),
  );
  route(
    "POST",
    "/admin/clients/:slug/replay",
    (ctx, admin) => admin.replayAll(ctx.params.slug, query(ctx, "status")),
  );
  const csvRoute = (what: "jobs" | "contacts") =>
    route("GET", `/admin/clients/:slug/${what}.csv`, async (ctx, admin) => {
      const { filename, csv } = await admin.exportCsv(ctx.params.slug, what);
      return new Response(csv, {
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="${filename}"`,
        },
      });
    });
  csvRoute("jobs");
  csvRoute("contacts");
  route("POST", "/admin/clients/:slug/reconcile", (ctx, admin) => admin.reconcile(ctx.params.slug));
  route(
    "GET",
    "/admin/clients/:slug/missed_webhooks",
    (ctx, admin) => admin.missedWebhooks(ctx.params.slug, query(ctx, "limit")),
  );
  route("GET", "/admin/dead_letters", (_ctx, admin) => admin.deadLetters());

  // Prometheus text; behind the admin token unless METRICS_PUBLIC=1.
  router.on("GET", "/metrics", async (ctx) => {
    if (!observability.metricsPublic) await guard(ctx.req);
    const { metrics } = observability;
    return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
  });
}

function adminGuard(token: string | null): (req: Request) => Promise<void> {
  const expected = token ? digest(token) : null;
  return async (req) => {
    if (!expected) {
      throw new HttpError(
        503,
        "admin_disabled",
        "The admin API is disabled. Set the ADMIN_TOKEN environment variable and restart the service to enable it.",
      );
    }
    const header = req.headers.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = await digest(match?.[1] ?? "");
    if (!match || !timingSafeEqual(given, await expected)) {
      throw new HttpError(
        401,
        "unauthorized",
        "Send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>'.",
        { "www-authenticate": "Bearer" },
      );
    }
  };
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
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
