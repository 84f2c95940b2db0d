/**
 * Free space where the KV file lives. Below a floor the service stops taking new deliveries
 * (answering 503) while it keeps processing what is stored, and returns to normal by itself once
 * space comes back. Two reserve files beside the KV file hold space for SQLite, whatever else
 * fills the disk: `<kv file>.reserve` is given up the moment space runs low, so SQLite has room to
 * finish processing, check-point its WAL and run the queue (Deno KV treats a failed queue write as
 * fatal); `<kv file>.reserve-startup` is given up only when the service starts on a low disk, so
 * KV can open (it writes on open) after a restart on a full disk. Both come back with the space.
 * Only local KV files have a disk to watch.
 */
import { statfsSync, type StatsFs } from "node:fs";
import type { Logger } from "../log.ts";
import { isLocalKvFile } from "./kv.ts";

/**
 * How often free space is read in the background (a statfs call: cheap), and how often once it is
 * within twice the floor: the reserve must be given up before another writer takes the last byte,
 * since Deno KV treats a failed queue write as fatal. It is also read, at most as often, on demand.
 */
const CHECK_INTERVAL_MS = 100;
const NEAR_FLOOR_INTERVAL_MS = 10;
const ON_DEMAND_MIN_INTERVAL_MS = 50;
/** Leaving the low state needs this much more than the floor (plus the reserve), so it does not flap. */
const RECOVERY_MARGIN = 1.5;
/** Room for data a volume must have besides the floor, its margin and the reserve. */
const MIN_DATA_BYTES = 16 * 1024 * 1024;

export interface DiskLimits {
  /** Below this many free bytes new deliveries are refused. */
  floorBytes: number;
  /** Size of the reserve file given up when space runs low. */
  reserveBytes: number;
}

export interface DiskState {
  low: boolean;
  free_bytes: number | null;
  floor_bytes: number;
}

/**
 * Below `QUEUE_PAUSE × floor + reserve` free bytes the queue listener is paused (Deno KV's background
 * dequeue is a write it cannot survive failing); it resumes above `QUEUE_RESUME × floor + reserve`.
 * Well above the floor, so the pause happens before a fast writer can take the last byte.
 */
const QUEUE_PAUSE = 2;
const QUEUE_RESUME = 2.5;

/** The folder a path is in ("." for a bare name, "/" at the top). */
function parentOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

/**
 * The volume `dir` is on: a folder KV has not created yet (the first start of a fresh clone) will be
 * created on its nearest existing parent's.
 */
function volumeOf(dir: string): StatsFs {
  for (let folder = dir;;) {
    try {
      return statfsSync(folder);
    } catch (error) {
      const up = parentOf(folder);
      if ((error as { code?: string }).code !== "ENOENT" || up === folder) throw error;
      folder = up;
    }
  }
}

export class DiskWatch {
  #low = false;
  #queueSafe = true;
  #onQueueSafe: ((safe: boolean) => void) | null = null;
  #free: number | null = null;
  #checkedAt = -Infinity;
  #unreadable = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #dir: string;
  readonly #reserve: string;
  readonly #startupReserve: string;

  constructor(kvPath: string, private readonly limits: DiskLimits, private readonly log: Logger) {
    this.#dir = parentOf(kvPath);
    this.#reserve = `${kvPath}.reserve`;
    this.#startupReserve = `${kvPath}.reserve-startup`;
  }

