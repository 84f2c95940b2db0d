/**
 * The two browser apps, served by the same `Deno.serve` with no build step and nothing fetched from
 * the internet: the operator's dashboard at `/admin` (signs in with the admin token, reads the
 * admin API) and the client portal at `/portal/` (opened by a single-use link, reads the client
 * API with a session token). Both pages hold no data, share their scripts where the screens are the
 * same (`dashboard/`), and are sent with a strict Content-Security-Policy that allows only these
 * files, and no Referer.
 */
import { portalTable, publicTable } from "../admin/operations.ts";
import { EVENT_SUMMARIES } from "../api/openapi.ts";
import { webhookBody } from "../api/schemas.ts";
import { webhookUrlProblem } from "../calcom/webhooks_api.ts";
import { TRIGGERS } from "../calcom/triggers.ts";
import { CHANGE_TYPES } from "../domain/changes.ts";
import { JOB_STATUSES } from "../domain/job.ts";
import { deliveryBody, testEntry } from "../domain/outbound.ts";
import { SUBMISSION_STATUSES } from "../domain/submission.ts";
import { PORTAL_CAPABILITIES, TOKEN_SCOPES } from "../domain/tokens.ts";
import { z } from "zod";
import type { Router } from "./router.ts";

const JS = "text/javascript; charset=utf-8";
/** The files of `dashboard/` each app may load (the portal shares the screens it has in common). */
const SHARED = {
  "api.js": JS,
  "dom.js": JS,
  "endpoints.js": JS,
  "job_actions.js": JS,
  "app.css": "text/css; charset=utf-8",
};
const DASHBOARD_ASSETS: Record<string, string> = {
  ...SHARED,
  "app.js": JS,
  "clients.js": JS,
  "records.js": JS,
};
const PORTAL_ASSETS: Record<string, string> = { ...SHARED, "portal.js": JS };

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const read = (name: string) => Deno.readTextFile(new URL(`./dashboard/${name}`, import.meta.url));

/**
 * One app: its page at `base` (and `base/`), its files at `base/assets/…`, and `assets/api.json`:
 * the rows it calls (their shapes, no code) and what its screens offer, so the browser keeps no
 * copy of them.
 */
function registerApp(
  router: Router,
  app: { base: string; page: string; assets: Record<string, string>; meta: () => unknown; slash: boolean },
): void {
  let page: Promise<string> | null = null;
  const files = new Map<string, Promise<string>>();
  // Made when first asked for, not at start-up (the portal's carries a JSON schema per event type).
  let meta: string | null = null;
  router.on("GET", `${app.base}/assets/api.json`, () =>
    new Response(meta ??= JSON.stringify(app.meta()), {
      headers: { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS },
    }));
  const shell = async () =>
    new Response(await (page ??= read(app.page)), {
      headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS },
    });
  router.on("GET", `${app.base}/`, shell);
  // The portal's files are relative to its page (it works under a proxy's path): without the slash
  // they would resolve one level up, so the bare path points at the page (the fragment is kept).
  router.on(
    "GET",
    app.base,
    app.slash
      ? (ctx) =>
        new Response(null, {
          status: 308,
          headers: { location: `./${ctx.url.pathname.split("/").at(-1)}/`, ...SECURITY_HEADERS },
        })
      : shell,
  );
  router.on("GET", `${app.base}/assets/:file`, async (ctx) => {
    const name = ctx.params.file ?? "";
    const type = Object.hasOwn(app.assets, name) ? app.assets[name] : null;
    if (!type) return new Response("Not found", { status: 404 });
    if (!files.has(name)) files.set(name, read(name));
    return new Response(await files.get(name)!, { headers: { "content-type": type, ...SECURITY_HEADERS } });
  });
}

/**
 * The operator's dashboard. `publicUrl` (PUBLIC_URL) is what webhook URLs are shown under; null:
 * the address the page was opened at, with a note that Cal.com needs a public https URL.
 */
export function registerDashboard(router: Router, publicUrl: string | null): void {
  registerApp(router, {
    base: "/admin",
    page: "index.html",
    assets: DASHBOARD_ASSETS,
    slash: false,
    meta: () => ({
      operations: publicTable(),
      vocabulary: vocabulary(),
      session: {
        storage_key: "calcom-intake-admin-token",
        refused: "The admin token was refused. Sign in again.",
        client: "dashboard",
      },
      public_url: publicUrl,
      webhook_url_problem: webhookUrlProblem(publicUrl),
    }),
  });
}

/** The client portal: the client API's rows, and each `job.*` type with its schema and an example. */
export function registerPortal(router: Router): void {
  const now = Date.parse("2026-01-05T09:00:00.000Z");
  registerApp(router, {
    base: "/portal",
    page: "portal.html",
    assets: PORTAL_ASSETS,
    slash: true,
    meta: () => ({
      operations: portalTable(),
      vocabulary: vocabulary(),
      session: {
        storage_key: "calcom-intake-portal-session",
        refused: "This portal session has ended. Ask for a new portal link.",
      },
      capabilities: PORTAL_CAPABILITIES,
      event_types: CHANGE_TYPES.map((type) => ({
        type,
        summary: EVENT_SUMMARIES[type],
        schema: z.toJSONSchema(webhookBody(type), { io: "output", unrepresentable: "any" }),
        example: JSON.parse(deliveryBody(testEntry("your-business", type, now))),
      })),
    }),
  });
}

function vocabulary() {
  return {
    job_statuses: JOB_STATUSES,
    submission_statuses: SUBMISSION_STATUSES,
    triggers: Object.keys(TRIGGERS),
    token_scopes: TOKEN_SCOPES,
    change_types: CHANGE_TYPES,
  };
}
