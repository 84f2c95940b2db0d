/**
 * Shared test helpers: a real service over a real KV, called in-process through its handler by
 * default (`{ port: true }` serves it on a real port for tests of the socket itself), signed
 * Cal.com requests, the fixtures (Cal.com's bodies in tests/fixtures, as docs/calcom/webhooks.md
 * describes them), typed admin answers, and polling for asynchronous results.
 */
import assert from "node:assert/strict";
import type { Operations } from "../lib/admin/operations.ts";
import { type Config, readConfig } from "../lib/config.ts";
import { signBody } from "../lib/calcom/signature.ts";
import type { contactView } from "../lib/domain/contact.ts";
import type { jobView } from "../lib/domain/job.ts";
import type { submissionView } from "../lib/domain/submission.ts";
import { memoryLogger } from "../lib/log.ts";
import { createService, type Service } from "../lib/service.ts";
import { openKv } from "../lib/store/kv.ts";
import { meteredKv } from "../lib/store/metered.ts";
import { listenQueue } from "../lib/store/queue.ts";
import { contract } from "./_contract.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const FIXTURE_SECRET = "whsec_fixture_test_secret_123";

export const FIXTURE_NAMES = [
  "booking_created",
  "booking_rescheduled",
  "booking_cancelled",
  "booking_requested",
  "booking_rejected",
  "booking_paid",
  "meeting_ended",
  "booking_no_show_updated",
  "ping",
] as const;
export type FixtureName = typeof FIXTURE_NAMES[number];

/** What the admin API answers, as tests read it. */
export type JobView = ReturnType<typeof jobView>;
export type ContactView = ReturnType<typeof contactView>;
export type SubmissionView = ReturnType<typeof submissionView>;
export type ClientView = Awaited<ReturnType<Operations["showClient"]>>;
export interface ErrorAnswer {
  error: { code: string; message: string };
}
export interface PageAnswer<T> {
  items: T[];
  cursor: string | null;
}

/** The item type of an admin listing, from its path. */
export type ListingOf<P extends string> = P extends `${string}/jobs${string}` ? JobView
  : P extends `${string}/contacts${string}` ? ContactView
  : P extends `${string}/submissions${string}` ? SubmissionView
  : never;

const FIXTURE_DIR = new URL("./fixtures/", import.meta.url);

/** A fixture as Cal.com sends it: compact `JSON.stringify` text, with its published signature. */
export function fixture(
  name: FixtureName,
): { body: string; json: Record<string, unknown>; signature: string } {
  const json = JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, FIXTURE_DIR)));
  const signatures = JSON.parse(Deno.readTextFileSync(new URL("_signatures.json", FIXTURE_DIR)));
  return { body: JSON.stringify(json), json, signature: signatures.files[`${name}.json`].signature };
}

export interface TestServer {
  /** The real port's base URL (`{ port: true }`); otherwise a placeholder the handler ignores. */
  url: string;
  kv: Deno.Kv;
  service: Service;
  logs: string[];
  config: Config;
  /** A request to the service: through its handler, or over the real port. */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  /** Admin API call with the test token; parses the JSON answer. */
  admin: <T = ErrorAnswer>(
    method: string,
    path: string,
    body?: unknown,
  ) => Promise<{ status: number; body: T }>;
  /** Which statuses each documented operation answered (by operationId). */
  answered: Map<string, Set<number>>;
  /** Signs `body` with `secret` and posts it to the client's webhook URL. */
  post: (slug: string, body: string, secret?: string, headers?: Record<string, string>) => Promise<Response>;
  close: () => Promise<void>;
}

export interface ServerOptions {
  mode?: "queue" | "inline";
  kvPath?: string;
  env?: Record<string, string>;
  adminToken?: string | null;
  /** Register the queue listener (default true); false simulates queue messages that never arrive. */
  listen?: boolean;
  /** Serve on a real port (crash, slow-body and raw-TCP tests); in-process otherwise. */
  port?: boolean;
}

