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
import type { OpsContext } from "../api/context.ts";
import { bodyFields, opInput, queryFields } from "../api/operation.ts";
import { backup as backupLines, restore } from "../admin/backup.ts";
import {
  type CliSpec,
  type Operation,
  OPERATION_LIST,
  type OperationInput,
  pathParams,
} from "../admin/table.ts";
import { type Config, readConfig } from "../config.ts";
import { HttpError } from "../errors.ts";
import { jsonLogger } from "../log.ts";
import { createService } from "../service.ts";
import { sqliteSnapshot } from "../store/backup.ts";
import { isLocalKvFile, kvFileExists, openKv } from "../store/kv.ts";
import { render } from "./render.ts";
import { secretInput, UsageError } from "./secret_input.ts";
import { nearest } from "./suggest.ts";
import { parse as parseEnvFile } from "dotenv";

export { UsageError };

type Values = Record<string, string | boolean | undefined>;

/** How commands reach the store: the local KV (opened only once a command needs it), or a service. */
export interface Targets {
  /** Opens the store the settings name (KV_PATH, KV_ACCESS_TOKEN), as the service would. */
  openLocal: (config: Config) => Promise<{ ctx: OpsContext; close: () => Promise<void> }>;
  env: (name: string) => string | undefined;
  /** Warnings (a secret typed on the command line); stderr. */
  warn: (line: string) => void;
  /** Asks a person to confirm; null where nobody can answer (no terminal). */
  confirm: ((question: string) => boolean) | null;
}

/** A command: an operations-table row, or one of the local-only ones. */
interface Command {
  spec: CliSpec & { summary: string };
  op: Operation | null;
  /** Local-only commands (backup, restore). */
  local?: (ctx: OpsContext, pos: string[], opt: Values, kvPath: string | null) => Promise<unknown>;
  localOptions?: string[];
}

const GLOBAL_OPTIONS = ["json", "help", "url", "token", "env-file"];
const BOOLEAN_OPTIONS = new Set(["json", "help", "yes", "body", "sqlite", "force", "create"]);
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
    local: (ctx, pos, opt, kvPath) => backup(ctx, pos[0], opt.sqlite === true, kvPath),
  },
  {
    spec: {
      command: "restore",
      args: ["file"],
      summary:
        "load a backup into an empty local store (--force: a non-empty one; --create: a KV file that does not exist yet)",
    },
    op: null,
    localOptions: ["force", "create"],
    local: (ctx, pos, opt) => restore(ctx, { lines: readLines(pos[0]), force: opt.force === true }),
  },
];

function lowerFirst(text: string): string {
  return text[0].toLowerCase() + text.slice(1);
}

const COMMANDS: Command[] = [
  ...OPERATION_LIST.flatMap(([, op]) =>
    op.cli ? [{ spec: { ...op.cli, summary: op.cli.summary ?? lowerFirst(op.summary) }, op }] : []
  ),
  ...LOCAL_ONLY,
];

const flagOf = (field: string) => field.replaceAll("_", "-");

/** The query and body fields a row reads. */
function fieldsOf(op: Operation | null): string[] {
  return op ? [...queryFields(op), ...(bodyFields(op) ?? [])] : [];
}

/** The command's options: its row's query and body fields (renamed by `flags`), and its own. */
function optionsOf(c: Command): string[] {
  const { spec, op } = c;
  const renamed = new Map(Object.entries(spec.flags ?? {}).map(([flag, field]) => [field, flag]));
  const fixed = new Set(Object.keys(spec.fixed ?? {}));
  const argNames = new Set((spec.args ?? []).map((a) => a.replaceAll("-", "_")));
  const fields = [...fieldsOf(op)].filter((f) => !fixed.has(f) && !argNames.has(f));
  const options = fields.map((f) => renamed.get(f) ?? flagOf(f));
  if (op?.csv) options.push("out");
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
--token - to read it from standard input), --env-file FILE (read settings such as KV_PATH and
ADMIN_TOKEN from the service's environment file, e.g. /etc/calcom-intake.env; the environment
wins). Secrets (--secret, --api-key) may be given as - too: \`deno task\` echoes its command line.
Commands that destroy data ask for --yes. The local store is KV_PATH (default
./data/calcom-intake.sqlite3; a KV Connect URL with KV_ACCESS_TOKEN reaches a remote store).
Exit codes: 0 done, 1 refused (the message says why), 2 a mistake in the command line.`;

