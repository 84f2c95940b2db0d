/**
 * A fake Cal.com API v2 for reconciliation and connect tests: a real HTTP server on port 0 serving
 * `GET /v2/bookings` and `GET /v2/bookings/{uid}` in the documented 2024-08-13 shapes (offset
 * paging computed as Cal.com's `getPagination` does, inclusive `updatedAt` bounds, series reads
 * as arrays), checking `Authorization` and `cal-api-version` as Cal.com does (a missing or unknown
 * version gets the legacy 2024-04-15 shape), and able to answer 429s, 401s and slowly. And the
 * user's webhooks (`/v2/webhooks`, `/v2/webhooks/{id}`, docs/calcom/api-v2-webhooks.md): UUID ids,
 * a bare-array list paged by take/skip, the secret returned, `active` required, 409 for a second
 * webhook with the same URL, 404 for an unknown id and 403 for another user's, 400 for a subscriber
 * URL that is not https or is private (and for triggers it does not know, with the `isEnum` list), and
 * Cal.com's rate limit of 120 requests a minute per key.
 */
import type { ApiBooking } from "../lib/calcom/api.ts";

export const FAKE_API_KEY = "cal_live_fake_0123456789abcdef";
/** The Cal.com user the key belongs to. */
export const FAKE_USER_ID = 1207;

/** Every trigger Cal.com's current API accepts (the docs' enum, in its order). */
export const CALCOM_TRIGGERS = [
  "BOOKING_CREATED",
  "BOOKING_PAYMENT_INITIATED",
  "BOOKING_PAID",
  "BOOKING_RESCHEDULED",
  "BOOKING_REQUESTED",
  "BOOKING_CANCELLED",
  "BOOKING_REJECTED",
  "BOOKING_NO_SHOW_UPDATED",
  "BOOKING_LOCATION_UPDATED",
  "BOOKING_REASSIGNED",
  "FORM_SUBMITTED",
  "MEETING_ENDED",
  "MEETING_STARTED",
  "RECORDING_READY",
  "INSTANT_MEETING",
  "INSTANT_MEETING_ACCEPTED",
  "RECORDING_TRANSCRIPTION_GENERATED",
  "OOO_CREATED",
  "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
  "AFTER_GUESTS_CAL_VIDEO_NO_SHOW",
  "FORM_SUBMITTED_NO_EVENT",
  "ROUTING_FORM_FALLBACK_HIT",
  "DELEGATION_CREDENTIAL_ERROR",
  "WRONG_ASSIGNMENT_REPORT",
  "DELEGATION_CREDENTIAL_SECRET_ROTATION_FAILED",
  "DELEGATION_CREDENTIAL_ROTATION_REQUIRED",
  "DELEGATION_CREDENTIAL_SECRET_ROTATED",
  "CALENDAR_ENTRY_REJECTED",
];

/** A webhook as the fake stores it (Cal.com's output fields). */
export interface FakeWebhook {
  id: string;
  userId: number;
  subscriberUrl: string;
  triggers: string[];
  active: boolean;
  payloadTemplate: string | null;
  secret: string | null;
  version: string;
  time: number | null;
  timeUnit: string | null;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | null;
  version: string | null;
}

export interface FakeCalcom {
  /** Base URL to set as the client's `calcom_api_url` (ends in /v2). */
  url: string;
  bookings: Map<string, Record<string, unknown>>;
  requests: FakeRequest[];
  /** Most requests in flight at once (per key: Cal.com rate-limits each key). */
  maxInFlight: number;
  /** The next this many requests get 429. */
  rateLimitNext: number;
  /** Every answer waits this long first. */
  delayMs: number;
  /** Every answer is made, then held this long before it is sent (what it says may be stale on arrival). */
  lateMs: number;
  /** Whether the key is refused (401). */
  rejectKey: boolean;
  /**
   * Webhook ids the list shows while a read, change or delete of the id answers 404 (Cal.com's
   * answers disagreeing, as a stale replica's would); creating one for its URL still answers 409.
   */
  ghosts: Set<string>;
  /** Webhooks of every user, by id (a test adds, changes or removes them as a person would in Cal.com). */
  webhooks: Map<string, FakeWebhook>;
  /** The triggers this Cal.com knows (an older one knows fewer). */
  triggers: string[];
  /** Requests a key may make in 60 s before 429 (Cal.com's default: 120). */
  rateLimitPerMinute: number;
  /** Adds a webhook as if made in Cal.com's settings (another user's with `userId`). */
  addWebhook: (fields: Partial<FakeWebhook> & { subscriberUrl: string }) => FakeWebhook;
  /** The key's user's webhooks. */
  userWebhooks: () => FakeWebhook[];
  put: (...bookings: Record<string, unknown>[]) => void;
  close: () => Promise<void>;
}