  /** Reads free space now (and gives up or restores the reserve); call before opening KV too. */
  check(): DiskState {
    this.#checkedAt = performance.now();
    try {
      const { bavail, bsize } = volumeOf(this.#dir);
      this.#free = Number(bavail) * Number(bsize);
      this.#unreadable = false;
    } catch (error) {
      // No permission to read free space (`--allow-sys=statfs`).
      if (!this.#unreadable) {
        this.#unreadable = true;
        this.log.warn("free disk space cannot be read; the storage floor is not enforced", {
          error: String(error),
        });
      }
      this.#free = null;
      return this.state;
    }
    const { floorBytes, reserveBytes } = this.limits;
    if (this.#queueSafe && this.#free < QUEUE_PAUSE * floorBytes + reserveBytes) {
      this.#queueSafe = false;
      this.#onQueueSafe?.(false);
    } else if (!this.#queueSafe && this.#free >= QUEUE_RESUME * floorBytes + reserveBytes) {
      this.#queueSafe = true;
      this.#onQueueSafe?.(true);
    }
    if (!this.#low && this.#free < floorBytes) {
      this.#low = true;
      const released = release(this.#reserve);
      this.log.warn("storage low: new deliveries are refused until space comes back", {
        free_bytes: this.#free,
        floor_bytes: floorBytes,
        reserve_released: released,
      });
    } else if (this.#low && this.#free >= floorBytes * RECOVERY_MARGIN + reserveBytes) {
      this.#low = false;
      this.#restoreReserves();
      this.log.info("storage recovered: deliveries are accepted again", { free_bytes: this.#free });
    } else if (!this.#low && this.#free >= floorBytes + reserveBytes) {
      this.#restoreReserves();
    }
    return this.state;
  }

  /**
   * Why the volume can never work with these limits, or null: on a volume smaller than the floor,
   * the room to recover from it and the reserve (plus a little data), no delivery would ever be stored.
   */
  volumeProblem(): string | null {
    let total: number;
    try {
      const { blocks, bsize } = volumeOf(this.#dir);
      total = Number(blocks) * Number(bsize);
    } catch {
      return null; // Reported by the watch itself.
    }
    const { floorBytes, reserveBytes } = this.limits;
    const needed = floorBytes * RECOVERY_MARGIN + reserveBytes + MIN_DATA_BYTES;
    if (total >= needed) return null;
    const mb = (n: number) => Math.round(n / 1048576);
    return `The volume holding the KV file (${this.#dir}) is ${mb(total)} MB, too small for DISK_FLOOR_MB=${
      mb(floorBytes)
    } and DISK_RESERVE_MB=${mb(reserveBytes)}: below ${
      mb(floorBytes)
    } MB free the service refuses deliveries, and it accepts them again only with ${
      mb(floorBytes * RECOVERY_MARGIN + reserveBytes)
    } MB free, so it would never store one. Use a volume of at least ${
      mb(needed)
    } MB, or lower DISK_FLOOR_MB and DISK_RESERVE_MB (e.g. ${Math.max(1, Math.floor(mb(total) / 8))} and ${
      Math.max(1, Math.floor(mb(total) / 16))
    } for this one).`;
  }

  /** Before opening KV: reads free space, and on a low disk also gives up the startup reserve. */
  prepareForOpen(): DiskState {
    const state = this.check();
    if (state.low && release(this.#startupReserve)) {
      this.log.warn("started on a low disk: the startup reserve was given up so KV can open", {
        free_bytes: state.free_bytes,
      });
    }
    return state;
  }

  get state(): DiskState {
    return { low: this.#low, free_bytes: this.#free, floor_bytes: this.limits.floorBytes };
  }

  /** False while free space is too near the floor for KV's queue to take messages safely. */
  get queueSafe(): boolean {
    return this.#queueSafe;
  }

  /** Told each time `queueSafe` changes (the queue listener pauses and resumes by it). */
  onQueueSafe(listener: (safe: boolean) => void): void {
    this.#onQueueSafe = listener;
  }

  /** True while space is below the floor (read again when the last reading is older than 100 ms). */
  low(): boolean {
    if (performance.now() - this.#checkedAt >= ON_DEMAND_MIN_INTERVAL_MS) this.check();
    return this.#low;
  }

  /** Checks in the background until `stop`: every 100 ms, every 10 ms near the floor. */
  start(): void {
    if (this.#timer !== undefined) return;
    const tick = () => {
      const { free_bytes } = this.check();
      const near = free_bytes !== null && free_bytes < 2 * this.limits.floorBytes + this.limits.reserveBytes;
      this.#timer = setTimeout(tick, near ? NEAR_FLOOR_INTERVAL_MS : CHECK_INTERVAL_MS);
      Deno.unrefTimer(Number(this.#timer));
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Writes the reserve files (half the reserve each) where missing; no space after all is harmless. */
  #restoreReserves(): void {
    const half = Math.floor(this.limits.reserveBytes / 2);
    if (half <= 0) return;
    for (const path of [this.#reserve, this.#startupReserve]) writeReserve(path, half);
  }
}

function release(path: string): boolean {
  try {
    Deno.removeSync(path);
    return true;
  } catch {
    return false;
  }
}

function writeReserve(path: string, size: number): void {
  try {
    if (Deno.statSync(path).size >= size) return;
  } catch {
    // Missing: write it.
  }
  try {
    const file = Deno.openSync(path, { write: true, create: true });
    try {
      // Real blocks, not a sparse file: the point is that the space is taken.
      const chunk = new Uint8Array(Math.min(size, 1024 * 1024));
      for (let written = 0; written < size;) {
        written += file.writeSync(chunk.subarray(0, Math.min(chunk.length, size - written)));
      }
      file.syncSync();
    } finally {
      file.close();
    }
  } catch {
    release(path);
  }
}

/** Whether a KV error means the disk is full (SQLite's SQLITE_FULL, or the OS's ENOSPC). */
export function isDiskFull(error: unknown): boolean {
  return /disk is full|SQLITE_FULL|no space left|ENOSPC/i.test(
    error instanceof Error ? error.message : String(error),
  );
}

/** The watch for a local KV file; null for `:memory:`, a remote KV, or the platform's attached KV. */
export function diskWatchFor(kvPath: string | null, limits: DiskLimits, log: Logger): DiskWatch | null {
  if (!isLocalKvFile(kvPath)) return null;
  return new DiskWatch(kvPath, limits, log);
}
