/**
 * A consumer of calcom-intake's change feed: keeps its own copy of one client's Jobs, saving its
 * cursor with the copy after every page so a restart goes on where it stopped, and reads every Job
 * again when its cursor has expired (410). When the service is away (restarting, a network fault,
 * a 5xx or 429) it waits longer after each failure, up to a minute, and goes on from its cursor;
 * only a refused token stops it. It only needs `fetch`, so it runs under Deno, Node or a browser;
 * `tests/docs/follow_changes_test.ts` runs it against the real service, restarted under it.
 *
 *   INTAKE_URL=https://intake.example.com CLIENT_SLUG=acme-plumbing INTAKE_TOKEN=cit_… \
 *     [STATE_FILE=./jobs-state.json] [WAIT_SECONDS=25] deno run --allow-net --allow-env --allow-read --allow-write docs/examples/follow_changes.ts
 */

import type { components, operations } from "./client_api.d.ts";

// The client API's own types, generated from its OpenAPI document (`deno task contract`, or
// `npx openapi-typescript https://intake.example.com/api/v1/openapi.json`): none written by hand.
export type Job = components["schemas"]["Job"];
export type Entry = components["schemas"]["ChangeEntry"];
type ChangesPage = operations["apiChanges"]["responses"]["200"]["content"]["application/json"];
type JobsPage = operations["apiListJobs"]["responses"]["200"]["content"]["application/json"];

/** What the consumer keeps: where it is in the feed, and its copy of every Job with its version. */
export interface State {
  cursor: string | null;
  jobs: Record<string, { version: number; job: Job }>;
}

export interface Source {
  url: string;
  slug: string;
  /** A client token with `jobs:read` and `changes:read`. */
  token: string;
}

/** A request the service answered with an error; `retry` says whether waiting can help. */
export class FeedError extends Error {
  constructor(readonly status: number, message: string, readonly retryAfterMs: number | null = null) {
    super(message);
  }
  /** 5xx, 429 and 408 pass; a refused token (401, 403) or a wrong slug (404) does not. */
  get retry(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 408;
  }
}

async function get(source: Source, path: string, signal?: AbortSignal): Promise<Response> {
  return await fetch(`${source.url.replace(/\/+$/, "")}/api/v1/clients/${source.slug}${path}`, {
    headers: { authorization: `Bearer ${source.token}` },
    signal,
  });
}

async function failed(what: string, res: Response): Promise<FeedError> {
  const seconds = Number(res.headers.get("retry-after"));
  return new FeedError(
    res.status,
    `${what}: ${res.status} ${await res.text()}`,
    Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null,
  );
}

/**
 * Applies one entry: only when it is newer than the version held (entries can be seen twice, after
 * a restart or from webhooks and the feed both). A merged Job is gone: its bookings are now part of
 * `merged_into`, whose own entry follows.
 */
export async function apply(source: Source, state: State, entry: Entry): Promise<void> {
  const held = state.jobs[entry.job_id];
  if (held && held.version >= entry.job_version) return;
  if (entry.type === "job.merged" || entry.data.job === null) {
    delete state.jobs[entry.job_id];
    return;
  }
  // A Job with very many attendees comes trimmed: read it whole.
  let job = entry.data.job;
  if (entry.data.job_trimmed) {
    const res = await fetch(`${source.url.replace(/\/+$/, "")}${entry.data.job_url}`, {
      headers: { authorization: `Bearer ${source.token}` },
    });
    if (!res.ok) throw await failed(`GET ${entry.data.job_url}`, res);
    job = await res.json() as Job;
  }
  state.jobs[entry.job_id] = { version: entry.job_version, job };
}

