/**
 * `deno task send`: signs and sends realistic Cal.com webhook bodies to a running service, like
 * `stripe trigger`, and prints each answer and then the resulting Job (read with the admin API
 * when ADMIN_TOKEN is set). The secret comes from WEBHOOK_SECRET (or `--secret -`: stdin), since
 * `deno task` echoes its command line.
 */
import { parseArgs } from "node:util";
import { callOperation } from "../admin/client.ts";
import { signBody } from "../calcom/signature.ts";
import { HttpError } from "../errors.ts";
import { secretInput, UsageError } from "./secret_input.ts";
import {
  SAMPLE_TRIGGERS,
  sampleBody,
  type SampleStep,
  type SampleTrigger,
  type Scenario,
  scenario,
  SCENARIOS,
} from "../calcom/samples.ts";
import { isoUtc, nowIso, sleep } from "../time.ts";

export const SEND_USAGE = `Usage: deno task send <trigger> --url URL --slug SLUG [options]
       deno task send --scenario <story> --url URL --slug SLUG [options]

Triggers: ${SAMPLE_TRIGGERS.join(", ")}
Stories:  ${SCENARIOS.join(", ")}

  --url URL            the service, e.g. http://localhost:8000
  --slug SLUG          the client's slug
  --secret -           read the client's webhook secret from stdin (default: $WEBHOOK_SECRET)
  --uid UID            booking uid (default: a new one)
  --email EMAIL        the booker's email (default: pat.example@example.com)
  --name NAME          the booker's name (default: Pat Example)
  --start ISO          the appointment's start (default: tomorrow 16:00 UTC)
  --token -            read the admin token from stdin, to print the resulting Job
                       (default: $ADMIN_TOKEN)
  --json               print JSON lines instead of text
  --help               this text

Exit codes: 0 every body was accepted, 1 one was not (or the service could not be reached),
2 a mistake in the command line.`;

/** A mistake in the command line (exit 2). */
export class SendUsageError extends UsageError {}

export interface SendResult {
  answers: { trigger: string; status: number; body: unknown }[];
  job: unknown;
}

export interface SendEnv {
  adminToken?: string;
  webhookSecret?: string;
  warn?: (line: string) => void;
}

export async function runSend(args: string[], env: SendEnv = {}): Promise<SendResult> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      slug: { type: "string" },
      secret: { type: "string" },
      uid: { type: "string" },
      email: { type: "string" },
      name: { type: "string" },
      start: { type: "string" },
      scenario: { type: "string" },
      token: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new SendUsageError(`Give ${what}.\n\n${SEND_USAGE}`);
    return value;
  };
  const base = need(values.url, "--url").replace(/\/+$/, "");
  const slug = need(values.slug, "--slug");
  const warn = env.warn ?? ((line: string) => console.error(line));
  const secret = need(
    await secretInput("secret", values.secret, { name: "WEBHOOK_SECRET", value: env.webhookSecret }, warn),
    "the client's webhook secret: WEBHOOK_SECRET in the environment, or --secret - (stdin)",
  );
  const tomorrow = new Date(Date.now() + 86_400_000);
  tomorrow.setUTCHours(16, 0, 0, 0);
  const start = values.start ?? isoUtc(tomorrow.getTime());
  if (Number.isNaN(Date.parse(start))) {
    throw new SendUsageError(`--start "${start}" is not an ISO date-time.`);
  }
  const options = {
    uid: values.uid ?? `sample${crypto.randomUUID().replaceAll("-", "").slice(0, 14)}`,
    email: values.email ?? "pat.example@example.com",
    name: values.name ?? "Pat Example",
    start: isoUtc(Date.parse(start)),
    at: nowIso(),
  };
  let steps: SampleStep[];
  if (values.scenario) {
    if (!(SCENARIOS as readonly string[]).includes(values.scenario)) {
      throw new SendUsageError(`Unknown story "${values.scenario}"; one of ${SCENARIOS.join(", ")}.`);
    }
    steps = scenario(values.scenario as Scenario, options);
  } else {
    const trigger = need(positionals[0], "a trigger (or --scenario)").toUpperCase();
    if (!(SAMPLE_TRIGGERS as readonly string[]).includes(trigger)) {
      throw new SendUsageError(`Unknown trigger "${trigger}"; one of ${SAMPLE_TRIGGERS.join(", ")}.`);
    }
    steps = [sampleBody(trigger as SampleTrigger, options)];
  }

  const out = (line: unknown) => console.log(values.json ? JSON.stringify(line) : line);
  const answers: SendResult["answers"] = [];
  for (const step of steps) {
    const res = await fetch(`${base}/webhooks/calcom/${encodeURIComponent(slug)}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-cal-signature-256": await signBody(secret, step.body),
      },
      body: step.body,
    }).catch((error) => {
      throw new HttpError(
        503,
        "service_unreachable",
        `Cannot reach the service at ${base} (${
          error instanceof Error ? error.message : error
        }). Is it running, and is --url right?`,
      );
    });
    const text = await res.text();
    const body = text ? JSON.parse(text) : null;
    answers.push({ trigger: step.trigger, status: res.status, body });
    out(
      values.json
        ? { trigger: step.trigger, status: res.status, answer: body }
        : `${step.trigger} → ${res.status} ${text}`,
    );
  }

  const last = steps.at(-1)!;
  const token = await secretInput(
    "token",
    values.token,
    { name: "ADMIN_TOKEN", value: env.adminToken },
    warn,
  );
  let job: unknown = null;
  if (last.trigger === "PING") return { answers, job };
  if (!token) {
    out(values.json ? { job: null } : "(set ADMIN_TOKEN to see the resulting Job)");
    return { answers, job };
  }
  // Queue mode answers once stored: wait until the Job has absorbed the last body sent (the Job of
  // an earlier step can already be there).
  const lastId = (answers.at(-1)?.body as { submission_id?: string } | null)?.submission_id;
  const absorbed = (j: { events?: { submission_id: string }[] } | null) =>
    j !== null && (!lastId || (j.events ?? []).some((e) => e.submission_id === lastId));
  for (let attempt = 0; attempt < 50; attempt++) {
    const page = await callOperation({ url: base, token }, "listJobs", {
      params: { slug },
      query: { calcom_event_id: last.uid },
    }) as { items: unknown[] };
    job = page.items[0] ?? null;
    if (absorbed(job as { events?: { submission_id: string }[] } | null)) break;
    await sleep(100);
  }
  out(values.json ? { job } : `Job:\n${JSON.stringify(job, null, 2)}`);
  return { answers, job };
}

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h") || Deno.args.length === 0) {
    console.log(SEND_USAGE);
    Deno.exit(Deno.args.length === 0 ? 2 : 0);
  }
  try {
    const { answers } = await runSend(Deno.args, {
      adminToken: Deno.env.get("ADMIN_TOKEN"),
      webhookSecret: Deno.env.get("WEBHOOK_SECRET"),
    });
    Deno.exitCode = answers.every((a) => a.status >= 200 && a.status < 300) ? 0 : 1;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
