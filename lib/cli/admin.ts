/**
 * `deno task admin ...`: every admin operation from the command line, against the local KV
 * (KV_PATH, as the service uses it) or a running service (`--url` and its admin token). One table
 * of commands says, for each, its arguments, its help, how it runs on the shared admin operations
 * and which admin API call it is remotely. Tables for people; `--json` for scripts. An error's
 * message goes to stderr with exit 1; a mistake in the command line itself exits 2. Replays and
 * reconciliation passes on a local KV run in this process (a queue message from another process
 * would only be picked up at KV's 60 s fallback poll).
 */
import { parseArgs } from "node:util";
import type { AdminOperations } from "../admin/operations.ts";
import { readConfig } from "../config.ts";
import { HttpError } from "../errors.ts";
import { jsonLogger } from "../log.ts";
import { createService } from "../service.ts";
import { sqliteSnapshot } from "../store/backup.ts";
import { isRemoteKvPath, openKv } from "../store/kv.ts";

/** A mistake in the command line itself (exit 2). */
export class UsageError extends Error {}

type Values = Record<string, string | boolean | undefined>;

interface Args {
  /** Positional arguments after the command words, by the names in `args`. */
  pos: Record<string, string>;
  opt: Values;
}

/** An admin API call, for `--url`. */
interface Remote {
  method: string;
  path: string;
  body?: unknown;
  /** The answer is a file (CSV), not JSON. */
  raw?: boolean;
}

interface Command {
  name: string;
  /** Required positional arguments, then optional ones ending in `?`. */
  args: string[];
  options?: string[];
  summary: string;
  local: (ops: AdminOperations, a: Args, kvPath: string | null) => Promise<unknown>;
  remote?: (a: Args) => Remote;
  /** Columns of the table shown for a listing's items. */
  columns?: string[];
}

const e = encodeURIComponent;
const PAGE_OPTIONS = ["limit", "cursor"];
const pageQuery = (o: Values, extra: Record<string, unknown> = {}) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ limit: o.limit, cursor: o.cursor, ...extra })) {
    if (typeof v === "string" && v !== "") q.set(k, v);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
};
const clientBody = (o: Values) =>
  Object.fromEntries(
    Object.entries({
      name: o.name,
      secret: o.secret,
      calcom_api_key: o["api-key"],
      calcom_api_url: o["api-url"],
      time_zone: o["time-zone"],
      silence_days: o["silence-days"],
    }).filter(([, v]) => v !== undefined),
  );