/** Reads every Job, then takes the feed's cursor from that answer, so nothing in between is missed. */
export async function resync(source: Source): Promise<State> {
  const state: State = { cursor: null, jobs: {} };
  let cursor = "";
  do {
    const res = await get(source, `/jobs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (!res.ok) throw await failed("GET /jobs", res);
    const page = await res.json() as JobsPage;
    // The first page's changes_cursor was read before any Job: follow from there.
    state.cursor ??= page.changes_cursor;
    for (const job of page.items) state.jobs[job.id] = { version: job.version ?? 0, job };
    cursor = page.cursor ?? "";
  } while (cursor);
  return state;
}

/**
 * One page of the feed (waiting up to `waitSeconds` for one when there is nothing new), applied and
 * saved. Returns whether more is already there.
 */
export async function step(
  source: Source,
  state: State,
  save: (state: State) => Promise<void>,
  options: { waitSeconds?: number; signal?: AbortSignal } = {},
): Promise<{ state: State; more: boolean }> {
  if (state.cursor === null) {
    state = await resync(source);
    await save(state);
  }
  const query = `?limit=500&wait=${options.waitSeconds ?? 25}&cursor=${encodeURIComponent(state.cursor!)}`;
  const res = await get(source, `/changes${query}`, options.signal);
  if (res.status === 410) {
    // The cursor is older than the service keeps: read everything again, then follow.
    await res.body?.cancel();
    state = await resync(source);
    await save(state);
    return { state, more: true };
  }
  if (!res.ok) throw await failed("GET /changes", res);
  const page = await res.json() as ChangesPage;
  for (const entry of page.items) await apply(source, state, entry);
  state.cursor = page.next_cursor;
  await save(state);
  return { state, more: page.has_more };
}

/**
 * Follows the feed until `signal` aborts: each failure that waiting can mend (the service away, a
 * 5xx, a 429) waits longer than the last (1 s doubling to 60 s, with jitter so many consumers do not
 * come back at once, and never less than a Retry-After), then goes on from the state last saved.
 * A refused token or a wrong slug is thrown: retrying cannot mend it.
 */
export async function follow(
  source: Source,
  state: State,
  save: (state: State) => Promise<void>,
  options: {
    waitSeconds?: number;
    signal?: AbortSignal;
    onPage?: (state: State) => void;
    onRetry?: (error: unknown, inMs: number) => void;
    firstRetryMs?: number;
    maxRetryMs?: number;
  } = {},
): Promise<State> {
  const { signal, firstRetryMs = 1000, maxRetryMs = 60_000 } = options;
  let failures = 0;
  while (!signal?.aborted) {
    try {
      ({ state } = await step(source, state, save, options));
      failures = 0;
      options.onPage?.(state);
    } catch (error) {
      if (signal?.aborted) break;
      if (error instanceof FeedError && !error.retry) throw error;
      const backoff = Math.min(maxRetryMs, firstRetryMs * 2 ** failures++) * (0.5 + Math.random() / 2);
      const inMs = Math.max(backoff, error instanceof FeedError ? error.retryAfterMs ?? 0 : 0);
      options.onRetry?.(error, inMs);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, inMs);
        signal?.addEventListener("abort", () => resolve(clearTimeout(timer)), { once: true });
      });
    }
  }
  return state;
}

if (import.meta.main) {
  const need = (name: string) =>
    Deno.env.get(name) ?? (() => {
      throw new Error(`Set ${name}.`);
    })();
  const source = { url: need("INTAKE_URL"), slug: need("CLIENT_SLUG"), token: need("INTAKE_TOKEN") };
  const file = Deno.env.get("STATE_FILE") ?? "./jobs-state.json";
  const save = async (s: State) => {
    await Deno.writeTextFile(`${file}.tmp`, JSON.stringify(s));
    await Deno.rename(`${file}.tmp`, file); // a crash never leaves half a file
  };
  const state: State = await Deno.readTextFile(file).then(JSON.parse).catch(() => ({
    cursor: null,
    jobs: {},
  }));
  await follow(source, state, save, {
    waitSeconds: Number(Deno.env.get("WAIT_SECONDS") ?? 25),
    onPage: (s) => console.log(`${Object.keys(s.jobs).length} jobs, cursor ${s.cursor}`),
    onRetry: (error, inMs) =>
      console.error(
        `${error instanceof Error ? error.message : error}; trying again in ${Math.round(inMs)} ms`,
      ),
  });
}
