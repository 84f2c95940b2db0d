/**
 * A small client for Cal.com's API v2: the two booking reads reconciliation needs and the
 * webhook calls connect and check make. It keeps one request in
 * flight per API key (in this process), waits out 429s (Cal.com blocks a key for about a minute
 * past 120 requests/minute) and retries 5xx and network errors a few times. The key is sent only
 * in the Authorization header and never appears in an error or a log line.
 */
import { inSpan } from "../trace.ts";
import type { CalcomApiErrorKind } from "../metrics.ts";
import {
  type ApiBooking,
  apiBookingSchema,
  apiHeaders,
  bookingListSchema,
  bookingReadSchema,
  listQuery,
} from "../calcom/api.ts";
import {
  acceptedTriggers,
  badRequestDetail,
  type CalcomWebhook,
  calcomWebhookSchema,
  WEBHOOK_PAGE_SIZE,
  webhookAnswerSchema,
  webhookListSchema,
} from "../calcom/webhooks_api.ts";
import { retryAfterMs, sleep } from "../time.ts";

/** Cal.com refused the key (401/403): no pass can work until the operator sets a valid one. */
export class ApiKeyRejectedError extends Error {
  constructor(readonly status: number, detail: string) {
    super(
      `Cal.com refused the API key (HTTP ${status}${
        detail ? `: ${detail}` : ""
      }). Create a new key in Cal.com (Settings → Developer → API keys) and set it with PUT /admin/clients/{slug} {"calcom_api_key": "cal_live_…"}; for EU or self-hosted Cal.com also set calcom_api_url.`,
    );
    this.name = "ApiKeyRejectedError";
  }
}

/** Any other failed call: the pass stops and its checkpoint stays where it was. */
export class ApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ClientOptions {
  /** First wait after a 429 or a failure, doubled on each retry. */
  backoffMs: number;
  /** Longest one call may take. */
  timeoutMs: number;
  /** Retries of one call after 429/5xx/network errors. */
  retries?: number;
  /** Told of every failed call (for metrics). */
  onError?: (kind: CalcomApiErrorKind) => void;
}

export interface ListPage {
  bookings: unknown[];
  hasNextPage: boolean | null;
  totalItems: number | null;
}

/** One request in flight per key: calls for the same key wait for each other. */
const inFlight = new Map<string, Promise<unknown>>();

export class CalcomApi {
  readonly #base: string;

  constructor(baseUrl: string, private readonly apiKey: string, private readonly options: ClientOptions) {
    this.#base = baseUrl.replace(/\/+$/, "");
  }

  async listPage(window: { after: string | null; before: string }, skip: number): Promise<ListPage> {
    const { body } = await this.#call(`/bookings?${listQuery(window, skip)}`);
    const parsed = bookingListSchema.safeParse(body);
    if (!parsed.success) throw unexpectedShape("GET /bookings");
    const p = parsed.data.pagination;
    return {
      bookings: parsed.data.data,
      hasNextPage: p?.hasNextPage ?? null,
      totalItems: p?.totalItems ?? null,
    };
  }

  /** One booking by uid (every occurrence when it is a recurring series' uid); null when Cal.com has none. */
  async read(uid: string): Promise<unknown[] | null> {
    const { status, body } = await this.#call(`/bookings/${encodeURIComponent(uid)}`, { allow: [404] });
    if (status === 404) return null;
    const parsed = bookingReadSchema.safeParse(body);
    if (!parsed.success) throw unexpectedShape("GET /bookings/{uid}");
    return Array.isArray(parsed.data.data) ? parsed.data.data : [parsed.data.data];
  }

