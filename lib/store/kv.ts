/**
 * Opening Deno KV, and the small helpers every store module shares (bounded OCC retry, batched
 * reads, cursor pagination).
 */

/** Opens KV at a local path (creating its folder), `:memory:`, or a KV Connect URL. */
export async function openKv(path: string): Promise<Deno.Kv> {
  if (path !== ":memory:" && !isRemoteKvPath(path)) {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir) await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}

export function isRemoteKvPath(path: string): boolean {
  return /^https?:\/\//i.test(path);
}

/** Thrown when an optimistic transaction keeps losing races; callers treat it as retryable. */
export class ConflictError extends Error {
  constructor(what: string, attempts: number) {
    super(`${what}: still conflicting after ${attempts} attempts`);
    this.name = "ConflictError";
  }
}

const MAX_OCC_ATTEMPTS = 12;

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
    await new Promise((r) => setTimeout(r, Math.random() * (2 ** Math.min(i, 6))));
  }
  throw new ConflictError(what, MAX_OCC_ATTEMPTS);
}

/** `getMany` for any number of keys (KV allows 10 per call). */
export async function getAll<T>(kv: Deno.Kv, keys: readonly Deno.KvKey[]): Promise<Deno.KvEntryMaybe<T>[]> {
  const out: Deno.KvEntryMaybe<T>[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    out.push(...await kv.getMany<T[]>(keys.slice(i, i + 10) as Deno.KvKey[]));
  }
  return out;
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
  opts: { limit: number; cursor?: string; keep?: (value: T) => boolean; view?: (value: T) => V },
  scanLimit = 5000,
): Promise<Page<V>> {
  const iter = kv.list<T>({ prefix }, { cursor: opts.cursor || undefined, batchSize: 500 });
  const items: V[] = [];
  let scanned = 0;
  let cursor: string | null = null;
  for await (const entry of iter) {
    scanned++;
    if (!opts.keep || opts.keep(entry.value)) {
      items.push(opts.view ? opts.view(entry.value) : entry.value as unknown as V);
    }
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
  return { items, cursor };
}