/** Every command's words once, for suggestions and the short usage. */
const COMMAND_NAMES = [...new Set(COMMANDS.map((c) => c.spec.command))];

/** What an unknown command gets: the nearest command's help, or the list of commands. */
function unknownCommand(positionals: string[]): UsageError {
  const typed = positionals.join(" ");
  let best: string | null = null;
  for (const words of [2, 1]) {
    best ??= nearest(
      positionals.slice(0, words).join(" "),
      COMMAND_NAMES.filter((n) => n.split(" ").length === words),
    );
  }
  const more = 'Run "deno task admin --help" for every command and its options.';
  if (best) {
    const rows = COMMANDS.filter((c) => c.spec.command === best);
    return new UsageError(
      `Unknown command "${typed}". Did you mean "${best}"?\n\n${helpOf(rows)}\n\n${more}`,
    );
  }
  return new UsageError(`Unknown command "${typed}". Commands: ${COMMAND_NAMES.join(", ")}.\n\n${more}`);
}

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
  throw positionals.length ? unknownCommand(positionals) : new UsageError(USAGE);
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
  const query = queryFields(op!);
  for (const field of fieldsOf(op)) {
    const flag = renamed.get(field) ?? flagOf(field);
    let value = values[flag];
    if (typeof value !== "string") continue;
    if (SECRET_FLAGS.has(flag)) value = await secretInput(flag, value, null, targets.warn);
    if (query.includes(field)) input.query[field] = value as string;
    else input.body[field] = value;
  }
  for (const [field, value] of Object.entries(spec.fixed ?? {})) input.query[field] = value;
  // One command is one request: a key of its own (a rerun is a new request).
  if (op!.idempotent) input.idempotencyKey = crypto.randomUUID();
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
  const { values, positionals } = parseCommandLine(args, options);
  if (positionals.length === 0 && values.help) return { result: null, text: USAGE };
  const { command, rest } = pick(positionals, values);
  if (values.help) {
    const all = COMMANDS.filter((c) => c.spec.command === command.spec.command);
    return { result: null, text: helpOf(all) };
  }
  const allowed = [...GLOBAL_OPTIONS, ...optionsOf(command)];
  for (const name of Object.keys(values)) {
    if (!allowed.includes(name)) {
      const near = nearest(name, allowed);
      throw new UsageError(
        `"${command.spec.command}" has no --${name}${near ? ` (did you mean --${near}?)` : ""}.\n\n${
          helpOf([command])
        }`,
      );
    }
  }
  refuseServiceUrlAsField(command, values);
  const env = await settingsOf(values, targets);
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
      { name: "ADMIN_TOKEN", value: env("ADMIN_TOKEN") },
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
    const config = readConfig(env);
    await refuseMissingStore(command, values, config.kvPath, env("KV_PATH") === undefined, targets.warn);
    const local = await targets.openLocal(config);
    try {
      result = command.op
        ? await command.op.run(local.ctx, opInput(input!))
        : await command.local!(local.ctx, rest, values, config.kvPath);
    } finally {
      await local.close();
    }
    if (command.op?.csv) result = (result as { csv: string }).csv;
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

/** parseArgs, with an unknown option named as a person typed it (not Node's advice about `--`). */
function parseCommandLine(
  args: string[],
  options: Record<string, { type: "string" | "boolean"; short?: string }>,
) {
  try {
    return parseArgs({ args, allowPositionals: true, options });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const typed = (error as Error).message.match(/'(-[^']*)'/)?.[1];
    if (code !== "ERR_PARSE_ARGS_UNKNOWN_OPTION" || !typed) throw error;
    const near = nearest(typed.replace(/^-+/, "").split("=")[0], Object.keys(options));
    throw new UsageError(
      `Unknown option ${typed}${near ? ` (did you mean --${near}?)` : ""}. ` +
        `"deno task admin <command> --help" lists a command's options.`,
    );
  }
}