  /**
   * A write-back action on a booking, sent once: never retried here (a retry could act twice), so a
   * network failure leaves the outcome unknown (the caller checks the booking before trying again).
   * Answers Cal.com's status and body for a success or a refusal, with `retryAfterMs` on a 429.
   */
  async act(
    uid: string,
    path: string,
    body: unknown,
  ): Promise<{ status: number; body: unknown; retryAfterMs: number | null }> {
    return await this.#call(`/bookings/${encodeURIComponent(uid)}/${path}`, {
      method: "POST",
      body,
      allow: [400, 404, 409, 422, 429],
      retries: 0,
    });
  }

  /** Free slots of an event type between two times (`GET /v2/slots`), as Cal.com answers them. */
  async slots(
    query: URLSearchParams,
  ): Promise<{ status: number; body: unknown; retryAfterMs: number | null }> {
    return await this.#call(`/slots?${query}`, { allow: [400, 404, 429], retries: 0, version: "2024-09-04" });
  }

  /** Every webhook of the key's user (`GET /v2/webhooks`, paged until a short page). */
  async listWebhooks(): Promise<CalcomWebhook[]> {
    const out: CalcomWebhook[] = [];
    for (let skip = 0; skip < 100 * WEBHOOK_PAGE_SIZE; skip += WEBHOOK_PAGE_SIZE) {
      const { body } = await this.#call(`/webhooks?take=${WEBHOOK_PAGE_SIZE}&skip=${skip}`);
      const parsed = webhookListSchema.safeParse(body);
      if (!parsed.success) throw unexpectedShape("GET /webhooks");
      for (const item of parsed.data.data) {
        const hook = calcomWebhookSchema.safeParse(item);
        if (hook.success) out.push(hook.data);
      }
      if (parsed.data.data.length < WEBHOOK_PAGE_SIZE) break;
    }
    return out;
  }

  /** One webhook; null when Cal.com has none by that id for this key's user (404, or 403: another user's). */
  async getWebhook(id: string): Promise<CalcomWebhook | null> {
    const { status, body } = await this.#call(`/webhooks/${encodeURIComponent(id)}`, { allow: [403, 404] });
    return status === 200 ? webhook(body, "GET /webhooks/{id}") : null;
  }

  /**
   * Creates a webhook; `conflict` when the user has one for that URL already (409), `triggers`
   * when this Cal.com refused some triggers (the ones it accepts).
   */
  async createWebhook(
    input: Record<string, unknown>,
  ): Promise<{ created: CalcomWebhook } | { conflict: true } | { triggers: string[] }> {
    const { status, body } = await this.#call("/webhooks", {
      method: "POST",
      body: input,
      allow: [400, 409],
    });
    if (status === 409) return { conflict: true };
    if (status === 400) return { triggers: this.#refusedTriggers(body, input) };
    return { created: webhook(body, "POST /webhooks") };
  }

  /** Changes a webhook; null when it is gone (404/403), `triggers` as for create. */
  async patchWebhook(
    id: string,
    patch: Record<string, unknown>,
  ): Promise<{ updated: CalcomWebhook } | { triggers: string[] } | null> {
    const { status, body } = await this.#call(`/webhooks/${encodeURIComponent(id)}`, {
      method: "PATCH",
      body: patch,
      allow: [400, 403, 404],
    });
    if (status === 403 || status === 404) return null;
    if (status === 400) return { triggers: this.#refusedTriggers(body, patch) };
    return { updated: webhook(body, "PATCH /webhooks/{id}") };
  }

  /** Deletes a webhook; false when it was already gone. */
  async deleteWebhook(id: string): Promise<boolean> {
    const { status } = await this.#call(`/webhooks/${encodeURIComponent(id)}`, {
      method: "DELETE",
      allow: [403, 404],
    });
    return status === 200;
  }

  /** A 400 that only some triggers caused yields the ones Cal.com accepts; any other 400 is an error. */
  #refusedTriggers(body: unknown, sent: Record<string, unknown>): string[] {
    const accepted = acceptedTriggers(body);
    if (accepted && Array.isArray(sent.triggers)) return accepted;
    let detail = badRequestDetail(body);
    // Cal.com's validation errors echo the request; whatever of it reaches a message loses the secret.
    if (typeof sent.secret === "string" && sent.secret) detail = detail.replaceAll(sent.secret, "…");
    throw new ApiError(`Cal.com refused the webhook (HTTP 400${detail ? `: ${detail}` : ""}).`);
  }

  #call(
    path: string,
    init: CallInit = {},
  ): Promise<{ status: number; body: unknown; retryAfterMs: number | null }> {
    const previous = inFlight.get(this.apiKey) ?? Promise.resolve();
    const method = init.method ?? "GET";
    // One span a call (retries included); Deno's own fetch spans sit under it. The key is a header,
    // never an attribute.
    const run = previous.catch(() => {}).then(() =>
      inSpan(
        "calcom.api",
        { "http.request.method": method, "calcom_intake.path": path.split("?")[0] },
        async (span) => {
          const answer = await this.#callWithRetries(path, init);
          span.setAttribute("http.response.status_code", answer.status);
          return answer;
        },
      )
    );
    const settled = run.catch(() => {});
    inFlight.set(this.apiKey, settled);
    settled.then(() => {
      if (inFlight.get(this.apiKey) === settled) inFlight.delete(this.apiKey);
    });
    return run;
  }

  async #callWithRetries(
    path: string,
    init: CallInit,
  ): Promise<{ status: number; body: unknown; retryAfterMs: number | null }> {
    const retries = init.retries ?? this.options.retries ?? 4;
    const method = init.method ?? "GET";
    let wait = this.options.backoffMs;
    for (let attempt = 0;; attempt++) {
      let response: Response;
      try {
        response = await fetch(this.#base + path, {
          method,
          headers: {
            ...apiHeaders(this.apiKey),
            ...(init.version ? { "cal-api-version": init.version } : {}),
            ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
          },
          body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
          redirect: "manual",
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
      } catch (error) {
        this.options.onError?.("network");
        if (attempt >= retries) {
          throw new ApiError(`Cal.com's API at ${this.#base} could not be reached: ${errorName(error)}.`);
        }
        await sleep(wait);
        wait *= 2;
        continue;
      }
      const what = `${method} ${path.split("?")[0]}`;
      if (response.ok || init.allow?.includes(response.status)) {
        const retryAfter = response.status === 429
          ? retryAfterMs(response.headers.get("retry-after"), Date.now()) ?? 60_000
          : null;
        try {
          return {
            status: response.ok ? 200 : response.status,
            body: await response.json(),
            retryAfterMs: retryAfter,
          };
        } catch {
          if (!response.ok) return { status: response.status, body: null, retryAfterMs: retryAfter };
          throw unexpectedShape(what);
        }
      }
      const detail = await errorDetail(response);
      this.options.onError?.(
        response.status === 429
          ? "rate_limited"
          : response.status === 401 || response.status === 403
          ? "rejected"
          : response.status >= 500
          ? "server"
          : "other",
      );
      if (response.status === 401 || response.status === 403) {
        throw new ApiKeyRejectedError(response.status, detail);
      }
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt >= retries) {
        throw new ApiError(
          response.status === 429
            ? `Cal.com kept answering 429 (rate limit) after ${retries} retries; the next pass continues from the checkpoint.`
            : `Cal.com's API answered ${what} with HTTP ${response.status}${detail ? `: ${detail}` : ""}.`,
        );
      }
      // Cal.com asks for at most a minute or two; a longer wait is the next pass's.
      const asked = Math.min(
        retryAfterMs(response.headers.get("retry-after"), Date.now()) ?? 0,
        MAX_RETRY_AFTER_MS,
      );
      await sleep(Math.max(wait, asked));
      wait *= 2;
    }
  }
}

