// @ts-check
/// <reference lib="dom" />
/**
 * The browser apps' client of the service's API, built from the rows the app's page serves beside
 * it (`assets/api.json`: the dashboard's from `lib/admin/table.ts`, the portal's from
 * `lib/api/table.ts`): `call("listJobs", {params, query})` sends what that row's route reads. The
 * bearer token (the admin token, or a portal session's) lives in sessionStorage only (this tab,
 * until sign-out); a refused one signs out. Paths resolve against where this file was loaded from,
 * so an app served under a proxy's path prefix calls the API under it too.
 */

/**
 * @typedef {{ method: string, path: string, capability: string | null, idempotent: boolean, query: string[], body: string[], answer: "json" | "csv" }} OperationShape
 * @typedef {{ params?: Record<string, string>, query?: Record<string, string | undefined | null>, body?: Record<string, unknown> }} CallInput
 * @typedef {{
 *   operations: Record<string, OperationShape>,
 *   vocabulary: { job_statuses: string[], submission_statuses: string[], triggers: string[], token_scopes: string[], change_types: string[] },
 *   session: { storage_key: string, refused: string, client?: string },
 *   public_url?: string | null,
 *   webhook_url_problem?: string | null,
 *   capabilities?: string[],
 *   event_types?: { type: string, summary: string, schema: unknown, example: unknown }[],
 * }} Meta
 */

/** Sent with every call of the dashboard, so audit lines say the change came from it. */
const CLIENT_HEADER = "x-calcom-intake-client";

/** An error an API call answered; "unauthorized" when the token was refused (and the tab signed out). */
export class ApiError extends Error {}

/** @type {Meta} */
export const meta = await (await fetch(new URL("api.json", import.meta.url))).json();

/** Where the bearer token is kept in this tab. */
export const TOKEN_KEY = meta.session.storage_key;

/** Where the portal keeps what its session may do (the dashboard keeps nothing: it may do all). */
export const CAPABILITIES_KEY = `${TOKEN_KEY}:capabilities`;

/**
 * Whether the signed-in tab may call a row: always in the dashboard; in the portal, when the
 * session holds the row's capability.
 * @param {string} name
 */
export function can(name) {
  const op = meta.operations[name];
  if (!op) return false;
  if (!meta.capabilities || op.capability === null) return true;
  const held = JSON.parse(sessionStorage.getItem(CAPABILITIES_KEY) ?? "[]");
  return held.includes(op.capability);
}

/**
 * A row's path as a URL under the service (the rows' paths are absolute from the service's root,
 * and this file is served two levels below it).
 * @param {string} path
 */
function under(path) {
  return new URL(`../..${path}`, import.meta.url).href;
}

/** @type {(message: string) => void} */
let onRefused = () => {};

/** What to do when the service refuses the token (sign out). @param {(message: string) => void} handler */
export function whenRefused(handler) {
  onRefused = handler;
}

/**
 * The request of one operation, with the token.
 * @param {string} name
 * @param {CallInput} [input]
 * @returns {Promise<Response>}
 */
export async function request(name, input = {}) {
  const op = meta.operations[name];
  if (!op) throw new ApiError(`The service has no operation "${name}".`);
  const path = op.path.replace(/:([A-Za-z_]\w*)/g, (_, key) => encodeURIComponent(input.params?.[key] ?? ""));
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(input.query ?? {})) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const hasBody = op.body.length > 0;
  const res = await fetch(under(query.size ? `${path}?${query}` : path), {
    method: op.method,
    headers: {
      authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ""}`,
      ...(meta.session.client ? { [CLIENT_HEADER]: meta.session.client } : {}),
      // One click is one request: a write-back is never sent twice by a retried fetch.
      ...(op.idempotent ? { "idempotency-key": crypto.randomUUID() } : {}),
      ...(hasBody ? { "content-type": "application/json" } : {}),
    },
    body: hasBody ? JSON.stringify(input.body ?? {}) : undefined,
  });
  if (res.status === 401) {
    await res.body?.cancel();
    onRefused(meta.session.refused);
    throw new ApiError("unauthorized");
  }
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(data?.error?.message ?? `HTTP ${res.status}`);
  }
  return res;
}

/**
 * One operation's JSON answer.
 * @param {string} name
 * @param {CallInput} [input]
 * @returns {Promise<any>}
 */
export async function call(name, input) {
  return await (await request(name, input)).json();
}

/**
 * Downloads an operation's file with the token (a plain link could not send it).
 * @param {string} name
 * @param {CallInput} input
 * @param {string} filename
 * @returns {(event: Event) => Promise<void>}
 */
export function download(name, input, filename) {
  return async (event) => {
    event.preventDefault();
    const url = URL.createObjectURL(await (await request(name, input)).blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  };
}

/**
 * The href a download link shows (the real download goes through `download`).
 * @param {string} name
 * @param {Record<string, string>} params
 */
export function pathOf(name, params) {
  return under(meta.operations[name].path.replace(
    /:([A-Za-z_]\w*)/g,
    (_, key) => encodeURIComponent(params[key] ?? ""),
  ));
}