const COMMANDS: Command[] = [
  {
    name: "client list",
    args: [],
    summary: "list clients (never shows secrets or API keys)",
    local: (ops) => ops.listClients(),
    remote: () => ({ method: "GET", path: "/admin/clients" }),
    columns: ["slug", "name", "webhook_path", "has_api_key", "problems"],
  },
  {
    name: "client show",
    args: ["slug"],
    summary: "one client: webhook path, secret ids, last ping, reconciliation, problems",
    local: (ops, a) => ops.showClient(a.pos.slug),
    remote: (a) => ({ method: "GET", path: `/admin/clients/${e(a.pos.slug)}` }),
  },
  {
    name: "client overview",
    args: ["slug"],
    summary: "one client's numbers and health: Jobs/submissions by status, last delivery, silence",
    local: (ops, a) => ops.clientOverview(a.pos.slug),
    remote: (a) => ({ method: "GET", path: `/admin/clients/${e(a.pos.slug)}/overview` }),
  },
  {
    name: "client add",
    args: ["slug"],
    options: ["name", "secret", "api-key", "api-url", "time-zone", "silence-days"],
    summary:
      'create or update a client (a new secret is printed once); --api-key sets its Cal.com API key (never shown again; "" removes it), --api-url for EU/self-hosted Cal.com',
    local: (ops, a) => ops.putClient(a.pos.slug, clientBody(a.opt)),
    remote: (a) => ({ method: "PUT", path: `/admin/clients/${e(a.pos.slug)}`, body: clientBody(a.opt) }),
  },
  {
    name: "client remove",
    args: ["slug"],
    summary: "delete a client and all of its data",
    local: (ops, a) => ops.deleteClient(a.pos.slug),
    remote: (a) => ({ method: "DELETE", path: `/admin/clients/${e(a.pos.slug)}` }),
  },
  {
    name: "secret add",
    args: ["slug"],
    options: ["secret"],
    summary: "add a secret (rotation); printed once",
    local: (ops, a) => ops.addSecret(a.pos.slug, { secret: a.opt.secret }),
    remote: (a) => ({
      method: "POST",
      path: `/admin/clients/${e(a.pos.slug)}/secrets`,
      body: a.opt.secret ? { secret: a.opt.secret } : {},
    }),
  },
  {
    name: "secret remove",
    args: ["slug", "secret-id"],
    summary: "retire a secret (not the last one)",
    local: (ops, a) => ops.removeSecret(a.pos.slug, a.pos["secret-id"]),
    remote: (a) => ({
      method: "DELETE",
      path: `/admin/clients/${e(a.pos.slug)}/secrets/${e(a.pos["secret-id"])}`,
    }),
  },
  {
    name: "jobs",
    args: ["slug"],
    options: [...PAGE_OPTIONS, "status", "email", "calcom-event-id"],
    summary: "a client's Jobs (filter by --status, --email of any attendee, or --calcom-event-id)",
    local: (ops, a) =>
      ops.listJobs(a.pos.slug, a.opt, a.opt["calcom-event-id"], { status: a.opt.status, email: a.opt.email }),
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/jobs${
        pageQuery(a.opt, {
          status: a.opt.status,
          email: a.opt.email,
          calcom_event_id: a.opt["calcom-event-id"],
        })
      }`,
    }),
    columns: ["id", "status", "start_time", "booker_email", "title", "calcom_event_id"],
  },
  {
    name: "job",
    args: ["slug", "job-id"],
    summary: "one Job",
    local: (ops, a) => ops.getJob(a.pos.slug, a.pos["job-id"]),
    remote: (a) => ({ method: "GET", path: `/admin/clients/${e(a.pos.slug)}/jobs/${e(a.pos["job-id"])}` }),
  },
  {
    name: "timeline",
    args: ["slug", "job-id"],
    summary: "a Job's history: every webhook and API snapshot in Cal.com's time order and what it changed",
    local: (ops, a) => ops.jobTimeline(a.pos.slug, a.pos["job-id"]),
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/jobs/${e(a.pos["job-id"])}/timeline`,
    }),
  },
  {
    name: "contacts",
    args: ["slug"],
    options: PAGE_OPTIONS,
    summary: "a client's Contacts",
    local: (ops, a) => ops.listContacts(a.pos.slug, a.opt),
    remote: (a) => ({ method: "GET", path: `/admin/clients/${e(a.pos.slug)}/contacts${pageQuery(a.opt)}` }),
    columns: ["id", "email", "name", "phone", "time_zone"],
  },
  {
    name: "contact",
    args: ["slug", "contact-id"],
    summary: "one Contact",
    local: (ops, a) => ops.getContact(a.pos.slug, a.pos["contact-id"]),
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/contacts/${e(a.pos["contact-id"])}`,
    }),
  },
  {
    name: "erase",
    args: ["slug", "contact-id"],
    summary:
      "erase a person: the Contact, and their email, name and phone from every Job, event and stored body (cannot be undone; scrubbed bodies cannot be replayed)",
    local: (ops, a) => ops.eraseContact(a.pos.slug, a.pos["contact-id"], true),
    remote: (a) => ({
      method: "DELETE",
      path: `/admin/clients/${e(a.pos.slug)}/contacts/${e(a.pos["contact-id"])}?erase=true`,
    }),
  },
  {
    name: "submissions",
    args: ["slug"],
    options: [...PAGE_OPTIONS, "status"],
    summary: "a client's submissions (--status pending|processed|ignored|failed|quarantined)",
    local: (ops, a) => ops.listSubmissions(a.pos.slug, { ...a.opt, status: a.opt.status }),
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/submissions${pageQuery(a.opt, { status: a.opt.status })}`,
    }),
    columns: ["id", "status", "event_type", "booking_uid", "received_at", "error"],
  },
  {
    name: "submission",
    args: ["slug", "submission-id"],
    options: ["body"],
    summary: "one submission; --body adds its raw body with secrets redacted",
    local: (ops, a) =>
      a.opt.body
        ? ops.submissionDetail(a.pos.slug, a.pos["submission-id"])
        : ops.getSubmission(a.pos.slug, a.pos["submission-id"]),
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/submissions/${e(a.pos["submission-id"])}${
        a.opt.body ? "/body" : ""
      }`,
    }),
  },
  {
    name: "replay",
    args: ["slug", "submission-id?"],
    options: ["status"],
    summary: "re-run one submission, or with --status every submission with that status",
    local: (ops, a) => {
      if (a.pos["submission-id"]) return ops.replayOne(a.pos.slug, a.pos["submission-id"]);
      if (a.opt.status === undefined) {
        throw new UsageError("Give a submission id or --status (e.g. --status failed).");
      }
      return ops.replayAll(a.pos.slug, a.opt.status);
    },
    remote: (a) => {
      if (a.pos["submission-id"]) {
        return {
          method: "POST",
          path: `/admin/clients/${e(a.pos.slug)}/submissions/${e(a.pos["submission-id"])}/replay`,
        };
      }
      if (a.opt.status === undefined) {
        throw new UsageError("Give a submission id or --status (e.g. --status failed).");
      }
      return {
        method: "POST",
        path: `/admin/clients/${e(a.pos.slug)}/replay?status=${e(String(a.opt.status))}`,
      };
    },
  },
  {
    name: "reconcile",
    args: ["slug"],
    summary: "one reconciliation pass with Cal.com's API now",
    local: (ops, a) => ops.reconcile(a.pos.slug),
    remote: (a) => ({ method: "POST", path: `/admin/clients/${e(a.pos.slug)}/reconcile` }),
  },
  {
    name: "missed-webhooks",
    args: ["slug"],
    options: ["limit"],
    summary: "bookings Cal.com's API showed that no webhook delivered",
    local: (ops, a) => ops.missedWebhooks(a.pos.slug, a.opt.limit),
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/missed_webhooks${pageQuery(a.opt)}`,
    }),
    columns: ["uid", "booking_status", "booking_updated_at", "found_at", "job_id"],
  },
  {
    name: "export",
    args: ["slug", "what"],
    options: ["out"],
    summary: "a client's jobs or contacts as CSV (to stdout, or --out FILE)",
    local: async (ops, a) => (await ops.exportCsv(a.pos.slug, a.pos.what)).csv,
    remote: (a) => ({
      method: "GET",
      path: `/admin/clients/${e(a.pos.slug)}/${e(a.pos.what)}.csv`,
      raw: true,
    }),
  },
  {
    name: "dead-letters",
    args: [],
    summary: "queue messages that exhausted their retries",
    local: (ops) => ops.deadLetters(),
    remote: () => ({ method: "GET", path: "/admin/dead_letters" }),
    columns: ["batch_id", "attempts", "dead_at", "handled_at"],
  },
  {
    name: "backup",
    args: ["file"],
    options: ["sqlite"],
    summary:
      "every entry of the local store as NDJSON (secrets included; written owner-only), while the service runs; --sqlite: a consistent SQLite copy of a local KV file",
    local: (ops, a, kvPath) => backup(ops, a.pos.file, a.opt.sqlite === true, kvPath),
  },
  {
    name: "restore",
    args: ["file"],
    options: ["force"],
    summary: "load a backup into an empty local store (--force: a non-empty one)",
    local: (ops, a) => ops.restore(readLines(a.pos.file), a.opt.force === true),
  },
];

