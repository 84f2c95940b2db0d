/**
 * `deno task admin ...`: every admin operation from the command line, against the local KV
 * (KV_PATH, as the service uses it) or a running service (`--url`, with ADMIN_TOKEN). The commands
 * are the operations table's CLI rows (`admin/table.ts`: words, arguments, help, columns), plus
 * backup and restore, which only work where the store is. Tables for people; `--json` for scripts.
 * Exit 0 on success, 1 when the operation or the service refused (the message says why), 2 for a
 * mistake in the command line itself. Replays and reconciliation passes on a local KV run in this
 * process (a queue message from another process would only be picked up at KV's 60 s fallback poll).
 */
import { parseArgs } from "node:util";
import { type AdminTarget, callOperation } from "../admin/client.ts";
import type { AdminOperations } from "../admin/operations.ts";
import {
  type CliSpec,
  type Operation,
  OPERATION_LIST,
  type OperationInput,
  pathParams,
} from "../admin/table.ts";
import { readConfig } from "../config.ts";
import { HttpError } from "../errors.ts";
import { jsonLogger } from "../log.ts";
import { createService } from "../service.ts";
import { sqliteSnapshot } from "../store/backup.ts";
import { isRemoteKvPath, openKv } from "../store/kv.ts";
import { render } from "./render.ts";
import { secretInput, UsageError } from "./secret_input.ts";

export { UsageError };

type Values = Record<string, string | boolean | undefined>;

/** How commands reach the store: the local KV (opened only once a command needs it), or a service. */
export interface Targets {
  openLocal: () => Promise<{ ops: AdminOperations; kvPath: string | null; close: () => Promise<void> }>;
  env: (name: string) => string | undefined;
  /** Warnings (a secret typed on the command line); stderr. */
  warn: (line: string) => void;
  /** Asks a person to confirm; null where nobody can answer (no terminal). */
  confirm: ((question: string) => boolean) | null;
}

/** A command: an operations-table row, or one of the local-only ones. */
interface Command {
  spec: CliSpec;
  op: Operation | null;
  /** Local-only commands (backup, restore). */
  local?: (ops: AdminOperations, pos: string[], opt: Values, kvPath: string | null) => Promise<unknown>;
  localOptions?: string[];
}

const GLOBAL_OPTIONS = ["json", "help", "url", "token"];
const BOOLEAN_OPTIONS = new Set(["json", "help", "yes", "body", "sqlite", "force"]);
/** Flags whose value is a secret: read from stdin with `-`, warned about when typed. */
const SECRET_FLAGS = new Set(["token", "secret", "api-key"]);

const LOCAL_ONLY: Command[] = [
  {
    spec: {
      command: "backup",
      args: ["file"],
      summary:
        "every entry of the local store as NDJSON (secrets included; written owner-only), while the service runs; --sqlite: a consistent SQLite copy of a local KV file",
    },
    op: null,
    localOptions: ["sqlite"],
    local: (ops, pos, opt, kvPath) => backup(ops, pos[0], opt.sqlite === true, kvPath),
  },
  {
    spec: {
      command: "restore",
      args: ["file"],
      summary: "load a backup into an empty local store (--force: a non-empty one)",
    },
    op: null,
    localOptions: ["force"],
    local: (ops, pos, opt) => ops.restore(readLines(pos[0]), opt.force === true),
  },
];

const COMMANDS: Command[] = [
  ...OPERATION_LIST.flatMap(([, op]) => (op.cli ? [{ spec: op.cli, op }] : [])),
  ...LOCAL_ONLY,
];

const flagOf = (field: string) => field.replaceAll("_", "-");

/** The command's options: its row's query and body fields (renamed by `flags`), and its own. */
function optionsOf(c: Command): string[] {
  const { spec, op } = c;
  const renamed = new Map(Object.entries(spec.flags ?? {}).map(([flag, field]) => [field, flag]));
  const fixed = new Set(Object.keys(spec.fixed ?? {}));
  const argNames = new Set((spec.args ?? []).map((a) => a.replaceAll("-", "_")));
  const fields = [...(op?.query ?? []), ...(op?.body ?? [])].filter((f) => !fixed.has(f) && !argNames.has(f));
  const options = fields.map((f) => renamed.get(f) ?? flagOf(f));
  if (op?.answer === "csv") options.push("out");
  if (spec.selectedBy) options.push(spec.selectedBy);
  if (spec.confirm) options.push("yes");
  return [...options, ...(c.localOptions ?? [])];
}

function usageOf(c: Command): string {
  const args = (c.spec.args ?? []).map((a) => (a.startsWith("=") ? a.slice(1) : `<${a}>`)).join(" ");
  const required = new Set((c.spec.required ?? []).map(flagOf));
  const options = optionsOf(c).map((o) =>
    required.has(o) ? `--${o} …` : BOOLEAN_OPTIONS.has(o) ? `[--${o}]` : `[--${o} …]`
  ).join(" ");
  return [c.spec.command, args, options].filter(Boolean).join(" ");
}