interface CallInit {
  method?: "GET" | "POST" | "PATCH" | "DELETE";
  /** A JSON body. */
  body?: unknown;
  /** Statuses answered to the caller instead of thrown (401 always throws: the key is refused). */
  allow?: readonly number[];
  /** Retries after 429/5xx/network errors, instead of the client's. */
  retries?: number;
  /** `cal-api-version` for this call, where not the bookings' (slots have their own). */
  version?: string;
}

/** A webhook answer's `data`, or an error saying Cal.com answered something else. */
function webhook(body: unknown, what: string): CalcomWebhook {
  const data = webhookAnswerSchema.safeParse(body);
  const hook = data.success ? calcomWebhookSchema.safeParse(data.data.data) : null;
  if (!hook?.success) throw unexpectedShape(what);
  return hook.data;
}

/** Parses a list item; null when Cal.com sent something this service cannot read. */
export function parseBooking(value: unknown): ApiBooking | null {
  const parsed = apiBookingSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** Longest Retry-After a pass waits out within itself. */
const MAX_RETRY_AFTER_MS = 120_000;

/** Cal.com's error envelope message (`{error: {message}}`), trimmed; never the request's headers. */
async function errorDetail(response: Response): Promise<string> {
  try {
    const text = (await response.text()).slice(0, 2000);
    const message = JSON.parse(text)?.error?.message;
    return typeof message === "string" ? message.slice(0, 300) : "";
  } catch {
    return "";
  }
}

function unexpectedShape(what: string): ApiError {
  return new ApiError(
    `Cal.com's API answered ${what} in an unexpected shape. Check calcom_api_url (it ends in /v2, e.g. https://api.cal.com/v2).`,
  );
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name === "TimeoutError" ? "timed out" : error.message : String(error);
}
