/**
 * What an admin operation accepts, and how it refuses the rest: every input arrives untyped (JSON,
 * query strings or command-line words) and is validated here into a value or an `HttpError` whose
 * message says what to send instead.
 */
import { DEFAULT_API_URL } from "../calcom/api.ts";
import { JOB_STATUSES, type JobStatus } from "../domain/job.ts";
import { SUBMISSION_STATUSES, type SubmissionStatus } from "../domain/submission.ts";
import {
  PORTAL_CAPABILITIES,
  type PortalCapability,
  SESSION_DEFAULT_SECONDS,
  SESSION_MAX_SECONDS,
  TOKEN_SCOPES,
  type TokenScope,
} from "../domain/tokens.ts";
import { CHANGE_TYPES, type ChangeType } from "../domain/changes.ts";
import { ALLOW_PRIVATE_RISK } from "../domain/outbound.ts";
import { HttpError } from "../errors.ts";
import { SLUG_PATTERN } from "../store/clients.ts";
import { InvalidCursorError, type Page } from "../store/kv.ts";

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;
export const MAX_NAME_LENGTH = 200;
const MAX_SECRET_LENGTH = 500;
/** Record ids (ULIDs, submission ids) are far shorter; anything longer cannot name a record. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
/** Booking uids are looked up as KV keys (≤ 2 KiB with the rest of the key). */
const MAX_EVENT_ID_LENGTH = 1000;
const CURSOR_PATTERN = /^[A-Za-z0-9_=.-]{1,2000}$/;

export interface PageInput {
  limit?: unknown;
  cursor?: unknown;
  [field: string]: unknown;
}

export async function listing<V>(list: () => Promise<Page<V>>): Promise<Page<V>> {
  try {
    return await list();
  } catch (error) {
    if (error instanceof InvalidCursorError) throw invalidCursor();
    throw error;
  }
}

export function invalidCursor(): HttpError {
  return new HttpError(
    400,
    "invalid_cursor",
    "cursor is not one this listing gave out; start again without it, then pass the cursor each page returns.",
  );
}

export function validSlug(slug: unknown): string {
  if (typeof slug !== "string" || !SLUG_PATTERN.test(slug)) {
    throw new HttpError(
      400,
      "invalid_slug",
      "A client slug is 1–63 characters of lowercase letters, digits and '-', starting with a letter or digit.",
    );
  }
  return slug;
}

export function validId(id: unknown, what: string): string {
  if (typeof id !== "string" || !ID_PATTERN.test(id)) {
    throw new HttpError(
      400,
      `invalid_${what}_id`,
      `That is not a ${what} id: ids are up to 100 letters, digits, '-' and '_', as the listings show them.`,
    );
  }
  return id;
}

export function validEventId(uid: unknown): string {
  if (typeof uid !== "string" || uid.trim() === "" || uid.length > MAX_EVENT_ID_LENGTH) {
    throw new HttpError(
      400,
      "invalid_calcom_event_id",
      `calcom_event_id must be a Cal.com booking uid of 1 to ${MAX_EVENT_ID_LENGTH} characters.`,
    );
  }
  return uid;
}

export function pageOf(page: PageInput): { limit: number; cursor?: string } {
  const raw = page.limit;
  const limit = raw === undefined || raw === null || raw === "" ? DEFAULT_PAGE_LIMIT : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new HttpError(400, "invalid_limit", `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}.`);
  }
  const cursor = page.cursor;
  if (cursor === undefined || cursor === null || cursor === "") return { limit };
  if (typeof cursor !== "string" || !CURSOR_PATTERN.test(cursor)) throw invalidCursor();
  return { limit, cursor };
}

export function optionalJobStatus(status: unknown): JobStatus | null {
  if (status === undefined || status === null || status === "") return null;
  if (!(JOB_STATUSES as readonly unknown[]).includes(status)) {
    throw new HttpError(400, "invalid_status", `status must be one of ${JOB_STATUSES.join(", ")}.`);
  }
  return status as JobStatus;
}

/** An optional ISO date-time filter (`field` names it in the refusal), as UTC ISO; null when absent. */
export function optionalTime(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === "") return null;
  const at = typeof value === "string" ? Date.parse(value) : NaN;
  if (!Number.isFinite(at)) {
    throw new HttpError(
      400,
      "invalid_time",
      `${field} must be an ISO date-time, e.g. "2026-12-01T00:00:00Z".`,
    );
  }
  return new Date(at).toISOString();
}

export function optionalTimeZone(value: unknown): string | null {
  if (value === null || value === "") return null;
  try {
    if (typeof value !== "string") throw new Error();
    new Intl.DateTimeFormat("en", { timeZone: value });
    return value;
  } catch {
    throw new HttpError(
      400,
      "invalid_time_zone",
      '"time_zone" must be an IANA time zone such as "Europe/Berlin".',
    );
  }
}

export function optionalDays(value: unknown): number | null {
  if (value === null || value === "") return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 365) {
    throw new HttpError(
      400,
      "invalid_silence_days",
      '"silence_days" must be a whole number of days from 1 to 365, or null.',
    );
  }
  return n;
}