export const USAGE = `Usage: deno task admin <command> [options]

${COMMANDS.map((c) => `  ${usageOf(c)}\n      ${c.spec.summary}`).join("\n")}

Every command: --json (JSON for scripts; tables otherwise), --help (that command's help),
--url URL (a running service instead of the local KV; the admin token from ADMIN_TOKEN, or
--token - to read it from standard input). Secrets (--secret, --api-key) may be given as - too:
\`deno task\` echoes its command line. Commands that destroy data ask for --yes.
The local store is KV_PATH (default ./data/calcom-intake.sqlite3; a KV Connect URL with
KV_ACCESS_TOKEN reaches a remote store). Exit codes: 0 done, 1 refused (the message says why),
2 a mistake in the command line.`;

/** The command the words name, picked among rows of the same command by flag and arguments. */
function pick(positionals: string[], values: Values): { command: Command; rest: string[] } {
  for (const words of [2, 1]) {
    const name = positionals.slice(0, words).join(" ");
    const candidates = COMMANDS.filter((c) => c.spec.command === name);
    if (candidates.length === 0) continue;
    const rest = positionals.slice(words);
    const flagged = candidates.find((c) => c.spec.selectedBy && values[c.spec.selectedBy]);
    if (flagged) return { command: flagged, rest };
    const fits = (c: Command) => {
      const args = c.spec.args ?? [];
      return !c.spec.selectedBy && args.length === rest.length &&
        args.every((a, i) => !a.startsWith("=") || rest[i] === a.slice(1));
    };
    const command = candidates.find(fits);
    if (command) return { command, rest };
    if (values.help) return { command: candidates[0], rest };
    throw new UsageError(`${wrongArguments(rest, candidates)}\n\n${helpOf(candidates)}`);
  }
  throw new UsageError(
    positionals.length ? `Unknown command "${positionals.join(" ")}".\n\n${USAGE}` : USAGE,
  );
}

function wrongArguments(rest: string[], candidates: Command[]): string {
  const most = Math.max(...candidates.map((c) => c.spec.args?.length ?? 0));
  if (rest.length > most) return "Too many arguments.";
  const missing = candidates[0].spec.args?.[rest.length];
  return missing && !missing.startsWith("=")
    ? `Give the ${missing}.`
    : "These arguments fit no form of the command.";
}

function helpOf(commands: Command[]): string {
  return commands.map((c) => `Usage: deno task admin ${usageOf(c)}\n\n${c.spec.summary}`).join("\n\n");
}

/** The row's input from the command line: positionals bind to path parameters, then body fields. */
async function inputOf(
  c: Command,
  rest: string[],
  values: Values,
  targets: Targets,
): Promise<OperationInput> {
  const { spec, op } = c;
  const input: OperationInput = { params: {}, query: {}, body: {} };
  const params = pathParams(op!.path);
  const named = (spec.args ?? []).map((a, i) => [a, rest[i]] as const).filter(([a]) => !a.startsWith("="));
  named.forEach(([arg, value], i) => {
    if (i < params.length) input.params[params[i]] = value;
    else input.body[arg.replaceAll("-", "_")] = value;
  });
  const renamed = new Map(Object.entries(spec.flags ?? {}).map(([flag, field]) => [field, flag]));
  for (const field of [...(op!.query ?? []), ...(op!.body ?? [])]) {
    const flag = renamed.get(field) ?? flagOf(field);
    let value = values[flag];
    if (typeof value !== "string") continue;
    if (SECRET_FLAGS.has(flag)) value = await secretInput(flag, value, null, targets.warn);
    if ((op!.query ?? []).includes(field)) input.query[field] = value as string;
    else input.body[field] = value;
  }
  for (const [field, value] of Object.entries(spec.fixed ?? {})) input.query[field] = value;
  for (const field of spec.required ?? []) {
    if (input.query[field] === undefined) {
      throw new UsageError(`Give --${flagOf(field)} (e.g. --${flagOf(field)} failed).\n\n${helpOf([c])}`);
    }
  }
  return input;
}

