/**
 * What the service costs in Deno KV's billing units (for `deno task bench`), counted on a real KV by
 * wrapping it: a read
 * unit per 4 KiB read (a get per key; a listing per 4 KiB it returns), a write unit per 1 KiB
 * written per key (rounded up; a delete or a sum is one), values sized as V8 serialises them (as KV
 * stores them; each state a watch delivers reads its keys). By collection (a key's first part), so a
 * feature's share can be told apart.
 */
import { serialize } from "node:v8";

export interface KvCost {
  atomics: number;
  readUnits: number;
  writeUnits: number;
  bytesWritten: number;
  /** Write units and bytes by collection. */
  byCollection: Record<string, { writeUnits: number; bytes: number }>;
  /** Read units by collection (a listing's, by its prefix's collection). */
  readsByCollection: Record<string, number>;
}

const KIB = 1024;

const empty = (): KvCost => ({
  atomics: 0,
  readUnits: 0,
  writeUnits: 0,
  bytesWritten: 0,
  byCollection: {},
  readsByCollection: {},
});

function keyBytes(key: Deno.KvKey): number {
  return key.reduce<number>((n, part) => n + (typeof part === "symbol" ? 10 : serialize(part).byteLength), 0);
}

function valueBytes(value: unknown): number {
  return serialize(value).byteLength;
}

/** What the KV holds, in bytes as it stores them (keys and values): what a webhook leaves behind is the growth. */
export async function storedBytes(kv: Deno.Kv): Promise<number> {
  let bytes = 0;
  for await (const e of kv.list({ prefix: [] })) bytes += keyBytes(e.key) + valueBytes(e.value);
  return bytes;
}

/** A KV that counts what goes through it; `take()` answers the counts since the last take. */
export function meteredKv(kv: Deno.Kv): { kv: Deno.Kv; take: () => KvCost } {
  let cost = empty();
  const write = (key: Deno.KvKey, bytes: number) => {
    const units = Math.max(1, Math.ceil(bytes / KIB));
    cost.writeUnits += units;
    cost.bytesWritten += bytes;
    const c = (cost.byCollection[String(key[0])] ??= { writeUnits: 0, bytes: 0 });
    c.writeUnits += units;
    c.bytes += bytes;
  };
  const read = (key: Deno.KvKey | undefined, units: number) => {
    cost.readUnits += units;
    const collection = String(key?.[0] ?? "");
    cost.readsByCollection[collection] = (cost.readsByCollection[collection] ?? 0) + units;
  };
  const readEntry = (entry: Deno.KvEntryMaybe<unknown>) => {
    read(entry.key, Math.max(1, Math.ceil((entry.value === null ? 0 : valueBytes(entry.value)) / (4 * KIB))));
  };

  const atomic = () => {
    const op = kv.atomic();
    const pending: (() => void)[] = [];
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        const value = Reflect.get(target, prop);
        if (typeof value !== "function") return value;
        if (prop === "set") {
          return (key: Deno.KvKey, v: unknown, options?: { expireIn?: number }) => {
            pending.push(() => write(key, keyBytes(key) + valueBytes(v)));
            target.set(key, v, options);
            return proxy;
          };
        }
        if (prop === "delete" || prop === "sum" || prop === "min" || prop === "max") {
          return (key: Deno.KvKey, ...rest: unknown[]) => {
            pending.push(() => write(key, keyBytes(key)));
            (value as (...a: unknown[]) => unknown).call(target, key, ...rest);
            return proxy;
          };
        }
        if (prop === "enqueue") {
          return (message: unknown, options?: Record<string, unknown>) => {
            pending.push(() => write(["(queue)"], valueBytes(message)));
            target.enqueue(message, options);
            return proxy;
          };
        }
        if (prop === "commit") {
          return async () => {
            const result = await target.commit();
            if (result.ok) {
              cost.atomics++;
              for (const count of pending) count();
            }
            return result;
          };
        }
        return (...args: unknown[]) => {
          (value as (...a: unknown[]) => unknown).apply(target, args);
          return proxy;
        };
      },
    });
    return proxy;
  };

  const metered = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      if (prop === "atomic") return atomic;
      if (prop === "get") {
        return async (key: Deno.KvKey, options?: { consistency?: Deno.KvConsistencyLevel }) => {
          const entry = await target.get(key, options);
          readEntry(entry);
          return entry;
        };
      }
      if (prop === "getMany") {
        return async (keys: Deno.KvKey[], options?: { consistency?: Deno.KvConsistencyLevel }) => {
          const entries = await target.getMany(keys, options);
          for (const e of entries) readEntry(e);
          return entries;
        };
      }
      if (prop === "list") {
        return (selector: Deno.KvListSelector, options?: Deno.KvListOptions) => {
          const iterator = target.list(selector, options);
          let bytes = 0;
          let counted = false;
          const settle = () => {
            if (counted) return;
            counted = true;
            const prefix = "prefix" in selector ? selector.prefix : "start" in selector ? selector.start : [];
            read(prefix, Math.max(1, Math.ceil(bytes / (4 * KIB))));
          };
          const wrapped = {
            get cursor() {
              return iterator.cursor;
            },
            async next() {
              const step = await iterator.next();
              if (step.done) settle();
              else bytes += keyBytes(step.value.key) + valueBytes(step.value.value);
              return step;
            },
            return(value?: unknown) {
              settle();
              return Promise.resolve({ done: true as const, value });
            },
            [Symbol.asyncIterator]() {
              return wrapped;
            },
          };
          return wrapped;
        };
      }
      if (prop === "watch") {
        // Each state a watch delivers is read: one read of every watched key.
        return (keys: Deno.KvKey[], options?: { raw?: boolean }) =>
          target.watch(keys, options).pipeThrough(
            new TransformStream<Deno.KvEntryMaybe<unknown>[], Deno.KvEntryMaybe<unknown>[]>({
              transform(entries, controller) {
                for (const e of entries) readEntry(e);
                controller.enqueue(entries);
              },
            }),
          );
      }
      if (prop === "set") {
        return async (key: Deno.KvKey, v: unknown, options?: { expireIn?: number }) => {
          const result = await target.set(key, v, options);
          cost.atomics++;
          write(key, keyBytes(key) + valueBytes(v));
          return result;
        };
      }
      if (prop === "delete") {
        return async (key: Deno.KvKey) => {
          await target.delete(key);
          cost.atomics++;
          write(key, keyBytes(key));
        };
      }
      return value.bind(target);
    },
  });
  return {
    kv: metered,
    take: () => {
      const taken = cost;
      cost = empty();
      return taken;
    },
  };
}