export function optionalStatus(status: unknown): SubmissionStatus | null {
  if (status === undefined || status === null || status === "") return null;
  if (!(SUBMISSION_STATUSES as readonly unknown[]).includes(status)) {
    throw new HttpError(400, "invalid_status", `status must be one of ${SUBMISSION_STATUSES.join(", ")}.`);
  }
  return status as SubmissionStatus;
}

export function optionalString(value: unknown, field: string, max: number): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "string" || value.length > max || value.trim() === "") {
    throw new HttpError(
      400,
      `invalid_${field}`,
      `"${field}" must be a non-empty string of at most ${max} characters.`,
    );
  }
  return value;
}

/**
 * The one secret rule: any non-empty string up to 500 characters, since Cal.com lets its users
 * type any secret; one shorter than 16 characters is accepted and flagged `weak`.
 */
export function optionalSecret(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return optionalString(value, "secret", MAX_SECRET_LENGTH) ?? null;
}

const MAX_API_KEY_LENGTH = 500;

/** A Cal.com API key (`cal_live_…`, test keys `cal_…`), or null to remove it; never echoed. */
export function optionalApiKey(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === "") return null;
  if (typeof value !== "string" || value.length > MAX_API_KEY_LENGTH || !/^\S+$/.test(value)) {
    throw new HttpError(
      400,
      "invalid_calcom_api_key",
      '"calcom_api_key" must be the Cal.com API key as Cal.com shows it (Settings → Developer → API keys, it starts "cal_"), or null to remove it.',
    );
  }
  return value;
}

/** The base URL of the client's Cal.com API (`…/v2`), or null for Cal.com's hosted default. */
export function optionalApiUrl(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === "") return null;
  let url: URL | null = null;
  try {
    url = typeof value === "string" && value.length <= 500 ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (
    !url || (url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password ||
    url.search
  ) {
    throw new HttpError(
      400,
      "invalid_calcom_api_url",
      `"calcom_api_url" must be an http(s) URL ending in /v2, e.g. ${DEFAULT_API_URL}, https://api.cal.eu/v2, or your self-hosted Cal.com's API.`,
    );
  }
  // Cal.com's API v2 lives under /v2 (https://api.cal.com/v2): a bare host gets it added.
  const path = url.pathname.replace(/\/+$/, "");
  return url.origin + (path.endsWith("/v2") ? path : `${path}/v2`);
}

export function noClient(slug: string): HttpError {
  return new HttpError(
    404,
    "unknown_client",
    `There is no client "${slug}". Create it first (POST /admin/clients, or: deno task admin client add ${slug}).`,
  );
}

export function clientExists(slug: string): HttpError {
  return new HttpError(
    409,
    "client_exists",
    `Client "${slug}" already exists; nothing was changed. Change it with: deno task admin client update ${slug} --name … (PATCH /admin/clients/${slug}); give it a new secret with: deno task admin secret add ${slug}.`,
  );
}

export function noSubmission(slug: string, id: string): HttpError {
  return new HttpError(404, "unknown_submission", `Client "${slug}" has no submission ${id}.`);
}

/** A token's scopes: a list, or (from the CLI) a comma-separated string; at least one, each known. */
export function validScopes(value: unknown): TokenScope[] {
  const list = typeof value === "string" ? value.split(",").map((s) => s.trim()).filter(Boolean) : value;
  if (
    !Array.isArray(list) || list.length === 0 ||
    !list.every((s) => (TOKEN_SCOPES as readonly unknown[]).includes(s))
  ) {
    throw new HttpError(
      400,
      "invalid_scopes",
      `"scopes" must list one or more of ${TOKEN_SCOPES.join(", ")}, e.g. ["jobs:read", "changes:read"].`,
    );
  }
  return [...new Set(list as TokenScope[])];
}

/** A yes/no setting: a JSON boolean, or "true"/"false" from a query string or the CLI. */
export function optionalFlag(value: unknown, field: string): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false" || value === null) return false;
  throw new HttpError(400, `invalid_${field}`, `"${field}" must be true or false.`);
}

/** A portal link's capabilities (a list or a comma-separated string); `view` is always among them. */
export function validCapabilities(value: unknown): PortalCapability[] {
  const list = value === undefined || value === null
    ? []
    : typeof value === "string"
    ? value.split(",").map((s) => s.trim()).filter(Boolean)
    : value;
  if (!Array.isArray(list) || !list.every((c) => (PORTAL_CAPABILITIES as readonly unknown[]).includes(c))) {
    throw new HttpError(
      400,
      "invalid_capabilities",
      `"capabilities" must list some of ${
        PORTAL_CAPABILITIES.join(", ")
      } (view is always given), e.g. endpoints,replay.`,
    );
  }
  return PORTAL_CAPABILITIES.filter((c) => c === "view" || list.includes(c));
}