/** Parses and runs one command; returns its answer as data and as the text it prints. */
export async function runAdmin(args: string[], targets: Targets): Promise<{ result: unknown; text: string }> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const c of COMMANDS) {
    for (const o of optionsOf(c)) options[o] = { type: BOOLEAN_OPTIONS.has(o) ? "boolean" : "string" };
  }
  for (const o of GLOBAL_OPTIONS) options[o] = { type: BOOLEAN_OPTIONS.has(o) ? "boolean" : "string" };
  options.help.short = "h";
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
  if (positionals.length === 0 && values.help) return { result: null, text: USAGE };
  const { command, rest } = pick(positionals, values);
  if (values.help) {
    const all = COMMANDS.filter((c) => c.spec.command === command.spec.command);
    return { result: null, text: helpOf(all) };
  }
  const allowed = new Set([...GLOBAL_OPTIONS, ...optionsOf(command)]);
  for (const name of Object.keys(values)) {
    if (!allowed.has(name)) {
      throw new UsageError(`"${command.spec.command}" has no --${name}.\n\n${helpOf([command])}`);
    }
  }
  if (command.spec.confirm && !values.yes) {
    const question = `This ${command.spec.confirm}. Type "yes" to go on:`;
    if (!targets.confirm) {
      throw new UsageError(`This ${command.spec.confirm}: add --yes to do it.`);
    }
    if (!targets.confirm(question)) throw new UsageError("Not confirmed; nothing was changed.");
  }

  let result: unknown;
  if (typeof values.url === "string") {
    if (!command.op) {
      throw new UsageError(
        `"${command.spec.command}" works on a local KV_PATH only (a backup holds every secret and API key, which no API answer may carry); run it where the store is, or with KV_PATH set to the KV Connect URL.`,
      );
    }
    const token = await secretInput(
      "token",
      typeof values.token === "string" ? values.token : undefined,
      { name: "ADMIN_TOKEN", value: targets.env("ADMIN_TOKEN") },
      targets.warn,
    );
    if (!token) {
      throw new UsageError(
        "Give the service's admin token: ADMIN_TOKEN in the environment, or --token - (stdin).",
      );
    }
    const target: AdminTarget = { url: values.url, token, source: "cli" };
    const name = OPERATION_LIST.find(([, op]) => op === command.op)![0];
    result = await callOperation(target, name, await inputOf(command, rest, values, targets));
  } else {
    const input = command.op ? await inputOf(command, rest, values, targets) : null;
    const local = await targets.openLocal();
    try {
      result = command.op
        ? await command.op.run(local.ops, input!)
        : await command.local!(local.ops, rest, values, local.kvPath);
    } finally {
      await local.close();
    }
    if (command.op?.answer === "csv") result = (result as { csv: string }).csv;
  }
  if (typeof result === "string" && typeof values.out === "string") {
    await Deno.writeTextFile(values.out, result);
    result = { written: values.out };
  }
  return {
    result,
    text: values.json ? JSON.stringify(result, null, 2) : render(result, command.spec.columns),
  };
}

async function backup(admin: AdminOperations, file: string, sqlite: boolean, kvPath: string | null) {
  if (sqlite) {
    if (!kvPath || kvPath === ":memory:" || isRemoteKvPath(kvPath)) {
      throw new UsageError("--sqlite copies a local KV file; this KV_PATH is not one. Leave --sqlite out.");
    }
    await sqliteSnapshot(kvPath, file);
    await Deno.chmod(file, 0o600);
    return { written: file, format: "sqlite" };
  }
  const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  const encoder = new TextEncoder();
  let entries = -1;
  try {
    for await (const line of admin.backup()) {
      await writeAll(out, encoder.encode(line + "\n"));
      entries++;
    }
  } finally {
    out.close();
  }
  return { written: file, format: "ndjson", entries };
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await file.write(bytes.subarray(offset));
}

async function* readLines(file: string): AsyncGenerator<string> {
  const input = await Deno.open(file);
  let buffered = "";
  for await (const chunk of input.readable.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    yield* lines;
  }
  if (buffered) yield buffered;
}

function isUsageError(error: unknown): boolean {
  return error instanceof UsageError || (error instanceof Error && error.name === "TypeError" &&
    "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"));
}

/** Runs the command line; prints the answer or the error; returns the exit code. */
export async function main(args: string[], targets: Targets): Promise<number> {
  if (args.length === 0) {
    console.error(USAGE);
    return 2;
  }
  try {
    console.log((await runAdmin(args, targets)).text);
    return 0;
  } catch (error) {
    const usage = isUsageError(error);
    console.error(error instanceof HttpError || usage ? (error as Error).message : String(error));
    return usage ? 2 : 1;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args, {
    env: (name) => Deno.env.get(name),
    warn: (line) => console.error(line),
    confirm: Deno.stdin.isTerminal() ? (question) => prompt(question)?.trim().toLowerCase() === "yes" : null,
    openLocal: async () => {
      const config = readConfig();
      const kv = await openKv(config.kvPath, config.kvAccessToken);
      const log = jsonLogger((line) => console.error(line));
      // Inline processing: what a command stores (a reconciliation's bookings) is processed here.
      const service = createService(kv, { ...config, processingMode: "inline" }, log, null);
      return {
        ops: service.admins.cli,
        kvPath: config.kvPath,
        close: async () => {
          await service.idle();
          kv.close();
        },
      };
    },
  });
}