export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const env: Record<string, string> = {
    KV_PATH: options.kvPath ?? ":memory:",
    PROCESSING_MODE: options.mode ?? "queue",
    ...(options.adminToken === null ? {} : { ADMIN_TOKEN: options.adminToken ?? ADMIN_TOKEN }),
    ...options.env,
  };
  const config = readConfig((name) => env[name]);
  const kv = await openKv(config.kvPath);
  const log = memoryLogger();
  const service = createService(kv, config, log);
  // As main.ts's startSweeping does: what is due, and the log-head watches that wake outbound.
  await service.outbound.runDue();
  const listener = config.processingMode === "queue" && options.listen !== false
    ? listenQueue(kv, service.queueHandler)
    : null;
  // Every answer of a documented route is checked against the OpenAPI documents (tests/_contract.ts).
  const violations: string[] = [];
  const answered = new Map<string, Set<number>>();
  const handler = contract().wrap(service.handler, violations, answered);
  const server = options.port
    ? Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler)
    : null;
  const url = server ? `http://127.0.0.1:${server.addr.port}` : "http://in-process.test";
  // The test's own connection pool, closed before the server shuts down: a graceful shutdown waits
  // for idle keep-alive connections (on Deno 2.5, for minutes).
  const client = server ? Deno.createHttpClient({}) : null;
  const request = (path: string, init?: RequestInit) =>
    client ? fetch(`${url}${path}`, { ...init, client }) : handler(new Request(`${url}${path}`, init));

  const admin = async <T = ErrorAnswer>(method: string, path: string, body?: unknown) => {
    const res = await request(path, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const post = async (
    slug: string,
    body: string,
    secret = FIXTURE_SECRET,
    headers: Record<string, string> = {},
  ) =>
    await request(`/webhooks/calcom/${slug}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-cal-signature-256": await signBody(secret, body),
        ...headers,
      },
      body,
    });

  return {
    url,
    kv,
    service,
    logs: log.lines,
    config,
    fetch: request,
    answered,
    admin,
    post,
    close: async () => {
      client?.close();
      await server?.shutdown();
      await service.idle();
      kv.close();
      await listener;
      assert.deepEqual(violations, [], "answers that break the OpenAPI contract");
    },
  };
}

/**
 * A service on an in-memory KV wrapped by the bench's meter (inline processing, no disk): what its
 * operations cost in KV units, counted since the last `take()`.
 */
export async function meteredService(overrides: Partial<Config> = {}) {
  const raw = await Deno.openKv(":memory:");
  const { kv, take } = meteredKv(raw);
  const config: Config = {
    ...readConfig(() => undefined),
    kvPath: ":memory:",
    processingMode: "inline",
    ...overrides,
  };
  const service = createService(kv, config, memoryLogger(), null);
  return {
    kv,
    service,
    take,
    close: async () => {
      await service.idle();
      raw.close();
    },
  };
}

/**
 * Posts `body` signed with `secret` to a client's webhook route, as Cal.com does: through
 * `service.handler`, or to a service listening at a base URL; answers the status.
 */
export async function postSigned(
  target: Service | string,
  slug: string,
  body: string,
  secret = FIXTURE_SECRET,
): Promise<number> {
  const base = typeof target === "string" ? target : "http://in-process.test";
  const request = new Request(`${base}/webhooks/calcom/${slug}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-cal-signature-256": await signBody(secret, body) },
    body,
  });
  const res = typeof target === "string" ? await fetch(request) : await target.handler(request);
  await res.body?.cancel();
  return res.status;
}

/** A local outbound receiver that answers 204 to everything and counts what it got. */
export function countingReceiver() {
  let received = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    received++;
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received: () => received,
    close: () => server.shutdown(),
  };
}

