/**
 * Reading a client's change log (written by `plan.ts` in the commit of each Job change): pages in
 * commit order behind signed cursors, the log's current end, waiting for the next commit, and the
 * retention trim that makes older cursors expire. A cursor names a position (a commit's versionstamp
 * and an index in its entries) and carries an HMAC over it and the client, so a made-up cursor or
 * another client's is refused without being read as a position.
 */
import type { ChangeEntry } from "../domain/changes.ts";
import {
  changeHeadKey,
  changeLogKey,
  changeLogPrefix,
  changeLogStateKey,
  feedSecretKey,
  wholeCollection,
} from "./keys.ts";
import { logCount, logEntries, type LogHead, packLog, type StoredLogValue } from "./plan.ts";

/** A position in a client's log: after entry `index` of the commit `versionstamp` ("" and -1: the start). */
export interface LogPosition {
  versionstamp: string;
  index: number;
}

const START: LogPosition = { versionstamp: "", index: -1 };

/** A cursor that is not one this client's feed gave out (garbled, made up, another client's). */
export class InvalidFeedCursorError extends Error {}

/** A cursor older than what retention keeps. */
export class ExpiredFeedCursorError extends Error {}

interface LogState {
  /** Entries of commits up to and including this versionstamp were dropped by retention. */
  trimmed_through: string;
  /** How many entries that last dropped commit had (a cursor at its last one lost nothing). */
  trimmed_through_entries: number;
  trimmed_at: string;
}

/** Whether retention dropped entries after `p` (a cursor there would miss them). */
function expired(p: LogPosition, state: LogState | null): boolean {
  if (!state) return false;
  // A cursor from the very start (an empty log's) lost whatever retention dropped since.
  if (p.versionstamp === "") return true;
  return p.versionstamp < state.trimmed_through ||
    (p.versionstamp === state.trimmed_through && p.index < state.trimmed_through_entries - 1);
}

const utf8 = new TextEncoder();
const CURSOR = /^c1\.([0-9a-f]{0,20})\.(-1|\d{1,4})\.([A-Za-z0-9_-]{22})$/;

/** Signs and checks cursors with a key kept in KV (made once), the same for every instance. */
export class FeedCursors {
  #key: Promise<CryptoKey> | null = null;

  constructor(private readonly kv: Deno.Kv) {}

  async encode(client: string, position: LogPosition): Promise<string> {
    return `c1.${position.versionstamp}.${position.index}.${await this.#mac(client, position)}`;
  }

