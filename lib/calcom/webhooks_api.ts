/**
 * Cal.com's API v2 webhook subscriptions (`/v2/webhooks`, see docs/calcom/api-v2-webhooks.md):
 * the shapes connect and check read and send, the webhook this service wants for a client, and
 * how far a webhook Cal.com shows is from it. Pure: the HTTP calls are `processing/calcom_client.ts`'s.
 */
import { z } from "zod";
import { TRIGGERS } from "./triggers.ts";

/** Every trigger this service acts on: what a connected webhook subscribes to. */
export const WANTED_TRIGGERS: readonly string[] = Object.keys(TRIGGERS);

/**
 * The version whose bodies every parser here reads (Cal.com's default). Sent on create only: a
 * webhook someone moved to a newer version still delivers bodies the service understands.
 */
export const WEBHOOK_VERSION = "2021-10-20";

/** Cal.com pages its webhook list with `take` (1–250) and no pagination metadata. */
export const WEBHOOK_PAGE_SIZE = 250;

/** A webhook as Cal.com answers it; extra columns (`GET /v2/webhooks/{id}` has more) are ignored. */
export const calcomWebhookSchema = z.looseObject({
  // A UUID string today; the OpenAPI file says number, so both are read.
  id: z.union([z.string().min(1), z.number()]).transform(String),
  subscriberUrl: z.string(),
  triggers: z.array(z.string()).nullish().transform((t) => t ?? []),
  active: z.boolean(),
  payloadTemplate: z.string().nullish().transform((t) => t ?? null),
  secret: z.string().nullish().transform((s) => s ?? null),
});
export type CalcomWebhook = z.infer<typeof calcomWebhookSchema>;

export const webhookAnswerSchema = z.looseObject({ status: z.literal("success"), data: z.unknown() });
export const webhookListSchema = z.looseObject({ status: z.literal("success"), data: z.array(z.unknown()) });

/**
 * What a client's webhook can be found in, checked against what it should be. `ok` and the last
 * two are not drift: a key Cal.com refuses, or never checked.
 */
export const WEBHOOK_STATES = [
  "ok",
  "missing",
  "inactive",
  "wrong_url",
  "missing_triggers",
  "template_set",
  "secret_mismatch",
  "api_key_rejected",
  "unchecked",
] as const;
export type WebhookCheckState = (typeof WEBHOOK_STATES)[number];

/** One way a webhook differs from what it should be. */
export interface WebhookFinding {
  state: Exclude<WebhookCheckState, "ok" | "unchecked">;
  /** What is wrong and what repairs it, in a person's words (never a secret). */
  message: string;
}

/** What the client's webhook should be. */
export interface WantedWebhook {
  slug: string;
  subscriberUrl: string;
  /** The triggers to subscribe to (what this Cal.com offers of WANTED_TRIGGERS). */
  triggers: readonly string[];
}

/** Why the service cannot say the webhook URL Cal.com should use, or null when it can. */
export function webhookUrlProblem(publicUrl: string | null): string | null {
  if (!publicUrl) {
    return "PUBLIC_URL is not set, so this service does not know its public address. Cal.com delivers only to a public https:// URL (not http, localhost or a private address): set PUBLIC_URL to it (for a laptop, a tunnel's https address).";
  }
  if (!publicUrl.startsWith("https://")) {
    return `PUBLIC_URL (${publicUrl}) is not https://: Cal.com delivers only to a public https:// URL.`;
  }
  return null;
}

