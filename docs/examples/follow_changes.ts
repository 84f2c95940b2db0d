/**
 * A consumer of calcom-intake's change feed: keeps its own copy of one client's Jobs, saving its
 * cursor with the copy after every page so a restart goes on where it stopped, and reads every Job
 * again when its cursor has expired (410). It only needs `fetch`, so it runs under Deno, Node or a
 * browser; `tests/docs/follow_changes_test.ts` runs it against the real service.
 *
 *   INTAKE_URL=https://intake.example.com CLIENT_SLUG=acme-plumbing INTAKE_TOKEN=cit_… \
 *     deno run --allow-net --allow-env --allow-read --allow-write docs/examples/follow_changes.ts
 */

/** A Job as the feed and `/jobs` show it (only what this example reads). */
export interface Job {
  id: string;
  version?: number;
  [field: string]: unknown;
}

export interface Entry {
  id: string;
  type: "job.created" | "job.updated" | "job.rescheduled" | "job.cancelled" | "job.merged" | "job.erased";
  job_id: string;
  job_version: number;
  occurred_at: string;
  data: { job: Job | null; job_trimmed: boolean; job_url: string; merged_into?: string };
}

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

async function get(source: Source, path: string, signal?: AbortSignal): Promise<Response> {
  return await fetch(`${source.url.replace(/\/+$/, "")}/api/v1/clients/${source.slug}${path}`, {
    headers: { authorization: `Bearer ${source.token}` },
    signal,
  });
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
  const job = entry.data.job_trimmed
    ? await (await fetch(`${source.url.replace(/\/+$/, "")}${entry.data.job_url}`, {
      headers: { authorization: `Bearer ${source.token}` },
    })).json() as Job
    : entry.data.job;
  state.jobs[entry.job_id] = { version: entry.job_version, job };
}

/** Reads every Job, then takes the feed's cursor from that answer, so nothing in between is missed. */
export async function resync(source: Source): Promise<State> {
  const state: State = { cursor: null, jobs: {} };
  let cursor = "";
  do {
    const res = await get(source, `/jobs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (!res.ok) throw new Error(`GET /jobs: ${res.status} ${await res.text()}`);
    const page = await res.json() as { items: Job[]; cursor: string | null; changes_cursor: string };
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
  if (!res.ok) throw new Error(`GET /changes: ${res.status} ${await res.text()}`);
  const page = await res.json() as { items: Entry[]; next_cursor: string; has_more: boolean };
  for (const entry of page.items) await apply(source, state, entry);
  state.cursor = page.next_cursor;
  await save(state);
  return { state, more: page.has_more };
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
  let state: State = await Deno.readTextFile(file).then(JSON.parse).catch(() => ({ cursor: null, jobs: {} }));
  while (true) {
    ({ state } = await step(source, state, save));
    console.log(`${Object.keys(state.jobs).length} jobs, cursor ${state.cursor}`);
  }
}
