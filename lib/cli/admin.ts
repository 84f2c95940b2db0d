/**
 * `deno task admin ...`: the admin operations from the command line, on the same KV_PATH as the
 * service, answering like the API (JSON on stdout; an error's message on stderr, exit 1; a usage
 * mistake exit 2). Replays and reconciliation passes run in this process (a queue message from
 * another process would only be picked up at KV's 60 s fallback poll).
 */
import { parseArgs } from "node:util";
import { AdminOperations } from "../admin/operations.ts";
import { readConfig } from "../config.ts";
import { HttpError } from "../errors.ts";
import { jsonLogger } from "../log.ts";
import { Processor } from "../processing/processor.ts";
import { Replayer } from "../processing/replay.ts";
import { createService } from "../service.ts";
import { sqliteSnapshot } from "../store/backup.ts";
import { isRemoteKvPath, openKv } from "../store/kv.ts";

export const USAGE = `Usage: deno task admin <command> [options]

  client add <slug> [--name NAME] [--secret SECRET] [--api-key KEY] [--api-url URL]
                                                     create or update a client (prints a new secret once);
                                                     --api-key sets its Cal.com API key (never shown again),
                                                     --api-key "" removes it; --api-url for EU/self-hosted
  client list                                        list clients (never shows secrets)
  client show <slug>                                 one client: webhook path, secret ids, last ping
  client remove <slug>                               delete a client and all of its data
  secret add <slug> [--secret SECRET]                add a secret (rotation); prints it once
  secret remove <slug> <secret-id>                   retire a secret
  jobs <slug> [--limit N] [--cursor C] [--calcom-event-id UID]
  job <slug> <job-id>
  contacts <slug> [--limit N] [--cursor C]
  contact <slug> <contact-id>
  submissions <slug> [--status S] [--limit N] [--cursor C]
  submission <slug> <submission-id>
  replay <slug> <submission-id>                      re-run one submission
  replay <slug> --status failed                      re-run every submission with that status
  reconcile <slug>                                   one reconciliation pass with Cal.com's API now
  missed-webhooks <slug> [--limit N]                 bookings the API showed that no webhook delivered
  dead-letters                                       queue messages that exhausted their retries
  backup <file>                                      every entry of the store as NDJSON (secrets included;
                                                     written owner-only); works while the service runs
  backup <file> --sqlite                             a consistent SQLite copy of a local KV file (online backup)
  restore <file> [--force]                           load a backup into an empty store (--force: a non-empty one)

Options: --help (this text). Works on KV_PATH (default ./data/calcom-intake.sqlite3; a KV Connect URL
with KV_ACCESS_TOKEN reaches a remote store).`;

/** A mistake in the command line itself (exit 2). */
export class UsageError extends Error {}

/** Runs one command and returns what it prints (as JSON). `kvPath` is the store's (for file copies). */
export async function runAdmin(
  args: string[],
  admin: AdminOperations,
  kvPath: string | null,
): Promise<unknown> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      secret: { type: "string" },
      status: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
      "calcom-event-id": { type: "string" },
      sqlite: { type: "boolean" },
      force: { type: "boolean" },
      "api-key": { type: "string" },
      "api-url": { type: "string" },
    },
  });
  const [command, ...rest] = positionals;
  const page = { limit: values.limit, cursor: values.cursor };
  const group = command === "client" || command === "secret" ? `${command} ${rest.shift() ?? ""}` : command;
  const [first, second] = rest;
  const need = (value: string | undefined, what: string) => {
    if (value === undefined) throw new UsageError(`Give the ${what}.\n\n${USAGE}`);
    return value;
  };

  switch (group) {
    case "client add":
      return await admin.putClient(need(first, "client slug"), {
        name: values.name,
        secret: values.secret,
        calcom_api_key: values["api-key"],
        calcom_api_url: values["api-url"],
      });
    case "client list":
      return await admin.listClients();
    case "client show":
      return await admin.showClient(need(first, "client slug"));
    case "client remove":
      return await admin.deleteClient(need(first, "client slug"));
    case "secret add":
      return await admin.addSecret(need(first, "client slug"), { secret: values.secret });
    case "secret remove":
      return await admin.removeSecret(need(first, "client slug"), need(second, "secret id"));
    case "jobs":
      return await admin.listJobs(need(first, "client slug"), page, values["calcom-event-id"]);
    case "job":
      return await admin.getJob(need(first, "client slug"), need(second, "job id"));
    case "contacts":
      return await admin.listContacts(need(first, "client slug"), page);
    case "contact":
      return await admin.getContact(need(first, "client slug"), need(second, "contact id"));
    case "submissions":
      return await admin.listSubmissions(need(first, "client slug"), { ...page, status: values.status });
    case "submission":
      return await admin.getSubmission(need(first, "client slug"), need(second, "submission id"));
    case "replay": {
      const slug = need(first, "client slug");
      if (second !== undefined) return await admin.replayOne(slug, second);
      if (values.status === undefined) {
        throw new UsageError("Give a submission id or --status (e.g. --status failed).");
      }
      return await admin.replayAll(slug, values.status);
    }
    case "reconcile":
      return await admin.reconcile(need(first, "client slug"));
    case "missed-webhooks":
      return await admin.missedWebhooks(need(first, "client slug"), values.limit);
    case "dead-letters":
      return await admin.deadLetters();
    case "backup":
      return await backup(admin, need(first, "backup file"), values.sqlite === true, kvPath);
    case "restore":
      return await admin.restore(readLines(need(first, "backup file")), values.force === true);
  }
  throw new UsageError(command ? `Unknown command "${positionals.join(" ")}".\n\n${USAGE}` : USAGE);
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

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const config = readConfig();
  const kv = await openKv(config.kvPath, config.kvAccessToken);
  const log = jsonLogger((line) => console.error(line));
  // Inline processing: what this command stores (a reconciliation's bookings) is processed here.
  const service = createService(kv, { ...config, processingMode: "inline" }, log, null);
  const admin = new AdminOperations({
    kv,
    replayer: new Replayer(kv, new Processor(kv, log)),
    reconciler: service.reconciler,
    log,
    source: "cli",
  });
  try {
    console.log(JSON.stringify(await runAdmin(Deno.args, admin, config.kvPath), null, 2));
  } catch (error) {
    const usage = error instanceof UsageError || (error instanceof Error && error.name === "TypeError" &&
      "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"));
    console.error(error instanceof HttpError || usage ? (error as Error).message : String(error));
    Deno.exitCode = usage ? 2 : 1;
  } finally {
    await service.idle();
    kv.close();
  }
}