/** How long a portal session lasts, in seconds: 5 minutes to 7 days, default 24 h. */
export function validSessionSeconds(value: unknown): number {
  if (value === undefined || value === null || value === "") return SESSION_DEFAULT_SECONDS;
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 300 || n > SESSION_MAX_SECONDS) {
    throw new HttpError(
      400,
      "invalid_expires_in",
      `"expires_in" is how long the session lasts once the link is opened, in seconds: 300 to ${SESSION_MAX_SECONDS} (7 days); the default is ${SESSION_DEFAULT_SECONDS} (24 h).`,
    );
  }
  return n;
}

/** An optional expiry: an ISO date-time in the future, or null/absent for none. */
export function optionalExpiry(value: unknown, now: number): string | null {
  if (value === undefined || value === null || value === "") return null;
  const at = typeof value === "string" ? Date.parse(value) : NaN;
  if (!Number.isFinite(at) || at <= now) {
    throw new HttpError(
      400,
      "invalid_expires_at",
      '"expires_at" must be an ISO date-time in the future, e.g. "2027-06-30T00:00:00Z", or left out for no expiry.',
    );
  }
  return new Date(at).toISOString();
}

/** A feed page's size (1–500, default 100) and long-poll wait (0–30 s, default 0). */
export function feedPage(
  input: { limit?: unknown; wait?: unknown; [field: string]: unknown },
): { limit: number; waitSeconds: number } {
  const limit = input.limit === undefined || input.limit === "" ? 100 : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new HttpError(400, "invalid_limit", `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}.`);
  }
  const wait = input.wait === undefined || input.wait === "" ? 0 : Number(input.wait);
  if (!Number.isFinite(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
    throw new HttpError(
      400,
      "invalid_wait",
      `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}.`,
    );
  }
  return { limit, waitSeconds: wait };
}

/** Longest a long-poll holds (below the usual proxy and load-balancer idle timeouts). */
export const MAX_WAIT_SECONDS = 30;

export function invalidFeedCursor(): HttpError {
  return new HttpError(
    400,
    "invalid_cursor",
    "cursor is not one this client's feed gave out; start again without it (or from the changes_cursor /jobs answers), then pass the next_cursor each page returns.",
  );
}

export function expiredFeedCursor(days: number): HttpError {
  return new HttpError(
    410,
    "cursor_expired",
    `This cursor is older than the change log keeps (CHANGE_LOG_RETENTION_DAYS, ${days} days). Read every Job again with GET /api/v1/clients/{slug}/jobs, then follow the feed from the changes_cursor that answer gives.`,
  );
}

/** What the operator of a receiver on their own network can do, and what it risks. */
function privateReceiverNote(): string {
  return `A receiver on the service's own network is allowed only when the operator starts the service with OUTBOUND_ALLOW_PRIVATE=1; the risk: ${ALLOW_PRIVATE_RISK}.`;
}

/** An endpoint's URL: https (http too with OUTBOUND_ALLOW_PRIVATE), no credentials, not a forbidden IP. */
export function validEndpointUrl(
  value: unknown,
  allowPrivate: boolean,
  forbidden: (host: string) => string | null,
): string {
  let url: URL | null = null;
  try {
    url = typeof value === "string" && value.length <= 2000 ? new URL(value) : null;
  } catch {
    url = null;
  }
  const schemes = allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!url || !schemes.includes(url.protocol) || url.username || url.password) {
    throw new HttpError(
      400,
      "invalid_url",
      `"url" must be an ${
        allowPrivate ? "http(s)" : "https"
      } URL without credentials, e.g. https://dispatch.example.com/hooks/calcom-intake.${
        url?.protocol === "http:" ? ` ${privateReceiverNote()}` : ""
      }`,
    );
  }
  const why = allowPrivate ? null : forbidden(url.hostname.replace(/^\[|\]$/g, ""));
  if (why) {
    throw new HttpError(
      400,
      "forbidden_destination",
      `Deliveries cannot go to ${url.hostname}: it is ${why}. ${privateReceiverNote()}`,
    );
  }
  return url.href;
}

/** An endpoint's event types: a list (or a comma-separated string) of change types; none/empty: all. */
export function optionalEventTypes(value: unknown): ChangeType[] | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === "") return null;
  const list = typeof value === "string" ? value.split(",").map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || !list.every((t) => (CHANGE_TYPES as readonly unknown[]).includes(t))) {
    throw new HttpError(
      400,
      "invalid_event_types",
      `"event_types" must list some of ${CHANGE_TYPES.join(", ")} (or be left out for all of them).`,
    );
  }
  return list.length ? [...new Set(list as ChangeType[])] : null;
}

/** An endpoint's state as a caller may set it. */
export function optionalEndpointState(value: unknown): "active" | "disabled" | undefined {
  if (value === undefined) return undefined;
  if (value === "active" || value === "disabled") return value;
  throw new HttpError(400, "invalid_state", '"state" must be "active" or "disabled".');
}

/** An ISO time in the past or now (what `recover` redelivers from). */
export function validSince(value: unknown): string {
  const at = typeof value === "string" ? Date.parse(value) : NaN;
  if (!Number.isFinite(at)) {
    throw new HttpError(
      400,
      "invalid_since",
      '"since" must be an ISO date-time, e.g. "2026-12-01T00:00:00Z".',
    );
  }
  return new Date(at).toISOString();
}
