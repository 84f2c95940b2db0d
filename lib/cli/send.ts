/**
 * `deno task send`: signs and sends realistic Cal.com webhook bodies to a running service, like
 * `stripe trigger`, and prints each answer and then the resulting Job (read with the admin API
 * when ADMIN_TOKEN or --admin-token is given).
 */
import { parseArgs } from "node:util";
import { signBody } from "../calcom/signature.ts";
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

export const SEND_USAGE = `Usage: deno task send <trigger> --url URL --slug SLUG --secret SECRET [options]
       deno task send --scenario <story> --url URL --slug SLUG --secret SECRET [options]

Triggers: ${SAMPLE_TRIGGERS.join(", ")}
Stories:  ${SCENARIOS.join(", ")}

  --url URL            the service, e.g. http://localhost:8000
  --slug SLUG          the client's slug
  --secret SECRET      the client's webhook secret (as pasted into Cal.com)
  --uid UID            booking uid (default: a new one)
  --email EMAIL        the booker's email (default: pat.example@example.com)
  --name NAME          the booker's name (default: Pat Example)
  --start ISO          the appointment's start (default: tomorrow 16:00 UTC)
  --admin-token TOKEN  read the resulting Job (default: $ADMIN_TOKEN)
  --json               print JSON lines instead of text
  --help               this text`;

export class SendUsageError extends Error {}

export interface SendResult {
  answers: { trigger: string; status: number; body: unknown }[];
  job: unknown;
}

export async function runSend(args: string[], env: { adminToken?: string } = {}): Promise<SendResult> {
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
      "admin-token": { type: "string" },
      json: { type: "boolean" },
    },
  });
  const need = (value: string | undefined, what: string) => {
    if (!value) throw new SendUsageError(`Give ${what}.\n\n${SEND_USAGE}`);
    return value;
  };
  const base = need(values.url, "--url").replace(/\/+$/, "");
  const slug = need(values.slug, "--slug");
  const secret = need(values.secret, "--secret");
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
  const token = values["admin-token"] ?? env.adminToken;
  let job: unknown = null;
  if (last.trigger === "PING") return { answers, job };
  if (!token) {
    out(values.json ? { job: null } : "(set ADMIN_TOKEN or --admin-token to see the resulting Job)");
    return { answers, job };
  }
  // Queue mode answers once stored: wait until the Job has absorbed the last body sent (the Job of
  // an earlier step can already be there).
  const lastId = (answers.at(-1)?.body as { submission_id?: string } | null)?.submission_id;
  const absorbed = (j: { events?: { submission_id: string }[] } | null) =>
    j !== null && (!lastId || (j.events ?? []).some((e) => e.submission_id === lastId));
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await fetch(
      `${base}/admin/clients/${encodeURIComponent(slug)}/jobs?calcom_event_id=${
        encodeURIComponent(last.uid)
      }`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    const page = await res.json();
    if (!res.ok) throw new Error(page?.error?.message ?? `admin API answered ${res.status}`);
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
    const { answers } = await runSend(Deno.args, { adminToken: Deno.env.get("ADMIN_TOKEN") });
    Deno.exitCode = answers.every((a) => a.status >= 200 && a.status < 300) ? 0 : 1;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exitCode = error instanceof SendUsageError ? 2 : 1;
  }
}