/** Runs a command; throws with its stderr when it fails. */
export async function sh(...args: string[]): Promise<void> {
  const out = await new Deno.Command(args[0], { args: args.slice(1), stderr: "piped" }).output();
  if (!out.success) throw new Error(`${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * Another writer filling the disk: 256 KiB chunks a millisecond apart (at most ~250 MB/s) until
 * the filesystem refuses, to the last byte. The service's watch must notice the space going and
 * give up its reserve (and pause its queue) before the last byte is taken, which it cannot do
 * against an instantaneous fill.
 */
export async function fillDisk(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true });
  const chunk = new Uint8Array(256 * 1024).fill(7);
  try {
    while (true) {
      await file.write(chunk);
      await new Promise((r) => setTimeout(r, 1));
    }
  } catch (error) {
    if (!/space/i.test(String(error))) throw error;
  } finally {
    file.close();
  }
}

/** Runs `fn` with a fresh temporary folder and always removes it. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` against a fresh service and always closes it. */
export async function withServer(
  options: ServerOptions,
  fn: (server: TestServer) => Promise<void>,
): Promise<void> {
  const server = await startServer(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/** Creates a client with the fixture secret through the admin API. */
export async function addClient(server: TestServer, slug: string, secret = FIXTURE_SECRET): Promise<void> {
  const res = await server.admin("PUT", `/admin/clients/${slug}`, { name: slug, secret });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`client ${slug}: ${JSON.stringify(res.body)}`);
  }
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until no submission of the client is pending; returns all of them. */
export async function waitSettled(
  server: TestServer,
  slug: string,
  timeoutMs = 15_000,
): Promise<SubmissionView[]> {
  return await waitFor(`submissions of ${slug} to settle`, async () => {
    const all = await listAll(server, `/admin/clients/${slug}/submissions`);
    return all.every((s) => s.status !== "pending") ? all : undefined;
  }, timeoutMs);
}

/** Every item of a paginated admin listing. */
export async function listAll<P extends string>(server: TestServer, path: P): Promise<ListingOf<P>[]> {
  const items: ListingOf<P>[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const res: { status: number; body: PageAnswer<ListingOf<P>> } = await server.admin(
      "GET",
      `${path}${sep}limit=500${cursor ? `&cursor=${cursor}` : ""}`,
    );
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.cursor;
  } while (cursor);
  return items;
}

/** A Cal.com-shaped body: `{triggerEvent, createdAt, payload}` as compact JSON. */
export function calcomBody(
  triggerEvent: string,
  createdAt: string,
  payload: Record<string, unknown>,
): string {
  return JSON.stringify({ triggerEvent, createdAt, payload });
}

/** The order-independent part of a Job: what every arrival order must agree on. */
export function jobState(job: JobView) {
  return {
    calcom_event_id: job.calcom_event_id,
    previous_event_ids: job.previous_event_ids,
    status: job.status,
    title: job.title,
    start_time: job.start_time,
    end_time: job.end_time,
    location: job.location,
    responses: job.responses,
    attendees: job.attendees.map((a) => ({ email: a.email, name: a.name, no_show: a.no_show })),
    cancellation_reason: job.cancellation_reason,
    rejection_reason: job.rejection_reason,
    payment_status: job.payment_status,
    payment_id: job.payment_id,
  };
}

/** A BOOKING_CREATED body for `uid` / `email`, with Cal.com's usual fields. */
export function bookingCreated(
  uid: string,
  email: string,
  createdAt = "2026-10-02T21:14:07.352Z",
  extra = {},
): string {
  return calcomBody("BOOKING_CREATED", createdAt, {
    uid,
    title: `Estimate ${uid}`,
    startTime: "2026-10-14T16:00:00Z",
    endTime: "2026-10-14T17:00:00Z",
    attendees: [{ email, name: "Pat Example", timeZone: "America/Denver", language: { locale: "en" } }],
    organizer: { email: "owner@business.example", name: "Owner", timeZone: "America/Denver" },
    responses: {
      name: { label: "your_name", value: "Pat Example" },
      email: { label: "email_address", value: email },
    },
    status: "ACCEPTED",
    ...extra,
  });
}

/** The value, asserting it is there (a failed lookup fails the test with `what`). */
export function found<T>(value: T | null | undefined, what = "value"): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}, found none`);
  return value;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * `deno task start` as a command: its environment assignments and `deno run`'s arguments, read
 * from deno.json, so a test or the bench runs the service exactly as operators start it.
 */
export function startTask(): { env: Record<string, string>; args: string[] } {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const words: string[] = config.tasks.start.split(/\s+/);
  const env: Record<string, string> = {};
  while (/^[A-Z_][A-Z0-9_]*=/.test(words[0])) {
    const [name, ...value] = words.shift()!.split("=");
    env[name] = value.join("=");
  }
  if (words.shift() !== "deno") {
    throw new Error(`deno.json's start task does not run deno: ${config.tasks.start}`);
  }
  return { env, args: words.map((w) => (w === "main.ts" ? MAIN : w)) };
}

/** `main.ts` running in its own process. */
export interface RunningMain {
  url: string;
  child: Deno.ChildProcess;
  /** Every line it wrote to stdout so far. */
  lines: string[];
  exited: () => boolean;
  /** Admin call with the test token; returns the status. */
  admin: (method: string, path: string, body?: unknown) => Promise<number>;
  /** Every item of a paginated admin listing. */
  list: <P extends string>(path: P) => Promise<ListingOf<P>[]>;
  /** GET with the admin token; the JSON answer (a status other than 200 throws). */
  get: (path: string) => Promise<unknown>;
  /** Sends `signal` (SIGKILL included) and waits until the process is gone. */
  stop: (signal: Deno.Signal) => Promise<void>;
}