const BOOLEAN_OPTIONS = new Set(["sqlite", "force", "body", "json", "help"]);

function commandUsage(c: Command): string {
  const args = c.args.map((a) => (a.endsWith("?") ? `[${a.slice(0, -1)}]` : `<${a}>`)).join(" ");
  const options = (c.options ?? []).map((o) => (BOOLEAN_OPTIONS.has(o) ? `[--${o}]` : `[--${o} …]`)).join(
    " ",
  );
  return [c.name, args, options].filter(Boolean).join(" ");
}

export const USAGE = `Usage: deno task admin <command> [options]

${COMMANDS.map((c) => `  ${commandUsage(c)}\n      ${c.summary}`).join("\n")}

Every command: --json (JSON for scripts; tables otherwise), --help (that command's help),
--url URL with --token TOKEN or ADMIN_TOKEN (a running service instead of the local KV).
The local store is KV_PATH (default ./data/calcom-intake.sqlite3; a KV Connect URL with
KV_ACCESS_TOKEN reaches a remote store).`;

/**
 * How commands reach the store: the local KV (opened only once a command is known to need it), or
 * with `--url` a running service, with `--token` or this admin token.
 */
export interface Targets {
  openLocal: () => Promise<{ ops: AdminOperations; kvPath: string | null; close: () => Promise<void> }>;
  adminToken: string | null;
}

