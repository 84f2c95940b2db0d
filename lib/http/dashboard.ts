/**
 * The operator's dashboard at `/admin`: a page and its script and style, served by the same
 * `Deno.serve`, with no build step and nothing fetched from the internet. The page holds no data:
 * the script signs in with the admin token and reads everything from the admin API. A strict
 * Content-Security-Policy allows only these files.
 */
import { publicTable } from "../admin/operations.ts";
import { webhookUrlProblem } from "../calcom/webhooks_api.ts";
import { TRIGGERS } from "../calcom/triggers.ts";
import { JOB_STATUSES } from "../domain/job.ts";
import { SUBMISSION_STATUSES } from "../domain/submission.ts";
import { TOKEN_SCOPES } from "../domain/tokens.ts";
import type { Router } from "./router.ts";

const JS = "text/javascript; charset=utf-8";
const ASSETS: Record<string, string> = {
  "app.js": JS,
  "api.js": JS,
  "dom.js": JS,
  "clients.js": JS,
  "records.js": JS,
  "endpoints.js": JS,
  "app.css": "text/css; charset=utf-8",
};

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const read = (name: string) => Deno.readTextFile(new URL(`./dashboard/${name}`, import.meta.url));

/**
 * The page, its scripts and style, and `api.json`: the operations table's shapes (no code) and the
 * vocabulary the screens offer (statuses, triggers), so the browser never keeps copies of them.
 * `publicUrl` (PUBLIC_URL) is what webhook URLs are shown under; null: the address the page was
 * opened at, with a note that Cal.com needs a public https URL.
 */
export function registerDashboard(router: Router, publicUrl: string | null): void {
  let page: Promise<string> | null = null;
  const files = new Map<string, Promise<string>>();
  const meta = JSON.stringify({
    operations: publicTable(),
    vocabulary: {
      job_statuses: JOB_STATUSES,
      submission_statuses: SUBMISSION_STATUSES,
      triggers: Object.keys(TRIGGERS),
      token_scopes: TOKEN_SCOPES,
    },
    public_url: publicUrl,
    webhook_url_problem: webhookUrlProblem(publicUrl),
  });
  router.on(
    "GET",
    "/admin/assets/api.json",
    () =>
      new Response(meta, {
        headers: { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS },
      }),
  );
  const html = () => page ??= read("index.html");
  const shell = async () =>
    new Response(await html(), {
      headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS },
    });
  router.on("GET", "/admin", shell);
  router.on("GET", "/admin/", shell);
  router.on("GET", "/admin/assets/:file", async (ctx) => {
    const name = ctx.params.file ?? "";
    const type = Object.hasOwn(ASSETS, name) ? ASSETS[name] : null;
    if (!type) return new Response("Not found", { status: 404 });
    if (!files.has(name)) files.set(name, read(name));
    return new Response(await files.get(name)!, { headers: { "content-type": type, ...SECURITY_HEADERS } });
  });
}