/** The subscriber URL of a client's webhook: PUBLIC_URL plus its webhook path. */
export function subscriberUrlFor(publicUrl: string, slug: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/webhooks/calcom/${slug}`;
}

/**
 * Whether a subscriber URL delivers to this client's route on some host (the exact URL, or the
 * same path under another address: an old tunnel or a PUBLIC_URL since changed).
 */
export function deliversToSlug(url: string, slug: string): boolean {
  try {
    return /^\/webhooks\/calcom\/([^/]+)\/?$/.exec(new URL(url).pathname)?.[1] === slug;
  } catch {
    return false;
  }
}

/** The same URL but for a trailing slash (the route takes both). */
export function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
}

/** How to repair it, for a client. */
const repair = (slug: string) =>
  `Connect repairs it (the dashboard's "Connect to Cal.com", \`deno task admin client connect ${slug}\`, or POST /admin/clients/${slug}/calcom-webhook).`;

/**
 * How a webhook Cal.com shows differs from the wanted one, most serious first; empty when it is
 * right. `secrets` are the client's live secrets: the webhook's must be one of them.
 */
export function findDrift(
  hook: CalcomWebhook,
  wanted: WantedWebhook,
  secrets: readonly string[],
): WebhookFinding[] {
  const out: WebhookFinding[] = [];
  const REPAIR = repair(wanted.slug);
  if (!hook.active) {
    out.push({
      state: "inactive",
      message:
        `The client's webhook is switched off in Cal.com (Cal.com does this when a receiver answers 410): nothing is delivered. ${REPAIR} Bookings missed meanwhile are fetched by reconciliation.`,
    });
  }
  if (!sameUrl(hook.subscriberUrl, wanted.subscriberUrl)) {
    out.push({
      state: "wrong_url",
      message:
        `The client's webhook in Cal.com delivers to ${hook.subscriberUrl}, not to ${wanted.subscriberUrl}. ${REPAIR}`,
    });
  }
  if (hook.payloadTemplate !== null) {
    out.push({
      state: "template_set",
      message:
        `The client's webhook in Cal.com has a custom payload template: its bodies lack the booking fields and are quarantined. ${REPAIR}`,
    });
  }
  if (hook.secret === null || !secrets.includes(hook.secret)) {
    out.push({
      state: "secret_mismatch",
      message:
        `The client's webhook in Cal.com signs with a secret that is not one of the client's: every delivery is refused (401). ${REPAIR}`,
    });
  }
  const missing = missingTriggers(hook, wanted);
  if (missing.length > 0) {
    out.push({
      state: "missing_triggers",
      message: `The client's webhook in Cal.com does not send ${
        missing.join(", ")
      }: those changes reach the Jobs only through reconciliation. ${REPAIR}`,
    });
  }
  return out;
}

/** The wanted triggers the webhook does not subscribe to. */
export function missingTriggers(hook: CalcomWebhook, wanted: WantedWebhook): string[] {
  const has = new Set(hook.triggers);
  return wanted.triggers.filter((t) => !has.has(t));
}

/** The finding for a client that has no webhook of ours in Cal.com. */
export function missingFinding(url: string, slug: string): WebhookFinding {
  return {
    state: "missing",
    message:
      `Cal.com has no webhook delivering to ${url} for this API key's user: no booking reaches the service by webhook. ${
        repair(slug)
      }`,
  };
}

/**
 * The changes (field → new value) that make the webhook the wanted one, with the secret to use;
 * empty when nothing needs changing. PATCH replaces the whole trigger list, so it is sent whole.
 */
export function repairPatch(
  hook: CalcomWebhook,
  wanted: WantedWebhook,
  secret: string,
): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  if (!hook.active) patch.active = true;
  if (hook.subscriberUrl !== wanted.subscriberUrl) patch.subscriberUrl = wanted.subscriberUrl;
  if (hook.payloadTemplate !== null) patch.payloadTemplate = null;
  if (hook.secret !== secret) patch.secret = secret;
  if (missingTriggers(hook, wanted).length > 0) {
    patch.triggers = [...new Set([...hook.triggers, ...wanted.triggers])];
  }
  return patch;
}

/** The body of `POST /v2/webhooks` for the wanted webhook. */
export function createBody(wanted: WantedWebhook, secret: string): Record<string, unknown> {
  return {
    subscriberUrl: wanted.subscriberUrl,
    triggers: [...wanted.triggers],
    active: true,
    secret,
    payloadTemplate: null,
    version: WEBHOOK_VERSION,
  };
}

/**
 * From a 400's validation errors, the triggers this Cal.com accepts (its `isEnum` message lists
 * them): an older or self-hosted Cal.com lacks some newer ones. Null when the 400 is about
 * something else.
 */
export function acceptedTriggers(errorBody: unknown): string[] | null {
  const errors = (errorBody as { error?: { details?: { errors?: unknown } } })?.error?.details?.errors;
  if (!Array.isArray(errors)) return null;
  for (const e of errors) {
    if (e?.property !== "triggers" || typeof e?.constraints?.isEnum !== "string") continue;
    const list = /following values: (.*)$/.exec(e.constraints.isEnum)?.[1];
    if (list) return list.split(",").map((s: string) => s.trim()).filter(Boolean);
  }
  return null;
}

/**
 * What a 400 says in words a person can act on: the message, or each validation constraint. Never
 * the `target`/`value` parts, which echo the request (and so its secret).
 */
export function badRequestDetail(errorBody: unknown): string {
  const error = (errorBody as { error?: { message?: unknown; details?: { errors?: unknown } } })?.error;
  const errors = error?.details?.errors;
  if (Array.isArray(errors)) {
    const said = errors.flatMap((e) =>
      e && typeof e.constraints === "object" && e.constraints
        ? Object.values(e.constraints as Record<string, unknown>).filter((c) => typeof c === "string")
        : []
    ) as string[];
    if (said.length > 0) return said.map((s) => s.slice(0, 200)).join("; ");
  }
  return typeof error?.message === "string" ? error.message.slice(0, 300) : "";
}