/** `command`: how to run it (default: plain `deno run` with the start task's permissions; `startTask()` for exactly the task). */
export async function startMain(
  env: Record<string, string>,
  command: { env: Record<string, string>; args: string[] } = {
    env: {},
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys=statfs", MAIN],
  },
): Promise<RunningMain> {
  const child = new Deno.Command(Deno.execPath(), {
    args: command.args,
    env: { ...command.env, PORT: "0", ADMIN_TOKEN, ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  child.status.then(() => (exited = true));
  const { lines, listening, drained } = readServiceLog(child);
  // Error lines (the logger writes them to stderr) are kept with the others.
  const errors = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      lines.push(...chunk.split("\n"));
    }
  })();
  const url = (await listening).url.replace("0.0.0.0", "127.0.0.1");
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  return {
    url,
    child,
    lines,
    exited: () => exited,
    admin: async (method, path, body) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await res.body?.cancel();
      return res.status;
    },
    get: async (path) => {
      const res = await fetch(`${url}${path}`, { headers });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
      return body;
    },
    list: async <P extends string>(path: P) => {
      const items: ListingOf<P>[] = [];
      let cursor: string | null = null;
      do {
        const res = await fetch(`${url}${path}?limit=500${cursor ? `&cursor=${cursor}` : ""}`, { headers });
        const page: PageAnswer<ListingOf<P>> = await res.json();
        items.push(...page.items);
        cursor = page.cursor;
      } while (cursor);
      return items;
    },
    stop: async (signal) => {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      await child.status;
      await drained.catch(() => {});
      await errors;
    },
  };
}

/** What main.ts logs when it listens. */
export interface ListeningLine {
  url: string;
  platform: string;
  mode: string;
  kv: string;
}

/**
 * Reads a service process's stdout line by line (so it never blocks on a full pipe): every line
 * is kept, and `listening` resolves with its "listening" line (rejects if it exits before).
 */
export function readServiceLog(child: Deno.ChildProcess): {
  lines: string[];
  listening: Promise<ListeningLine>;
  drained: Promise<void>;
} {
  const lines: string[] = [];
  const listening = Promise.withResolvers<ListeningLine>();
  const drained = (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (line.includes('"listening"')) listening.resolve(JSON.parse(line));
      }
    }
    listening.reject(new Error(`main.ts exited before listening:\n${lines.join("\n")}`));
  })();
  return { lines, listening: listening.promise, drained };
}

const ADMIN_CLI = new URL("../lib/cli/admin.ts", import.meta.url).pathname;

/** `deno task admin ...` on `kvPath`, in its own process. */
export async function runAdminCli(
  kvPath: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-env", "--allow-read", "--allow-write", "--allow-net", ADMIN_CLI, ...args],
    env: { KV_PATH: kvPath },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** A change-log entry as the feed answers it. */
export interface FeedEntry {
  id: string;
  type: string;
  job_id: string;
  job_version: number;
  occurred_at: string;
  data: { job: JobView | null; merged_into?: string; changes: Record<string, unknown> };
}

/** Every entry of a client's feed (`/api/v1/clients/{slug}/changes`), page by page, oldest first. */
export async function readFeed(get: (path: string) => Promise<unknown>, slug: string): Promise<FeedEntry[]> {
  const items: FeedEntry[] = [];
  let cursor = "";
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await get(
      `/api/v1/clients/${slug}/changes?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    ) as { items: FeedEntry[]; next_cursor: string; has_more: boolean };
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!page.has_more) return items;
  }
  throw new Error("the feed never ended");
}

/**
 * Replays a client's change log from empty as a consumer would (apply each entry; a merged Job is
 * gone) and checks it: every id once, each Job's versions 1, 2, 3 … in log order, and the result
 * exactly the Jobs the admin API shows. Returns the entries.
 */
export async function assertFeedReplays(
  get: (path: string) => Promise<unknown>,
  slug: string,
  jobs: JobView[],
  what = slug,
): Promise<FeedEntry[]> {
  const entries = await readFeed(get, slug);
  assert.equal(new Set(entries.map((e) => e.id)).size, entries.length, `${what}: no two entries share an id`);
  const held = new Map<string, { version: number; job: JobView | null }>();
  for (const e of entries) {
    const before = held.get(e.job_id)?.version ?? 0;
    assert.equal(
      e.job_version,
      before + 1,
      `${what}: ${e.job_id} goes from version ${before} to ${e.job_version}`,
    );
    held.set(e.job_id, { version: e.job_version, job: e.type === "job.merged" ? null : e.data.job });
  }
  const replayed = [...held.values()].map((h) => h.job).filter((j): j is JobView => j !== null);
  const byId = (a: JobView, b: JobView) => a.id.localeCompare(b.id);
  assert.deepEqual(replayed.sort(byId), [...jobs].sort(byId), `${what}: the replayed log is the Jobs`);
  return entries;
}
