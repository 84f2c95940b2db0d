/**
 * Backup and restore of a whole store, entry by entry: one JSON line per entry, keys and values in
 * a tagged JSON that keeps every KV value type (Uint8Array, bigint, KvU64, Date, undefined, NaN…),
 * so a restore writes back exactly what was read. Works against any KV (a local file, KV Connect,
 * a Deploy database reached through KV Connect). A backup taken while the service runs is a
 * live copy: entries written meanwhile may or may not be in it; for a consistent snapshot of a
 * local file use `sqliteSnapshot`. Queue messages are not entries: after a restore the sweeper
 * re-drives the batches still pending. The file holds webhook secrets: it is written owner-only.
 */

/** First line of a backup file. */
export interface BackupHeader {
  format: "calcom-intake-backup";
  version: 1;
  created_at: string;
  warning: string;
}

const HEADER_WARNING =
  "Contains every entry of the store, webhook secrets and raw bodies included: keep it as secret as the secrets themselves.";

/** KV allows 1000 mutations and 800 KiB per atomic; values are at most 64 KiB. */
const RESTORE_MAX_MUTATIONS = 500;
const RESTORE_MAX_BYTES = 600 * 1024;

type Tagged =
  | null
  | boolean
  | number
  | string
  | Tagged[]
  | { [key: string]: Tagged };

/** A value as tagged JSON: plain JSON where it is plain, `{"$t": type, "v": …}` where it is not. */
export function encodeValue(value: unknown): Tagged {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (value === undefined) return { $t: "undefined" };
  if (typeof value === "number") {
    if (Number.isFinite(value) && !Object.is(value, -0)) return value;
    return { $t: "number", v: Object.is(value, -0) ? "-0" : String(value) };
  }
  if (typeof value === "bigint") return { $t: "bigint", v: value.toString() };
  if (value instanceof Uint8Array) return { $t: "bytes", v: toBase64(value) };
  if (value instanceof Deno.KvU64) return { $t: "u64", v: value.value.toString() };
  if (value instanceof Date) return { $t: "date", v: value.toISOString() };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (value instanceof Map) {
    return { $t: "map", v: [...value].map(([k, v]) => [encodeValue(k), encodeValue(v)]) };
  }
  if (value instanceof Set) return { $t: "set", v: [...value].map(encodeValue) };
  if (typeof value === "object") {
    const out: { [key: string]: Tagged } = {};
    for (const [k, v] of Object.entries(value)) out[k] = encodeValue(v);
    // A plain object that itself has a "$t" key is wrapped, so decoding cannot mistake it for a tag.
    return "$t" in out ? { $t: "object", v: out } : out;
  }
  throw new Error(`A ${typeof value} cannot be backed up.`);
}

export function decodeValue(tagged: Tagged): unknown {
  if (tagged === null || typeof tagged !== "object") return tagged;
  if (Array.isArray(tagged)) return tagged.map(decodeValue);
  const tag = tagged.$t;
  if (typeof tag !== "string") {
    return Object.fromEntries(Object.entries(tagged).map(([k, v]) => [k, decodeValue(v)]));
  }
  const v = tagged.v;
  switch (tag) {
    case "undefined":
      return undefined;
    case "number":
      return Number(v);
    case "bigint":
      return BigInt(v as string);
    case "bytes":
      return fromBase64(v as string);
    case "u64":
      return new Deno.KvU64(BigInt(v as string));
    case "date":
      return new Date(v as string);
    case "map":
      return new Map((v as Tagged[][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
    case "set":
      return new Set((v as Tagged[]).map(decodeValue));
    case "object":
      return Object.fromEntries(
        Object.entries(v as Record<string, Tagged>).map(([k, x]) => [k, decodeValue(x)]),
      );
  }
  throw new Error(`Unknown tag "${tag}" in the backup.`);
}

/** The header, then every entry of the store, as lines of JSON (without newlines). */
export async function* backupLines(kv: Deno.Kv, now: string): AsyncGenerator<string> {
  const header: BackupHeader = {
    format: "calcom-intake-backup",
    version: 1,
    created_at: now,
    warning: HEADER_WARNING,
  };
  yield JSON.stringify(header);
  for await (const entry of kv.list({ prefix: [] }, { batchSize: 500 })) {
    yield JSON.stringify({ key: entry.key.map(encodeValue), value: encodeValue(entry.value) });
  }
}

export class RestoreRefusedError extends Error {}

/**
 * Writes a backup's entries into `kv`. Refused for a store that has any entry, unless `force`
 * (then entries with the same keys are overwritten and others are left as they are).
 */
export async function restoreLines(
  kv: Deno.Kv,
  lines: AsyncIterable<string>,
  options: { force?: boolean } = {},
): Promise<{ entries: number }> {
  if (!options.force) {
    const first = await kv.list({ prefix: [] }, { limit: 1 }).next();
    if (!first.done) {
      throw new RestoreRefusedError(
        "The target store is not empty. Restore into an empty store, or pass --force to write over it.",
      );
    }
  }
  let header: BackupHeader | null = null;
  let op = kv.atomic();
  let mutations = 0;
  let bytes = 0;
  let entries = 0;
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const parsed = JSON.parse(line);
    if (!header) {
      if (parsed?.format !== "calcom-intake-backup" || parsed?.version !== 1) {
        throw new RestoreRefusedError(
          "This file is not a calcom-intake backup (its first line has no such header).",
        );
      }
      header = parsed;
      continue;
    }
    const key = (parsed.key as Tagged[]).map(decodeValue) as Deno.KvKey;
    const size = line.length;
    if (mutations >= RESTORE_MAX_MUTATIONS || bytes + size > RESTORE_MAX_BYTES) {
      await op.commit();
      op = kv.atomic();
      mutations = 0;
      bytes = 0;
    }
    op.set(key, decodeValue(parsed.value));
    mutations++;
    bytes += size;
    entries++;
  }
  if (!header) throw new RestoreRefusedError("The backup file is empty.");
  if (mutations > 0) await op.commit();
  return { entries };
}

/**
 * A consistent copy of a local KV file taken while it is in use (SQLite's online backup API,
 * which copies one snapshot of the database): the copy opens as a KV store of its own.
 */
export async function sqliteSnapshot(kvPath: string, target: string): Promise<void> {
  const { DatabaseSync, backup } = await import("node:sqlite");
  const db = new DatabaseSync(kvPath, { readOnly: true });
  try {
    await backup(db, target);
  } finally {
    db.close();
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