export function startFakeCalcom(apiKey = FAKE_API_KEY): FakeCalcom {
  let inFlight = 0;
  /** When each recent request of the key came (the rate limit's window). */
  const recent: number[] = [];
  // The server reads these fields at each request, so a test changes the fake's behaviour by setting them.
  const fake: Omit<FakeCalcom, "url" | "close"> = {
    bookings: new Map(),
    requests: [],
    maxInFlight: 0,
    rateLimitNext: 0,
    delayMs: 0,
    lateMs: 0,
    rejectKey: false,
    webhooks: new Map(),
    ghosts: new Set(),
    triggers: [...CALCOM_TRIGGERS],
    rateLimitPerMinute: 120,
    addWebhook: (fields) => {
      const hook: FakeWebhook = {
        id: crypto.randomUUID(),
        userId: FAKE_USER_ID,
        triggers: ["BOOKING_CREATED"],
        active: true,
        payloadTemplate: null,
        secret: null,
        version: "2021-10-20",
        time: null,
        timeUnit: null,
        ...fields,
      };
      fake.webhooks.set(hook.id, hook);
      return hook;
    },
    userWebhooks: () => [...fake.webhooks.values()].filter((w) => w.userId === FAKE_USER_ID),
    put: (...bookings) => {
      for (const b of bookings) fake.bookings.set(String(b.uid), b);
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    fake.requests.push({
      method: req.method,
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.get("authorization"),
      version: req.headers.get("cal-api-version"),
    });
    inFlight++;
    fake.maxInFlight = Math.max(fake.maxInFlight, inFlight);
    try {
      if (fake.delayMs) await new Promise((r) => setTimeout(r, fake.delayMs));
      const now = Date.now();
      while (recent.length > 0 && recent[0] <= now - 60_000) recent.shift();
      if (recent.length >= fake.rateLimitPerMinute) {
        return error(
          429,
          "ThrottlerException",
          "CustomThrottlerGuard - Too many requests. Please try again later.",
          url,
        );
      }
      recent.push(now);
      const late = fake.lateMs;
      const res = await answer(req, url);
      if (late) await new Promise((r) => setTimeout(r, late));
      return res;
    } finally {
      inFlight--;
    }
  });

  async function answer(req: Request, url: URL): Promise<Response> {
    if (fake.rateLimitNext > 0) {
      fake.rateLimitNext--;
      return error(429, "ThrottlerException", "Too Many Requests", url);
    }
    if (req.headers.get("authorization") !== `Bearer ${apiKey}` || fake.rejectKey) {
      return error(
        401,
        "UnauthorizedException",
        "ApiAuthStrategy - api key - Your api key is not valid",
        url,
      );
    }
    // Every API version reaches the webhook controllers: no cal-api-version needed.
    if (url.pathname === "/v2/webhooks" || url.pathname.startsWith("/v2/webhooks/")) {
      return await webhooks(req, url);
    }
    const all = [...fake.bookings.values()];
    if (req.headers.get("cal-api-version") !== "2024-08-13") {
      // What Cal.com does with a missing or unknown version: the legacy handler and its shape.
      return Response.json({
        status: "success",
        data: { bookings: all, recurringInfo: [], nextCursor: null },
      });
    }
    const one = url.pathname.match(/^\/v2\/bookings\/([^/]+)$/);
    if (one) {
      const uid = decodeURIComponent(one[1]);
      const booking = fake.bookings.get(uid);
      if (booking) return Response.json({ status: "success", data: booking });
      const series = all.filter((b) => b.recurringBookingUid === uid)
        .sort((a, b) => String(a.start).localeCompare(String(b.start)));
      if (series.length > 0) return Response.json({ status: "success", data: series });
      return error(404, "NotFoundException", `Booking with uid=${uid} was not found in the database`, url);
    }
    if (url.pathname !== "/v2/bookings") return error(404, "NotFoundException", "Cannot GET", url);
    const q = url.searchParams;
    const take = Number(q.get("take") ?? 100);
    const skip = Number(q.get("skip") ?? 0);
    if (!Number.isInteger(take) || take < 1 || take > 250 || !Number.isInteger(skip) || skip < 0) {
      return error(400, "BadRequestException", "take must be 1-250, skip ≥ 0", url);
    }
    const after = q.get("afterUpdatedAt");
    const before = q.get("beforeUpdatedAt");
    const updated = (b: Record<string, unknown>) => b.updatedAt as string | null;
    const matching = all
      .filter((b) => (!after && !before) || updated(b) !== null)
      .filter((b) => !after || Date.parse(updated(b)!) >= Date.parse(after))
      .filter((b) => !before || Date.parse(updated(b)!) <= Date.parse(before));
    if (q.get("sortUpdatedAt") === "asc") {
      matching.sort((a, b) => Date.parse(updated(a)!) - Date.parse(updated(b)!));
    }
    const total = matching.length;
    const totalPages = Math.ceil(total / take);
    return Response.json({
      status: "success",
      data: matching.slice(skip, skip + take),
      pagination: {
        returnedItems: Math.min(Math.max(total - skip, 0), take),
        totalItems: total,
        itemsPerPage: take,
        remainingItems: Math.min(Math.max(total - (skip + take), 0), total),
        currentPage: total === 0 ? 0 : Math.min(Math.max(Math.floor(skip / take) + 1, 1), totalPages),
        totalPages,
        hasNextPage: skip + take < total,
        hasPreviousPage: skip > 0,
      },
    });
  }

  async function webhooks(req: Request, url: URL): Promise<Response> {
    const id = url.pathname.match(/^\/v2\/webhooks\/([^/]+)$/)?.[1];
    if (url.pathname === "/v2/webhooks" && req.method === "GET") {
      const take = Number(url.searchParams.get("take") ?? 250);
      const skip = Number(url.searchParams.get("skip") ?? 0);
      if (!Number.isInteger(take) || take < 1 || take > 250 || !Number.isInteger(skip) || skip < 0) {
        return error(400, "BadRequestException", "Bad Request Exception", url);
      }
      return Response.json({ status: "success", data: fake.userWebhooks().slice(skip, skip + take) });
    }
    if (url.pathname === "/v2/webhooks" && req.method === "POST") {
      const body = await req.json().catch(() => ({}));
      const invalid = validate(body, true);
      if (invalid) return invalid;
      if (fake.userWebhooks().some((w) => w.subscriberUrl === body.subscriberUrl)) {
        return error(
          409,
          "ConflictException",
          "Webhook with this subscriber url already exists for this user",
          url,
        );
      }
      const hook = fake.addWebhook({
        subscriberUrl: body.subscriberUrl,
        triggers: body.triggers,
        active: body.active,
        payloadTemplate: body.payloadTemplate ?? null,
        secret: body.secret ?? null,
        version: body.version ?? "2021-10-20",
      });
      return Response.json({ status: "success", data: hook }, { status: 201 });
    }
    const hook = id ? fake.webhooks.get(decodeURIComponent(id)) : undefined;
    if (!id || !["GET", "PATCH", "DELETE"].includes(req.method)) {
      return error(404, "NotFoundException", `Cannot ${req.method} ${url.pathname}`, url);
    }
    if (!hook || fake.ghosts.has(hook.id)) {
      return error(404, "NotFoundException", `Webhook (${decodeURIComponent(id)}) not found`, url);
    }
    if (hook.userId !== FAKE_USER_ID) {
      return error(
        403,
        "ForbiddenException",
        `IsUserWebhookGuard - user with id=(${FAKE_USER_ID}) is not the owner of webhook with id=(${hook.id})`,
        url,
      );
    }
    if (req.method === "GET") {
      // The by-id read serialises every column (teamId, eventTypeId, createdAt, …).
      return Response.json({
        status: "success",
        data: {
          ...hook,
          teamId: null,
          eventTypeId: null,
          createdAt: "2026-11-01T09:00:00.000Z",
          appId: null,
        },
      });
    }
    if (req.method === "DELETE") {
      fake.webhooks.delete(hook.id);
      return Response.json({ status: "success", data: hook });
    }
    const patch = await req.json().catch(() => ({}));
    const invalid = validate(
      patch,
      false,
      patch.subscriberUrl !== undefined && patch.subscriberUrl !== hook.subscriberUrl,
    );
    if (invalid) return invalid;
    if (
      patch.subscriberUrl !== undefined &&
      fake.userWebhooks().some((w) => w.id !== hook.id && w.subscriberUrl === patch.subscriberUrl)
    ) {
      return error(
        409,
        "CONFLICT",
        "Unique constraint failed on the fields: (`userId`,`subscriberUrl`)",
        url,
      );
    }
    for (
      const field of ["subscriberUrl", "triggers", "active", "payloadTemplate", "secret", "version"] as const
    ) {
      if (patch[field] !== undefined) Object.assign(hook, { [field]: patch[field] });
    }
    return Response.json({ status: "success", data: hook });

    /** class-validator's checks and the SSRF check of the subscriber URL; the 400 echoes the body as Cal.com's does. */
    function validate(
      body: Record<string, unknown>,
      creating: boolean,
      urlChanged = creating,
    ): Response | null {
      const errors: Record<string, unknown>[] = [];
      const fail = (property: string, constraints: Record<string, string>) =>
        errors.push({ target: body, value: body[property], property, children: [], constraints });
      if (creating || body.subscriberUrl !== undefined) {
        if (typeof body.subscriberUrl !== "string") {
          fail("subscriberUrl", { isString: "subscriberUrl must be a string" });
        }
      }
      if (creating || body.triggers !== undefined) {
        if (!Array.isArray(body.triggers)) fail("triggers", { isArray: "triggers must be an array" });
        else if (body.triggers.some((t) => !fake.triggers.includes(t))) {
          fail("triggers", {
            isEnum: `each value in triggers must be one of the following values: ${fake.triggers.join(", ")}`,
          });
        }
      }
      if ((creating || body.active !== undefined) && typeof body.active !== "boolean") {
        fail("active", { isBoolean: "active must be a boolean value" });
      }
      if (errors.length > 0) {
        return Response.json({
          status: "error",
          timestamp: new Date().toISOString(),
          path: url.pathname,
          error: { code: "BadRequestException", message: "Bad Request Exception", details: { errors } },
        }, { status: 400 });
      }
      if (urlChanged) {
        const reason = urlNotAllowed(String(body.subscriberUrl));
        if (reason) return error(400, "BadRequestException", `Webhook URL is not allowed: ${reason}`, url);
      }
      return null;
    }
  }

  return Object.assign(fake, {
    url: `http://127.0.0.1:${server.addr.port}/v2`,
    close: () => server.shutdown(),
  });
}

