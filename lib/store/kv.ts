/**
 * Opening Deno KV, and the small helpers every store module shares (bounded OCC retry, batched
 * reads, cursor pagination).
 */
import { concatBytes } from "../bytes.ts";
import { sleep } from "../time.ts";
import { healthKey } from "./keys.ts";
import { sha256Hex } from "../domain/ids.ts";

/**
 * SQLite page size of a new local KV file. Deno KV stores each entry as one row of a B-tree; a row
 * larger than about a quarter of a page spills into overflow pages, which roughly doubles what
 * writing it costs. With SQLite's default 4 KiB pages that limit is ~1 KB, below every submission
 * (a Cal.com body is 1–4 KB, plus its metadata); with 16 KiB pages rows up to ~4 KB stay in place.
 * Measured on ingest: about a third less SQLite work per webhook, ~20 % more webhooks per second.
 */
export const LOCAL_KV_PAGE_SIZE = 16384;

/**
 * Opens KV at a local path (creating its folder and file), `:memory:`, a KV Connect URL (with
 * `accessToken`), or, for null, the database attached to a Deno Deploy app.
 */
export async function openKv(path: string | null, accessToken: string | null = null): Promise<Deno.Kv> {
  // Null is Deploy's attached KV there, and a local SQLite file under `deno run --location`.
  if (path === null) return patientKv(await Deno.openKv());
  if (isRemoteKvPath(path) && accessToken) Deno.env.set("DENO_KV_ACCESS_TOKEN", accessToken);
  if (isLocalKvFile(path)) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir) await Deno.mkdir(dir, { recursive: true });
    await createKvFile(path);
  }
  // Processes opening a new file at once race to create KV's tables: the loser sees it locked.
  // Opening can wait longer than a commit: it happens once per process.
  const kv = await whileLocked(() => Deno.openKv(path), 2);
  return isLocalKvFile(path) ? patientKv(kv) : kv;
}

/**
 * Creates an empty SQLite file with LOCAL_KV_PAGE_SIZE pages where none exists yet; Deno KV then
 * builds its tables in it. An existing file keeps the page size it was created with. Best effort:
 * if this fails (a process creating the same file at the same moment, no `node:sqlite`), KV opens
 * the file with SQLite's default pages, and `Deno.openKv` reports any real problem with the path.
 */
async function createKvFile(path: string): Promise<void> {
  if (await kvFileExists(path)) return;
  try {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    try {
      // The page size is fixed by the first write; a throwaway table makes one.
      db.exec(
        `PRAGMA page_size = ${LOCAL_KV_PAGE_SIZE}; CREATE TABLE IF NOT EXISTS page_size_set (x); DROP TABLE IF EXISTS page_size_set;`,
      );
    } finally {
      db.close();
    }
  } catch {
    // Default pages: slower writes, nothing else changes.
  }
}

export function isRemoteKvPath(path: string): boolean {
  return /^https?:\/\//i.test(path);
}

/** Whether `path` is a KV file on this machine: not `:memory:`, KV Connect, or (null) Deploy's attached KV. */
export function isLocalKvFile(path: string | null): path is string {
  return path !== null && path !== ":memory:" && !isRemoteKvPath(path);
}

/** Whether a local KV file is there already (`openKv` creates a missing one, empty). */
export async function kvFileExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * SQLite answers "database is locked" when another process (or another connection of this one)
 * holds the write lock a moment too long (several processes on one KV file; Deno 2.5 does not wait
 * for it): a write that met it is tried again, a bounded number of times with a jittered backoff,
 * before the error is let through.
 */
const MAX_LOCKED_ATTEMPTS = 20;

export function isLocked(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(error instanceof Error ? error.message : String(error));
}

/**
 * A KV whose every write (an atomic commit, a set, a delete) waits out another connection's write
 * lock, so no caller has to remember to: one missed call was a 500 on an erasure.
 */
function patientKv(kv: Deno.Kv): Deno.Kv {
  return new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      if (prop === "atomic") return () => patientAtomic(target.atomic());
      if (prop === "set" || prop === "delete") {
        return (...args: unknown[]) => whileLocked(() => value.apply(target, args));
      }
      return value.bind(target);
    },
  });
}

function patientAtomic(op: Deno.AtomicOperation): Deno.AtomicOperation {
  // An AtomicOperation keeps its checks and mutations: committing it again sends the same write.
  const proxy: Deno.AtomicOperation = new Proxy(op, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      if (prop === "commit") return () => whileLocked(() => target.commit());
      return (...args: unknown[]) => {
        value.apply(target, args);
        return proxy;
      };
    },
  });
  return proxy;
}

/**
 * Runs `attempt` again while it fails on the database's write lock: at most MAX_LOCKED_ATTEMPTS
 * times, with a jittered backoff (`scale` times longer for callers that can afford to wait).
 */
async function whileLocked<T>(attempt: () => Promise<T>, scale = 1): Promise<T> {
  for (let n = 1;; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLocked(error) || n >= MAX_LOCKED_ATTEMPTS) throw error;
      await sleep(scale * (2 + Math.random() * Math.min(100, 5 * n)));
    }
  }
}

