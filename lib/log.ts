/**
 * Structured JSON logging: one line per record on stdout (errors on stderr), each with the request
 * id of the request it happened in (also for work a request started, such as its processing) and,
 * when traces are on, the trace and span ids. Callers pass only fields that are safe to show:
 * never secrets, signatures, tokens or raw bodies.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { nowIso } from "./time.ts";
import { traceIds } from "./trace.ts";

const requestScope = new AsyncLocalStorage<{ request_id: string }>();

/** Runs `fn` with `requestId` on every line logged inside it (and in what it starts). */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return requestScope.run({ request_id: requestId }, fn);
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function jsonLogger(write: (line: string, level: string) => void = batchedStdWrite()): Logger {
  const emit = (level: string) => (msg: string, fields: LogFields = {}) =>
    write(
      JSON.stringify({ ts: nowIso(), level, msg, ...requestScope.getStore(), ...traceIds(), ...fields }),
      level,
    );
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/**
 * Writes the lines logged within one turn of the event loop with one write: requests answered by
 * one group commit log together, and a write per line cost more than the rest of the logging.
 * Errors go to stderr at once (after what is pending, to keep the order); what is pending is also
 * written when the process exits.
 */
export function batchedStdWrite(
  stdout: { writeSync(p: Uint8Array): number } = Deno.stdout,
  stderr: { writeSync(p: Uint8Array): number } = Deno.stderr,
): (line: string, level: string) => void {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    writeAll(stdout, encoder.encode(text));
  };
  globalThis.addEventListener("unload", flush);
  return (line, level) => {
    if (level === "error") {
      flush();
      writeAll(stderr, encoder.encode(line + "\n"));
      return;
    }
    if (pending.length === 0) setTimeout(flush, 0);
    pending.push(line + "\n");
  };
}

function writeAll(target: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length;) offset += target.writeSync(bytes.subarray(offset));
}

/** Collects lines in memory (tests read what would have been logged). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { ...jsonLogger((line) => lines.push(line)), lines };
}
