// @ts-check
/// <reference lib="dom" />
/**
 * The dashboard's client of the admin API, built from the operations table the service serves
 * (`/admin/assets/api.json`, made from `lib/admin/table.ts`): `call("listJobs", {params, query})`
 * sends what that row's route reads. The admin token lives in sessionStorage only (this tab, until
 * sign-out); a refused token signs out.
 */

/**
 * @typedef {{ method: string, path: string, query: string[], body: string[], answer: "json" | "csv" }} OperationShape
 * @typedef {{ params?: Record<string, string>, query?: Record<string, string | undefined | null>, body?: Record<string, unknown> }} CallInput
 * @typedef {{
 *   operations: Record<string, OperationShape>,
 *   vocabulary: { job_statuses: string[], submission_statuses: string[], triggers: string[], token_scopes: string[] },
 *   public_url: string | null,
 *   webhook_url_problem: string | null,
 * }} Meta
 */

export const TOKEN_KEY = "calcom-intake-admin-token";

/** Sent with every call, so audit lines say the change came from the dashboard. */
const CLIENT_HEADER = "x-calcom-intake-client";

/** An error an API call answered; "unauthorized" when the token was refused (and the tab signed out). */
export class ApiError extends Error {}

/** @type {Meta} */
export const meta = await (await fetch("/admin/assets/api.json")).json();

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
  const res = await fetch(query.size ? `${path}?${query}` : path, {
    method: op.method,
    headers: {
      authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ""}`,
      [CLIENT_HEADER]: "dashboard",
      ...(hasBody ? { "content-type": "application/json" } : {}),
    },
    body: hasBody ? JSON.stringify(input.body ?? {}) : undefined,
  });
  if (res.status === 401) {
    await res.body?.cancel();
    onRefused("The admin token was refused. Sign in again.");
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
  return meta.operations[name].path.replace(
    /:([A-Za-z_]\w*)/g,
    (_, key) => encodeURIComponent(params[key] ?? ""),
  );
}