/**
 * `--url` is the service's address, so a row's own `url` field (an endpoint's receiver) has another
 * flag; the old spelling, given without it, is refused rather than sent to the receiver as if it
 * were the service.
 */
function refuseServiceUrlAsField(command: Command, values: Values): void {
  const flag = Object.entries(command.spec.flags ?? {}).find(([, field]) => field === "url")?.[0];
  if (!flag || typeof values.url !== "string" || values[flag] !== undefined) return;
  const others = optionsOf(command).filter((o) => o !== flag && values[o] !== undefined);
  // Creating needs the receiver's address; changing with no other field can only have meant it.
  if (command.op?.method !== "POST" && others.length > 0) return;
  throw new UsageError(
    `"${command.spec.command}" takes the receiver's address as --${flag} https://…; --url is the address of ` +
      `the calcom-intake service to send the command to.\n\n${helpOf([command])}`,
  );
}

/** The settings the command reads: the environment, over the service's environment file if given. */
async function settingsOf(values: Values, targets: Targets): Promise<(name: string) => string | undefined> {
  const file = values["env-file"];
  if (typeof file !== "string") return targets.env;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    throw new UsageError(`--env-file ${file} cannot be read: ${(error as Error).message}`);
  }
  const fromFile = parseEnvFile(text);
  return (name) => targets.env(name) ?? fromFile[name];
}

/**
 * Backup and restore work on the service's store; one that does not exist yet would be created
 * empty and backed up (or restored into) where the service never looks, so they refuse instead,
 * before anything is created, naming the path and how to reach the service's store.
 */
async function refuseMissingStore(
  command: Command,
  values: Values,
  kvPath: string | null,
  defaultPath: boolean,
  warn: (line: string) => void,
) {
  if (!isLocalKvFile(kvPath) || await kvFileExists(kvPath)) return;
  const where = `${kvPath}${kvPath.startsWith("/") ? "" : ` (in ${Deno.cwd()})`}`;
  const pointer = `${defaultPath ? "KV_PATH is not set, so this is the default path. " : ""}` +
    `To use the service's store, give the settings it runs with: --env-file /etc/calcom-intake.env on a server ` +
    `set up as docs/deploy.md says, or KV_PATH=/path/to/its.sqlite3.`;
  // Other commands may start a store (a client added before the first start), with a word.
  if (command.op) return warn(`note: no KV store at ${where} yet; a new, empty one is created. ${pointer}`);
  if (command.spec.command === "restore" && values.create) return;
  throw new HttpError(
    409,
    "no_store",
    `There is no KV store at ${where}: "${command.spec.command}" would have created an empty one there. ` +
      pointer +
      (command.spec.command === "restore" ? " To restore into a new store at this path, add --create." : ""),
  );
}

async function backup(ctx: OpsContext, file: string, sqlite: boolean, kvPath: string | null) {
  if (sqlite) {
    if (!isLocalKvFile(kvPath)) {
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
    for await (const line of backupLines(ctx)) {
      await writeAll(out, encoder.encode(line + "\n"));
      entries++;
    }
  } finally {
    out.close();
  }
  if (entries === 0) {
    console.error(`warning: the store at ${kvPath} has no entries; ${file} holds nothing to restore.`);
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
    openLocal: async (config) => {
      const kv = await openKv(config.kvPath, config.kvAccessToken);
      const log = jsonLogger((line) => console.error(line));
      // Inline processing: what a command stores (a reconciliation's bookings) is processed here.
      const service = createService(kv, { ...config, processingMode: "inline" }, log, null);
      return {
        ctx: service.contexts.cli,
        close: async () => {
          await service.idle();
          kv.close();
        },
      };
    },
  });
}