/** Thrown when an optimistic transaction keeps losing races; callers treat it as retryable. */
export class ConflictError extends Error {
  constructor(what: string, attempts: number) {
    super(`${what}: still conflicting after ${attempts} attempts`);
    this.name = "ConflictError";
  }
}

export const MAX_OCC_ATTEMPTS = 12;

/**
 * Runs read → decide → atomic commit until the commit's versionstamp checks pass, at most
 * MAX_OCC_ATTEMPTS times with a short jittered backoff. `attempt` returns null when there is
 * nothing to write.
 */
export async function withOccRetry<T>(
  what: string,
  attempt: () => Promise<{ op: Deno.AtomicOperation; result: T } | { op: null; result: T }>,
): Promise<T> {
  for (let i = 0; i < MAX_OCC_ATTEMPTS; i++) {
    const { op, result } = await attempt();
    if (op === null) return result;
    if ((await op.commit()).ok) return result;
    await sleep(Math.random() * (2 ** Math.min(i, 6)));
  }
  throw new ConflictError(what, MAX_OCC_ATTEMPTS);
}

/** `getMany` for any number of keys (KV allows 10 per call), the calls in flight together. */
export async function getAll<T>(kv: Deno.Kv, keys: readonly Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
  const calls: Promise<Deno.KvEntryMaybe<T>[]>[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    calls.push(kv.getMany<T[]>(keys.slice(i, i + 10) as Deno.KvKey[]));
  }
  return (await Promise.all(calls)).flat();
}

/** A listing cursor that KV cannot continue from (garbled, or from another listing). */
export class InvalidCursorError extends Error {
  constructor() {
    super("invalid cursor");
    this.name = "InvalidCursorError";
  }
}

/**
 * A value stored in parts (raw bodies and Jobs too large for one value), read back in one piece;
 * a missing part is an error, named by `missing(n)`.
 */
export async function readParts(
  kv: Deno.Kv,
  keys: readonly Deno.KvKey[],
  missing: (n: number) => string,
): Promise<Uint8Array<ArrayBuffer>> {
  const parts = await getAll<Uint8Array>(kv, keys);
  const gap = parts.findIndex((p) => !p.value);
  if (gap >= 0) throw new Error(missing(gap));
  return concatBytes(parts.map((p) => p.value!));
}

export interface Page<T> {
  items: T[];
  cursor: string | null;
}

/**
 * One page of a prefix, oldest first, keeping entries `keep` accepts. Scans at most `scanLimit`
 * entries so a sparse filter still answers promptly (with a cursor to continue).
 */
export async function listPage<T, V = T>(
  kv: Deno.Kv,
  prefix: Deno.KvKey,
  opts: {
    limit: number;
    cursor?: string;
    keep?: (value: T) => boolean;
    view?: (value: T) => V;
    reverse?: boolean;
  },
  scanLimit = 5000,
): Promise<Page<V>> {
  const iter = kv.list<T>({ prefix }, {
    cursor: opts.cursor ? openCursor(prefix, opts.cursor) : undefined,
    batchSize: 500,
    reverse: opts.reverse,
  });
  const items: V[] = [];
  let scanned = 0;
  let cursor: string | null = null;
  while (true) {
    let next: IteratorResult<Deno.KvEntry<T>>;
    try {
      next = await iter.next();
    } catch (error) {
      // KV refuses a cursor it cannot decode when the listing starts.
      if (opts.cursor && scanned === 0) throw new InvalidCursorError();
      throw error;
    }
    if (next.done) break;
    scanned++;
    const value = next.value.value;
    if (!opts.keep || opts.keep(value)) items.push(opts.view ? opts.view(value) : value as unknown as V);
    if (items.length >= opts.limit || scanned >= scanLimit) {
      cursor = iter.cursor;
      break;
    }
  }
  if (cursor !== null) {
    // Only report a cursor when something follows it.
    const more = kv.list({ prefix }, { cursor, limit: 1 });
    if ((await more.next()).done) cursor = null;
  }
  return { items, cursor: cursor === null ? null : sealCursor(prefix, cursor) };
}

/**
 * Listing cursors carry a tag of their listing: KV decodes many made-up strings into a position
 * (and would answer a page), and a cursor of one listing or client would continue another.
 */
function cursorTag(prefix: Deno.KvKey, cursor: string): string {
  return sha256Hex(`${JSON.stringify(prefix)}\n${cursor}`).slice(0, 16);
}

function sealCursor(prefix: Deno.KvKey, cursor: string): string {
  return `${cursor}.${cursorTag(prefix, cursor)}`;
}

function openCursor(prefix: Deno.KvKey, sealed: string): string {
  const dot = sealed.lastIndexOf(".");
  const cursor = sealed.slice(0, dot);
  if (dot < 1 || sealed.slice(dot + 1) !== cursorTag(prefix, cursor)) throw new InvalidCursorError();
  return cursor;
}

/** Resolves once KV answers a read (health checks). */
export async function checkKv(kv: Deno.Kv): Promise<void> {
  await kv.get(healthKey());
}
