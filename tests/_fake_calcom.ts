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
 * Cal.com's rate limit of 120 requests a minute per key. And the booking actions write-back sends
 * (`POST /v2/bookings/{uid}/cancel|reschedule|mark-absent|confirm|decline`): each changes the booking
 * as Cal.com does (a reschedule makes a new uid and cancels the old one with `rescheduledToUid`),
 * refuses what Cal.com refuses (a cancelled or past booking, a taken slot), and fires the matching
 * webhook back, signed with the client's secret (`echo`), as Cal.com would: including the open bug
 * where a reschedule fires BOOKING_REQUESTED instead of BOOKING_RESCHEDULED.
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
  /** Where each action's webhook is fired (the client's webhook URL and its secret); null: never fired. */
  echo: { url: string; secret: string } | null;
  /** Reschedules fire BOOKING_REQUESTED instead of BOOKING_RESCHEDULED (Cal.com's open bug). */
  rescheduleAsRequested: boolean;
  /** Starts no longer free: a reschedule to one is refused. */
  takenSlots: Set<string>;
  /** Every action that changed a booking, in order. */
  actions: { uid: string; action: string; body: Record<string, unknown> }[];
  /** An action is applied, then its answer (and echo) held this long (a crash can fall in between). */
  holdActionMs: number;
  /** The echo is fired this long after the answer (0: before it, as a fast Cal.com's can arrive first). */
  echoDelayMs: number;
  /** Webhooks fired back, with what the service answered. */
  echoes: { trigger: string; status: number }[];
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
    echo: null,
    rescheduleAsRequested: false,
    takenSlots: new Set(),
    actions: [],
    holdActionMs: 0,
    echoDelayMs: 0,
    echoes: [],
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
    if (url.pathname === "/v2/slots" && req.method === "GET") {
      const start = Date.parse(url.searchParams.get("start") ?? "");
      if (!url.searchParams.get("eventTypeId") || !Number.isFinite(start)) {
        return error(400, "BadRequestException", "eventTypeId, start and end are required", url);
      }
      // Two free hours a day, skipping the taken ones.
      const day = new Date(start).toISOString().slice(0, 10);
      const slots = [`${day}T09:00:00.000Z`, `${day}T14:00:00.000Z`].filter((t) => !fake.takenSlots.has(t));
      return Response.json({ status: "success", data: { [day]: slots.map((t) => ({ start: t })) } });
    }
    const all = [...fake.bookings.values()];
    if (req.headers.get("cal-api-version") !== "2024-08-13") {
      // What Cal.com does with a missing or unknown version: the legacy handler and its shape.
      return Response.json({
        status: "success",
        data: { bookings: all, recurringInfo: [], nextCursor: null },
      });
    }
    const acted = url.pathname.match(
      /^\/v2\/bookings\/([^/]+)\/(cancel|reschedule|mark-absent|confirm|decline)$/,
    );
    if (acted && req.method === "POST") return await act(decodeURIComponent(acted[1]), acted[2], req, url);
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

  /** One booking action, as Cal.com's v2 controllers do it; the changed booking is answered and echoed. */
  async function act(uid: string, action: string, req: Request, url: URL): Promise<Response> {
    const body = await req.json().catch(() => ({})) as Record<string, unknown>;
    const booking = fake.bookings.get(uid);
    if (!booking) {
      return error(404, "NotFoundException", `Booking with uid=${uid} was not found in the database`, url);
    }
    const status = String(booking.status);
    const now = new Date().toISOString();
    const closed = status === "cancelled" || status === "rejected";
    let changed: Record<string, unknown>;
    let trigger: string;
    let old: Record<string, unknown> | null = null;
    if (action === "cancel") {
      if (closed) return error(400, "BadRequestException", "This booking has already been cancelled.", url);
      if (Date.parse(String(booking.end ?? booking.start)) < Date.now()) {
        return error(400, "BadRequestException", "Cannot cancel a past booking.", url);
      }
      changed = {
        ...booking,
        status: "cancelled",
        cancellationReason: body.cancellationReason ?? "",
        updatedAt: now,
      };
      trigger = "BOOKING_CANCELLED";
    } else if (action === "reschedule") {
      if (closed) {
        return error(
          400,
          "BadRequestException",
          `Can't reschedule booking with uid=${uid} because it has been cancelled.`,
          url,
        );
      }
      const start = String(body.start ?? "");
      if (!Number.isFinite(Date.parse(start))) {
        return error(400, "BadRequestException", "start must be a valid ISO 8601 date.", url);
      }
      if (fake.takenSlots.has(new Date(start).toISOString())) {
        return error(
          400,
          "BadRequestException",
          "User either already has booking at this time or is not available",
          url,
        );
      }
      const length = Date.parse(String(booking.end)) - Date.parse(String(booking.start));
      const newUid = `${uid}-r${fake.actions.length + 1}`;
      old = { ...booking, status: "cancelled", rescheduledToUid: newUid, updatedAt: now };
      changed = {
        ...booking,
        uid: newUid,
        id: Number(booking.id ?? 0) + 1000,
        start: new Date(start).toISOString(),
        end: new Date(Date.parse(start) + length).toISOString(),
        rescheduledFromUid: uid,
        reschedulingReason: body.reschedulingReason ?? null,
        status: "accepted",
        createdAt: now,
        updatedAt: now,
      };
      fake.bookings.set(uid, old);
      trigger = fake.rescheduleAsRequested ? "BOOKING_REQUESTED" : "BOOKING_RESCHEDULED";
    } else if (action === "mark-absent") {
      const absent = new Set(
        ((body.attendees ?? []) as { email: string; absent: boolean }[])
          .filter((a) => a.absent).map((a) => a.email),
      );
      changed = {
        ...booking,
        absentHost: body.host === true ? true : booking.absentHost,
        attendees: (booking.attendees as { email: string }[]).map((a) => ({
          ...a,
          absent: absent.has(a.email),
        })),
        updatedAt: now,
      };
      trigger = "BOOKING_NO_SHOW_UPDATED";
    } else {
      if (status !== "pending") {
        return error(400, "BadRequestException", `Booking with uid=${uid} is not pending confirmation.`, url);
      }
      changed = action === "confirm"
        ? { ...booking, status: "accepted", updatedAt: now }
        : { ...booking, status: "rejected", updatedAt: now };
      trigger = action === "confirm" ? "BOOKING_CREATED" : "BOOKING_REJECTED";
    }
    fake.bookings.set(String(changed.uid), changed);
    fake.actions.push({ uid, action, body });
    if (fake.holdActionMs) await new Promise((r) => setTimeout(r, fake.holdActionMs));
    if (fake.echo && fake.echoDelayMs) {
      const [t, c, o] = [trigger, changed, old];
      pendingEchoes.push(new Promise((r) => setTimeout(r, fake.echoDelayMs)).then(() => fireEcho(t, c, o)));
    } else if (fake.echo) await fireEcho(trigger, changed, old);
    return Response.json({ status: "success", data: changed }, {
      status: action === "reschedule" ? 201 : 200,
    });
  }

  /** The webhook Cal.com fires for a changed booking, in its webhook shape, signed. */
  async function fireEcho(trigger: string, b: Record<string, unknown>, old: Record<string, unknown> | null) {
    const attendees = (b.attendees as Record<string, unknown>[]).map((a) => ({
      email: a.email,
      name: a.name,
      timeZone: a.timeZone,
      language: { locale: "en" },
      ...(trigger === "BOOKING_NO_SHOW_UPDATED" ? { noShow: a.absent === true } : {}),
    }));
    const payload: Record<string, unknown> = trigger === "BOOKING_NO_SHOW_UPDATED"
      ? {
        message: "x of y attendees marked as no-show",
        bookingUid: b.uid,
        bookingId: b.id,
        attendees: attendees.map((a) => ({ email: a.email, noShow: a.noShow })),
      }
      : {
        uid: b.uid,
        bookingId: b.id,
        title: b.title,
        startTime: b.start,
        endTime: b.end,
        attendees,
        organizer: { email: "owner@business.example", name: "Owner", timeZone: "America/Denver" },
        responses: { email: { label: "email_address", value: attendees[0]?.email } },
        status: String(b.status).toUpperCase(),
        ...(trigger === "BOOKING_CANCELLED" ? { cancellationReason: b.cancellationReason } : {}),
        ...(trigger === "BOOKING_REJECTED" ? { rejectionReason: "declined" } : {}),
        ...(old
          ? { rescheduleUid: old.uid, rescheduleStartTime: old.start, rescheduleEndTime: old.end }
          : {}),
      };
    const text = JSON.stringify({ triggerEvent: trigger, createdAt: new Date().toISOString(), payload });
    const key = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(fake.echo!.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)));
    const signature = [...mac].map((x) => x.toString(16).padStart(2, "0")).join("");
    const res = await fetch(fake.echo!.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-cal-signature-256": signature },
      body: text,
    });
    await res.body?.cancel();
    fake.echoes.push({ trigger, status: res.status });
  }

  const pendingEchoes: Promise<void>[] = [];

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
    close: async () => {
      await Promise.allSettled(pendingEchoes);
      await server.shutdown();
    },
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