/** Parses and runs one command; returns what it printed as data (and the text it printed). */
export async function runAdmin(args: string[], targets: Targets): Promise<{ result: unknown; text: string }> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const c of COMMANDS) {
    for (const o of c.options ?? []) options[o] = { type: BOOLEAN_OPTIONS.has(o) ? "boolean" : "string" };
  }
  options.json = { type: "boolean" };
  options.help = { type: "boolean", short: "h" };
  for (const o of ["url", "token"]) options[o] = { type: "string" };
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options });
  const two = positionals.slice(0, 2).join(" ");
  const command = COMMANDS.find((c) => c.name === two) ?? COMMANDS.find((c) => c.name === positionals[0]);
  if (!command) {
    if (values.help) return { result: null, text: USAGE };
    throw new UsageError(
      positionals.length ? `Unknown command "${positionals.join(" ")}".\n\n${USAGE}` : USAGE,
    );
  }
  const help = `Usage: deno task admin ${commandUsage(command)}\n\n${command.summary}`;
  if (values.help) return { result: null, text: help };
  for (const name of Object.keys(values)) {
    if (!["json", "help", "url", "token", ...(command.options ?? [])].includes(name)) {
      throw new UsageError(`"${command.name}" has no --${name}.\n\n${help}`);
    }
  }
  const rest = positionals.slice(command.name.split(" ").length);
  const pos: Record<string, string> = {};
  command.args.forEach((name, i) => {
    const optional = name.endsWith("?");
    const key = optional ? name.slice(0, -1) : name;
    if (rest[i] === undefined && !optional) throw new UsageError(`Give the ${key}.\n\n${help}`);
    if (rest[i] !== undefined) pos[key] = rest[i];
  });
  if (rest.length > command.args.length) throw new UsageError(`Too many arguments.\n\n${help}`);
  const a: Args = { pos, opt: values };

  let result: unknown;
  if (typeof values.url === "string") {
    if (!command.remote) {
      throw new UsageError(
        `"${command.name}" works on a local KV_PATH only (a backup holds every secret and API key, which no API answer may carry); run it where the store is, or with KV_PATH set to the KV Connect URL.`,
      );
    }
    const token = typeof values.token === "string" ? values.token : targets.adminToken;
    if (!token) {
      throw new UsageError(
        "Give the service's admin token: --token TOKEN, or ADMIN_TOKEN in the environment.",
      );
    }
    result = await callRemote({ url: values.url, token }, command.remote(a));
  } else {
    const local = await targets.openLocal();
    try {
      result = await command.local(local.ops, a, local.kvPath);
    } finally {
      await local.close();
    }
  }
  if (typeof result === "string" && typeof values.out === "string") {
    await Deno.writeTextFile(values.out, result);
    result = { written: values.out };
  }
  return { result, text: values.json ? JSON.stringify(result, null, 2) : render(result, command.columns) };
}

async function callRemote(target: { url: string; token: string }, call: Remote): Promise<unknown> {
  const res = await fetch(target.url.replace(/\/+$/, "") + call.path, {
    method: call.method,
    headers: {
      authorization: `Bearer ${target.token}`,
      "x-calcom-intake-client": "cli",
      ...(call.body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: call.body === undefined ? undefined : JSON.stringify(call.body),
  });
  const text = await res.text();
  if (!res.ok) {
    let error: { code?: string; message?: string } = {};
    try {
      error = JSON.parse(text).error ?? {};
    } catch {
      // Not our error shape (a proxy's page): the status says enough.
    }
    throw new HttpError(
      res.status,
      error.code ?? "http_error",
      error.message ?? `The service answered HTTP ${res.status}.`,
    );
  }
  return call.raw ? text : text ? JSON.parse(text) : null;
}

/** Text for people: a listing as a table, an object as aligned fields, a file as it is. */
export function render(result: unknown, columns?: string[]): string {
  if (typeof result === "string") return result;
  if (result && typeof result === "object" && Array.isArray((result as { items?: unknown }).items)) {
    const { items, cursor } = result as { items: Record<string, unknown>[]; cursor?: string | null };
    const cols = columns ?? Object.keys(items[0] ?? {}).slice(0, 6);
    const rows = [cols, ...items.map((item) => cols.map((c) => cell(item[c])))];
    const widths = cols.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
    const out = [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
    if (items.length === 0) out.push("(none)");
    if (cursor) out.push(`more: --cursor ${cursor}`);
    return out.join("\n");
  }
  if (result && typeof result === "object") {
    const entries = Object.entries(result as Record<string, unknown>);
    const width = Math.max(...entries.map(([k]) => k.length));
    return entries.map(([k, v]) => `${k.padEnd(width)}  ${cell(v, Infinity)}`).join("\n");
  }
  return String(result);
}

function cell(value: unknown, max = 48): string {
  if (value === null || value === undefined) return "—";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  const flat = text.replace(/\s+/g, " ");
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
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

async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    console.error(USAGE);
    return 2;
  }
  return await run(args, {
    adminToken: Deno.env.get("ADMIN_TOKEN") ?? null,
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

async function run(args: string[], targets: Targets): Promise<number> {
  try {
    console.log((await runAdmin(args, targets)).text);
    return 0;
  } catch (error) {
    const usage = isUsageError(error);
    console.error(error instanceof HttpError || usage ? (error as Error).message : String(error));
    return usage ? 2 : 1;
  }
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
