/**
 * `deno task admin ...`: the admin API's operations from the command line, on the same KV_PATH as
 * the service. Replays run in this process (a queue message from another process would only be
 * picked up at KV's 60 s fallback poll).
 */
import { parseArgs } from "node:util";
import { readConfig } from "../config.ts";
import { contactView } from "../domain/contact.ts";
import { jobView } from "../domain/job.ts";
import { SUBMISSION_STATUSES, type SubmissionStatus, submissionView } from "../domain/submission.ts";
import { jsonLogger } from "../log.ts";
import { Processor } from "../processing/processor.ts";
import { Replayer } from "../processing/replay.ts";
import { listContacts, listJobs } from "../store/bookings.ts";
import {
  addSecret,
  deleteClient,
  listClients,
  putClient,
  removeSecret,
  SLUG_PATTERN,
} from "../store/clients.ts";
import { openKv } from "../store/kv.ts";
import { listSubmissions } from "../store/submissions.ts";

const USAGE = `Usage: deno task admin <command>

  client add <slug> [--name NAME] [--secret SECRET]   create or update a client (prints a new secret once)
  client list                                        list clients (never shows secrets)
  client remove <slug>                               delete a client and all of its data
  secret add <slug> [--secret SECRET]                add a secret (rotation); prints it once
  secret remove <slug> <secret-id>                   retire a secret
  jobs <slug> [--limit N] [--cursor C]               list Jobs
  contacts <slug> [--limit N] [--cursor C]           list Contacts
  submissions <slug> [--status S] [--limit N]        list Submissions
  replay <slug> <submission-id>                      re-run one submission
  replay <slug> --status failed                      re-run every submission with that status

Works on KV_PATH (default ./data/calcom-intake.sqlite3).`;

class UsageError extends Error {}

export async function runAdmin(args: string[], kv: Deno.Kv, out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      name: { type: "string" },
      secret: { type: "string" },
      status: { type: "string" },
      limit: { type: "string", default: "50" },
      cursor: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const print = (value: unknown) => out(JSON.stringify(value, null, 2));
  const [command, sub, ...rest] = positionals;
  const page = () => ({ limit: limitOf(values.limit), cursor: values.cursor });
  if (values.help || !command) throw new UsageError(USAGE);

  switch (`${command} ${command === "client" || command === "secret" ? sub ?? "" : ""}`.trim()) {
    case "client add": {
      const slug = slugOf(rest[0]);
      const result = await putClient(kv, slug, { name: values.name, secret: values.secret });
      print({
        client: result.client,
        created: result.created,
        webhook_path: `/webhooks/calcom/${slug}`,
        ...(result.secret && (result.created || values.secret) ? { secret: result.secret } : {}),
      });
      return;
    }
    case "client list":
      print(await listClients(kv));
      return;
    case "client remove": {
      const slug = slugOf(rest[0]);
      if (!(await deleteClient(kv, slug))) throw new UsageError(`There is no client "${slug}".`);
      print({ deleted: slug });
      return;
    }
    case "secret add": {
      const slug = slugOf(rest[0]);
      const secret = await addSecret(kv, slug, values.secret);
      if (!secret) throw new UsageError(`There is no client "${slug}".`);
      print({ secret });
      return;
    }
    case "secret remove": {
      const result = await removeSecret(kv, slugOf(rest[0]), rest[1] ?? "");
      if (result !== "removed") throw new UsageError(`Not removed: ${result.replace("_", " ")}.`);
      print({ removed: rest[1] });
      return;
    }
    case "jobs":
      print(await listJobs(kv, slugOf(sub), { ...page(), view: jobView }));
      return;
    case "contacts":
      print(await listContacts(kv, slugOf(sub), { ...page(), view: contactView }));
      return;
    case "submissions":
      print(
        await listSubmissions(kv, slugOf(sub), {
          ...page(),
          status: statusOf(values.status),
          view: submissionView,
        }),
      );
      return;
    case "replay": {
      const replayer = new Replayer(kv, new Processor(kv, jsonLogger((line) => console.error(line))));
      const slug = slugOf(sub);
      if (rest[0]) {
        const submission = await replayer.replayOne(slug, rest[0]);
        if (!submission) throw new UsageError(`Client "${slug}" has no submission ${rest[0]}.`);
        print(submissionView(submission));
      } else {
        const status = statusOf(values.status);
        if (!status) throw new UsageError("Give a submission id or --status (e.g. --status failed).");
        print(await replayer.replayAll(slug, status));
      }
      return;
    }
    default:
      throw new UsageError(USAGE);
  }
}

function slugOf(value: string | undefined): string {
  if (!value || !SLUG_PATTERN.test(value)) {
    throw new UsageError("Give a client slug: lowercase letters, digits and '-', e.g. acme-plumbing.");
  }
  return value;
}

function statusOf(value: string | undefined): SubmissionStatus | undefined {
  if (value === undefined) return undefined;
  if (!(SUBMISSION_STATUSES as readonly string[]).includes(value)) {
    throw new UsageError(`--status must be one of ${SUBMISSION_STATUSES.join(", ")}.`);
  }
  return value as SubmissionStatus;
}

function limitOf(value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500) {
    throw new UsageError("--limit must be a whole number from 1 to 500.");
  }
  return n;
}

if (import.meta.main) {
  const kv = await openKv(readConfig().kvPath);
  try {
    await runAdmin(Deno.args, kv, (line) => console.log(line));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exitCode = error instanceof UsageError ? 2 : 1;
  } finally {
    kv.close();
  }
}
