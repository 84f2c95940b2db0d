/**
 * A small client for the two Cal.com API v2 reads reconciliation needs. It keeps one request in
 * flight per API key (in this process), waits out 429s (Cal.com blocks a key for about a minute
 * past 120 requests/minute) and retries 5xx and network errors a few times. The key is sent only
 * in the Authorization header and never appears in an error or a log line.
 */
import {
  type ApiBooking,
  apiBookingSchema,
  apiHeaders,
  bookingListSchema,
  bookingReadSchema,
  listQuery,
} from "../calcom/api.ts";
import { sleep } from "../time.ts";

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
  onError?: (kind: "rate_limited" | "rejected" | "server" | "network" | "other") => void;
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
    const body = await this.#call(`/bookings?${listQuery(window, skip)}`);
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
    const body = await this.#call(`/bookings/${encodeURIComponent(uid)}`, true);
    if (body === null) return null;
    const parsed = bookingReadSchema.safeParse(body);
    if (!parsed.success) throw unexpectedShape("GET /bookings/{uid}");
    return Array.isArray(parsed.data.data) ? parsed.data.data : [parsed.data.data];
  }

  #call(path: string, notFoundIsNull = false): Promise<unknown> {
    const previous = inFlight.get(this.apiKey) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.#callWithRetries(path, notFoundIsNull));
    const settled = run.catch(() => {});
    inFlight.set(this.apiKey, settled);
    settled.then(() => {
      if (inFlight.get(this.apiKey) === settled) inFlight.delete(this.apiKey);
    });
    return run;
  }

  async #callWithRetries(path: string, notFoundIsNull: boolean): Promise<unknown> {
    const retries = this.options.retries ?? 4;
    let wait = this.options.backoffMs;
    for (let attempt = 0;; attempt++) {
      let response: Response;
      try {
        response = await fetch(this.#base + path, {
          headers: apiHeaders(this.apiKey),
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
      if (response.ok) {
        try {
          return await response.json();
        } catch {
          throw unexpectedShape(path.split("?")[0]);
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
      if (response.status === 404 && notFoundIsNull) return null;
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt >= retries) {
        throw new ApiError(
          response.status === 429
            ? `Cal.com kept answering 429 (rate limit) after ${retries} retries; the next pass continues from the checkpoint.`
            : `Cal.com's API answered HTTP ${response.status}${detail ? `: ${detail}` : ""}.`,
        );
      }
      await sleep(Math.max(wait, retryAfterMs(response) ?? 0));
      wait *= 2;
    }
  }
}

/** Parses a list item; null when Cal.com sent something this service cannot read. */
export function parseBooking(value: unknown): ApiBooking | null {
  const parsed = apiBookingSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

function retryAfterMs(response: Response): number | null {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 120) * 1000 : null;
}

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