  async decode(client: string, cursor: string): Promise<LogPosition> {
    const match = CURSOR.exec(cursor);
    if (!match) throw new InvalidFeedCursorError();
    const position = { versionstamp: match[1], index: Number(match[2]) };
    if (match[3] !== await this.#mac(client, position)) throw new InvalidFeedCursorError();
    return position;
  }

  async #mac(client: string, p: LogPosition): Promise<string> {
    const key = await (this.#key ??= feedKey(this.kv));
    const mac = await crypto.subtle.sign(
      "HMAC",
      key,
      utf8.encode(`${client}\n${p.versionstamp}\n${p.index}`),
    );
    const bytes = String.fromCharCode(...new Uint8Array(mac).slice(0, 16));
    return btoa(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  }
}

async function feedKey(kv: Deno.Kv): Promise<CryptoKey> {
  let secret = (await kv.get<Uint8Array>(feedSecretKey())).value;
  if (!secret) {
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    await kv.atomic().check({ key: feedSecretKey(), versionstamp: null }).set(feedSecretKey(), fresh)
      .commit();
    secret = (await kv.get<Uint8Array>(feedSecretKey())).value!;
  }
  return await crypto.subtle.importKey(
    "raw",
    secret as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
}

export interface LogPage {
  items: ChangeEntry[];
  /** The position just after each item (where a reader that has handled it goes on from). */
  positions: LogPosition[];
  /** Where the next page starts: after the last item, or where this one started when it is empty. */
  next: LogPosition;
  hasMore: boolean;
}

/**
 * Up to `limit` entries after `after` (the start when null), oldest first. Throws
 * ExpiredFeedCursorError for a position retention has already dropped.
 */
export async function readLog(
  kv: Deno.Kv,
  client: string,
  after: LogPosition | null,
  limit: number,
): Promise<LogPage> {
  const from = after ?? START;
  if (after && expired(after, (await kv.get<LogState>(changeLogStateKey(client))).value)) {
    throw new ExpiredFeedCursorError();
  }
  const selector = from.versionstamp
    ? { prefix: changeLogPrefix(client), start: changeLogKey(client, from.versionstamp) }
    : { prefix: changeLogPrefix(client) };
  const items: ChangeEntry[] = [];
  const positions: LogPosition[] = [];
  let next = from;
  let hasMore = false;
  for await (const entry of kv.list<StoredLogValue>(selector, { batchSize: Math.min(limit + 1, 500) })) {
    const versionstamp = entry.key[2] as string;
    const first = versionstamp === from.versionstamp ? from.index + 1 : 0;
    const entries = logEntries(entry.value);
    for (let i = first; i < entries.length; i++) {
      if (items.length === limit) {
        hasMore = true;
        break;
      }
      items.push(entries[i]);
      next = { versionstamp, index: i };
      positions.push(next);
    }
    if (hasMore) break;
  }
  return { items, positions, next, hasMore };
}

/**
 * Where a client's log ends: its last commit's versionstamp, and how many entries that commit
 * holds (null for a head written before it said).
 */
export interface HeadPosition {
  versionstamp: string;
  entries: number | null;
}

/** Every client's log head. */
export async function logHeads(kv: Deno.Kv): Promise<Map<string, HeadPosition>> {
  const out = new Map<string, HeadPosition>();
  for await (const e of kv.list<LogHead | string>({ prefix: wholeCollection("change_heads") })) {
    out.set(String(e.key[1]), {
      versionstamp: e.versionstamp,
      entries: typeof e.value === "object" && e.value ? e.value.entries : null,
    });
  }
  return out;
}

/** Whether a position is at the end of the log whose head is `head` (nothing after it to read). */
export function atLogEnd(position: LogPosition | null, head: HeadPosition | undefined): boolean {
  if (!head) return true;
  return head.entries !== null && position !== null && position.versionstamp === head.versionstamp &&
    position.index >= head.entries - 1;
}

/** The log's current end: a cursor there sees only what is committed after it. */
export async function logEnd(kv: Deno.Kv, client: string): Promise<LogPosition> {
  for await (
    const entry of kv.list<StoredLogValue>({ prefix: changeLogPrefix(client) }, { reverse: true, limit: 1 })
  ) {
    return { versionstamp: entry.key[2] as string, index: logCount(entry.value) - 1 };
  }
  const state = (await kv.get<LogState>(changeLogStateKey(client))).value;
  return state ? { versionstamp: state.trimmed_through, index: state.trimmed_through_entries - 1 } : START;
}

/**
 * Resolves when the client's log may have grown (its head key changed), after `ms`, or when `signal`
 * aborts, whichever comes first. A hint to read again, never the feed itself (watch coalesces).
 */
export async function waitForChange(
  kv: Deno.Kv,
  client: string,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  const stream = kv.watch([changeHeadKey(client)]);
  const reader = stream.getReader();
  const timer = Promise.withResolvers<void>();
  const timeout = setTimeout(timer.resolve, ms);
  const abort = () => timer.resolve();
  signal.addEventListener("abort", abort, { once: true });
  try {
    const first = await Promise.race([reader.read(), timer.promise]);
    if (!first || first.done) return;
    const seen = first.value[0].versionstamp;
    while (true) {
      const next = await Promise.race([reader.read(), timer.promise]);
      if (!next || next.done || next.value[0].versionstamp !== seen) return;
    }
  } finally {
    clearTimeout(timeout);
    signal.removeEventListener("abort", abort);
    await reader.cancel().catch(() => {});
  }
}

/** Most keys one `kv.watch` takes. */
export const WATCH_KEYS = 10;

/**
 * Calls `onMove(client)` each time the head of one of `clients`' logs moves (at most WATCH_KEYS
 * clients: one watch), until `signal` aborts. The first state read is the baseline, not a move.
 * Every commit that appends to a log sets its head (`plan.ts`), on any instance, so this hears every
 * writer; watch coalesces, so one call may stand for several commits.
 */
export async function watchHeads(
  kv: Deno.Kv,
  clients: readonly string[],
  onMove: (client: string) => void,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted || clients.length === 0) return;
  const reader = kv.watch(clients.map(changeHeadKey)).getReader();
  const stop = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", stop, { once: true });
  try {
    let seen: (string | null)[] | null = null;
    while (true) {
      const step = await reader.read();
      if (step.done) return;
      const stamps = step.value.map((e) => e.versionstamp);
      if (seen) stamps.forEach((stamp, i) => stamp !== seen![i] && onMove(clients[i]));
      seen = stamps;
    }
  } finally {
    signal.removeEventListener("abort", stop);
    await reader.cancel().catch(() => {});
  }
}

/** Drops the log's commits older than `cutoff` (ISO); returns how many entries went. */
export async function trimLog(kv: Deno.Kv, client: string, cutoff: string, now: string): Promise<number> {
  let dropped = 0;
  let state: LogState | null = null;
  let op = kv.atomic();
  let n = 0;
  for await (const entry of kv.list<StoredLogValue>({ prefix: changeLogPrefix(client) })) {
    if (entry.value.committed_at >= cutoff) break;
    op.delete(entry.key);
    state = {
      trimmed_through: entry.key[2] as string,
      trimmed_through_entries: logCount(entry.value),
      trimmed_at: now,
    };
    dropped += logCount(entry.value);
    if (++n % 500 === 0) {
      await op.set(changeLogStateKey(client), state).commit();
      op = kv.atomic();
    }
  }
  if (state) await op.set(changeLogStateKey(client), state).commit();
  return dropped;
}

/** Rewrites every commit of the log whose entries `scrub` changes (erasing a person). */
export async function scrubChangeLog(
  kv: Deno.Kv,
  client: string,
  scrub: (entries: ChangeEntry[]) => { value: ChangeEntry[]; changed: boolean },
): Promise<void> {
  for await (const entry of kv.list<StoredLogValue>({ prefix: changeLogPrefix(client) })) {
    const { value, changed } = scrub(logEntries(entry.value));
    if (!changed) continue;
    // A rewrite keeps the commit's form, packed or not.
    const log = { committed_at: entry.value.committed_at, entries: value };
    await kv.atomic().check(entry).set(entry.key, "packed" in entry.value ? packLog(log) : log).commit();
  }
}

/** The newest `limit` entries of the client's log, newest first. */
export async function recentChanges(kv: Deno.Kv, client: string, limit: number): Promise<ChangeEntry[]> {
  const out: ChangeEntry[] = [];
  for await (const entry of kv.list<StoredLogValue>({ prefix: changeLogPrefix(client) }, { reverse: true })) {
    for (const e of logEntries(entry.value).reverse()) {
      out.push(e);
      if (out.length === limit) return out;
    }
  }
  return out;
}

/** The entry with this id, or null (a scan of the log: for a resend by hand). */
export async function findEntry(kv: Deno.Kv, client: string, id: string): Promise<ChangeEntry | null> {
  for await (const entry of allChanges(kv, client)) if (entry.id === id) return entry;
  return null;
}

/** The position just before the first entry committed at or after `since` (the log's end when none is). */
export async function positionBefore(kv: Deno.Kv, client: string, since: string): Promise<LogPosition> {
  // Before the oldest entry kept, it starts there: just after what retention dropped (not at the
  // log's start, which retention made an expired position).
  const state = (await kv.get<LogState>(changeLogStateKey(client))).value;
  let position: LogPosition = state
    ? { versionstamp: state.trimmed_through, index: state.trimmed_through_entries - 1 }
    : START;
  for await (const entry of kv.list<StoredLogValue>({ prefix: changeLogPrefix(client) })) {
    if (entry.value.committed_at >= since) return position;
    position = { versionstamp: entry.key[2] as string, index: logCount(entry.value) - 1 };
  }
  return position;
}

/** Every entry of the client's log, oldest first (tests and scans). */
export async function* allChanges(kv: Deno.Kv, client: string): AsyncGenerator<ChangeEntry> {
  for await (const entry of kv.list<StoredLogValue>({ prefix: changeLogPrefix(client) })) {
    yield* logEntries(entry.value);
  }
}