/** Cal.com's SSRF check of a subscriber URL (`validate-webhook-url.ts`): https, public, not a metadata host. */
function urlNotAllowed(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "Invalid URL format";
  }
  if (url.protocol !== "https:") return "Only HTTPS URLs are allowed";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host === "metadata.google.internal" || host === "169.254.169.254") {
    return "Blocked hostname";
  }
  if (
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|0\.)/.test(host) || host === "::1" ||
    /^f[cd]/i.test(host)
  ) {
    return "Private IP address";
  }
  return null;
}

function error(status: number, code: string, message: string, url: URL): Response {
  return Response.json({
    status: "error",
    timestamp: new Date().toISOString(),
    path: url.pathname + url.search,
    error: { code, message },
  }, { status });
}

/** A booking as `GET /v2/bookings` shows it (the fixture's shape), with `overrides`. */
export function apiBooking(uid: string, overrides: Partial<ApiBooking> & Record<string, unknown> = {}) {
  const email = (overrides.email as string | undefined) ?? `${uid.toLowerCase()}@example.org`;
  const { email: _email, ...rest } = overrides;
  return {
    id: Math.floor(Math.random() * 1e6),
    uid,
    title: `Consultation ${uid}`,
    description: null,
    hosts: [{
      id: 1207,
      name: "Dana Whitfield",
      email: "dana@northwind-advisory.test",
      displayEmail: "dana@northwind-advisory.test",
      username: "dana",
      timeZone: "Europe/Berlin",
    }],
    status: "accepted",
    cancellationReason: "",
    cancelledByEmail: "",
    start: "2026-12-10T09:00:00.000Z",
    end: "2026-12-10T09:30:00.000Z",
    duration: 30,
    eventTypeId: 55102,
    eventType: { id: 55102, slug: "30min" },
    meetingUrl: null,
    location: "Main Street 1",
    absentHost: false,
    createdAt: "2026-11-20T10:00:00.000Z",
    updatedAt: "2026-11-20T10:00:00.000Z",
    metadata: {},
    rating: null,
    icsUid: `${uid}@Cal.com`,
    attendees: [{
      name: "Priya Raman",
      email,
      displayEmail: email,
      timeZone: "America/Toronto",
      language: "en",
      absent: false,
    }],
    bookingFieldsResponses: { email, name: "Priya Raman" },
    ...rest,
  };
}

/** `count` bookings `<prefix>-000`, `<prefix>-001`, …, changed a minute apart from 2026-11-01 (paging tests). */
export function minuteApart(prefix: string, count: number) {
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(Date.UTC(2026, 10, 1) + i * 60_000).toISOString();
    return apiBooking(`${prefix}-${String(i).padStart(3, "0")}`, { updatedAt: at, createdAt: at });
  });
}
