/**
 * The admin API (`/admin/...`, `Authorization: Bearer $ADMIN_TOKEN`): one route per row of the
 * operations table (`admin/table.ts`), each reading the path, the query fields and the JSON body the
 * row names and answering what the shared admin operation returns. No answer ever carries a secret
 * except the one a call has just created.
 */
import { timingSafeEqual } from "node:crypto";
import type { AdminOperations, AdminSource } from "../admin/operations.ts";
import { ADMIN_CLIENT_HEADER } from "../admin/client.ts";
import { OPERATION_LIST } from "../admin/table.ts";
import { HttpError } from "../errors.ts";
import { json } from "./errors.ts";
import type { Router } from "./router.ts";
import type { Metrics } from "../metrics.ts";

const MAX_ADMIN_BODY = 64 * 1024;

export function registerAdminRoutes(
  router: Router,
  admins: Record<AdminSource, AdminOperations>,
  adminToken: string | null,
  observability: { metrics: Metrics; metricsPublic: boolean },
): void {
  const guard = adminGuard(adminToken);
  for (const [, op] of OPERATION_LIST) {
    router.on(op.method, op.path, async (ctx) => {
      ctx.slug = ctx.params.slug ?? null;
      await guard(ctx.req);
      const from = ctx.req.headers.get(ADMIN_CLIENT_HEADER);
      const admin = from === "dashboard" ? admins.dashboard : from === "cli" ? admins.cli : admins.api;
      const query = Object.fromEntries(
        (op.query ?? []).map((name) => [name, ctx.url.searchParams.get(name) ?? undefined]),
      );
      const body = op.body ? await readJsonObject(ctx.req) : {};
      const params = Object.fromEntries(
        Object.entries(ctx.params).filter((e): e is [string, string] => e[1] !== undefined),
      );
      const result = await op.run(admin, { params, query, body });
      if (op.answer === "csv") {
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
