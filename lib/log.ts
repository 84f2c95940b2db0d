/**
 * Structured JSON logging: one line per record on stdout (errors on stderr). Callers pass only
 * fields that are safe to show: never secrets, signatures, tokens or raw bodies.
 */

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function jsonLogger(write: (line: string, level: string) => void = defaultWrite): Logger {
  const emit = (level: string) => (msg: string, fields: LogFields = {}) =>
    write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }), level);
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function defaultWrite(line: string, level: string): void {
  if (level === "error") console.error(line);
  else console.log(line);
}

/** Collects lines in memory (tests read what would have been logged). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { ...jsonLogger((line) => lines.push(line)), lines };
}
