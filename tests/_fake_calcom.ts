/**
 * A fake Cal.com API v2 for reconciliation tests: a real HTTP server on port 0 serving
 * `GET /v2/bookings` and `GET /v2/bookings/{uid}` in the documented 2024-08-13 shapes (offset
 * paging computed as Cal.com's `getPagination` does, inclusive `updatedAt` bounds, series reads
 * as arrays), checking `Authorization` and `cal-api-version` as Cal.com does (a missing or unknown
 * version gets the legacy 2024-04-15 shape), and able to answer 429s, 401s and slowly.
 */
import type { ApiBooking } from "../lib/calcom/api.ts";

export const FAKE_API_KEY = "cal_live_fake_0123456789abcdef";

export interface FakeRequest {
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
  /** Whether the key is refused (401). */
  rejectKey: boolean;
  put: (...bookings: Record<string, unknown>[]) => void;
  close: () => Promise<void>;
}

export function startFakeCalcom(apiKey = FAKE_API_KEY): FakeCalcom {
  let inFlight = 0;
  // The server reads these fields at each request, so a test changes the fake's behaviour by setting them.
  const fake: Omit<FakeCalcom, "url" | "close"> = {
    bookings: new Map(),
    requests: [],
    maxInFlight: 0,
    rateLimitNext: 0,
    delayMs: 0,
    rejectKey: false,
    put: (...bookings) => {
      for (const b of bookings) fake.bookings.set(String(b.uid), b);
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    fake.requests.push({
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.get("authorization"),
      version: req.headers.get("cal-api-version"),
    });
    inFlight++;
    fake.maxInFlight = Math.max(fake.maxInFlight, inFlight);
    try {
      if (fake.delayMs) await new Promise((r) => setTimeout(r, fake.delayMs));
      return answer(req, url);
    } finally {
      inFlight--;
    }
  });

  function answer(req: Request, url: URL): Response {
    if (fake.rateLimitNext > 0) {
      fake.rateLimitNext--;
      return error(429, "ThrottlerException", "Too Many Requests", url);
    }
    if (req.headers.get("authorization") !== `Bearer ${apiKey}` || fake.rejectKey) {
      return error(401, "UnauthorizedException", "Invalid API key", url);
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

  return Object.assign(fake, {
    url: `http://127.0.0.1:${server.addr.port}/v2`,
    close: () => server.shutdown(),
  });
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
