/**
 * The operator's clients: create, change, remove; their secrets (rotation); their overview (the
 * numbers and health the dashboard shows); and connecting their webhook in Cal.com (client tokens
 * are `api/tokens.ts`). A secret is answered only by the call that made it; every
 * change writes an audit line and tells the webhook route's key cache at once.
 */
import { HttpError } from "../errors.ts";
import type { OpsContext } from "../api/context.ts";
import {
  clientExists,
  MAX_NAME_LENGTH,
  noClient,
  optionalApiKey,
  optionalApiUrl,
  optionalDays,
  optionalFlag,
  optionalSecret,
  optionalString,
  optionalTimeZone,
  validId,
  validSlug,
} from "../api/inputs.ts";
import type { OpInput } from "../api/operation.ts";
import type { ConnectResult } from "../processing/calcom_webhook.ts";
import type { CalcomWebhooks } from "../processing/calcom_webhook.ts";
import { updateCalcomWebhook } from "../store/calcom_webhooks.ts";
import { clientParts, everyClientsParts } from "../store/client_parts.ts";
import {
  addSecret,
  type Client,
  deleteClient,
  getLastPing,
  putClient,
  removeSecret,
} from "../store/clients.ts";
import { readCounts, storeScannedCounts } from "../store/counts.ts";
import { allContacts } from "../store/contacts.ts";
import { allJobs } from "../store/jobs.ts";
import { deliveryTimes, resetApiKeyState, scheduleReconcile } from "../store/reconcile.ts";
import { allSubmissions } from "../store/submissions.ts";
import { nowIso } from "../time.ts";
import { clientView, issued } from "./views.ts";
import { silenceView } from "../api/connection.ts";

/** Every client as `showClient` shows it, read collection by collection (not client by client). */
export async function listClientsOp(ctx: OpsContext) {
  const all = await everyClientsParts(ctx.kv);
  return {
    items: all.map(({ client, parts }) =>
      clientView(client, parts, ctx.deps.publicUrl ?? null, ctx.signatureFailures(client.slug))
    ),
    cursor: null,
  };
}

export async function showClientOp(ctx: OpsContext, input: OpInput) {
  return await shownClient(ctx, await ctx.client(input.slug));
}

async function shownClient(ctx: OpsContext, client: Client) {
  const parts = await clientParts(ctx.kv, client.slug);
  return clientView(client, parts, ctx.deps.publicUrl ?? null, ctx.signatureFailures(client.slug));
}

/**
 * Creates a client (with the given or a generated secret) or updates it; `created` says which.
 * `only` "create" refuses an existing slug (409) and "update" a missing one (404).
 */
export async function putClientOp(ctx: OpsContext, input: OpInput, only: "create" | "update" | null = null) {
  const slug = validSlug(input.slug);
  const name = optionalString(input.name, "name", MAX_NAME_LENGTH);
  const secret = optionalSecret(input.secret);
  const apiKey = optionalApiKey(input.calcom_api_key);
  const apiUrl = optionalApiUrl(input.calcom_api_url);
  const settings = {
    ...(input.time_zone !== undefined ? { time_zone: optionalTimeZone(input.time_zone) } : {}),
    ...(input.silence_days !== undefined ? { silence_days: optionalDays(input.silence_days) } : {}),
    ...(input.write_back !== undefined ? { write_back: optionalFlag(input.write_back, "write_back") } : {}),
  };
  const result = await putClient(ctx.kv, slug, { name, secret, apiKey, apiUrl, settings }, only);
  if (result.refused === "exists") throw clientExists(slug);
  if (result.refused === "missing") throw noClient(slug);
  if (apiKey !== undefined || apiUrl !== undefined) {
    await resetApiKeyState(ctx.kv, slug);
    // A new key is tried at the next tick; without one, nothing is scheduled.
    if (apiKey !== undefined) await scheduleReconcile(ctx.kv, slug, apiKey === null ? null : Date.now());
    // Another key may be another Cal.com user: what was found with the old one says nothing now.
    await updateCalcomWebhook(ctx.kv, slug, () => ({
      observed_at: nowIso(),
      state: "unchecked",
      problems: [],
      missing_triggers: [],
      error: null,
    }));
  }
  ctx.deps.keys?.invalidate(slug);
  ctx.audit(result.created ? "client.create" : "client.update", {
    slug,
    secret_id: result.secret && (result.created || secret) ? result.secret.id : null,
    ...(apiKey !== undefined ? { api_key: apiKey === null ? "removed" : "set" } : {}),
    ...(apiUrl !== undefined ? { calcom_api_url: apiUrl } : {}),
  });
  // Shown once: when it was generated for a new client, or echoed when the caller gave it.
  const shown = result.secret && (result.created || secret) ? issued(result.secret) : null;
  return {
    created: result.created,
    client: await shownClient(ctx, result.client),
    ...(shown ? { secret: shown } : {}),
  };
}

/** Creates a client; an existing slug is refused (409) rather than changed. */
export async function createClientOp(ctx: OpsContext, input: OpInput) {
  return await putClientOp(ctx, input, "create");
}

/** Changes an existing client; a missing slug is refused (404) rather than created. */
export async function updateClientOp(ctx: OpsContext, input: OpInput) {
  return await putClientOp(ctx, input, "update");
}

export async function deleteClientOp(ctx: OpsContext, input: OpInput) {
  const slug = validSlug(input.slug);
  const deleted = await deleteClient(ctx.kv, slug);
  ctx.deps.keys?.invalidate(slug);
  if (!deleted) throw noClient(slug);
  ctx.audit("client.delete", { slug });
  return { deleted: slug };
}

export async function addSecretOp(ctx: OpsContext, input: OpInput) {
  const slug = validSlug(input.slug);
  const secret = await addSecret(ctx.kv, slug, optionalSecret(input.secret) ?? undefined);
  ctx.deps.keys?.invalidate(slug);
  if (!secret) throw noClient(slug);
  ctx.audit("secret.add", { slug, secret_id: secret.id });
  return { secret: issued(secret) };
}

export async function removeSecretOp(ctx: OpsContext, input: OpInput) {
  const slug = validSlug(input.slug);
  const id = validId(input.secretId, "secret");
  const result = await removeSecret(ctx.kv, slug, id);
  ctx.deps.keys?.invalidate(slug);
  if (result === "no_client") throw noClient(slug);
  if (result === "no_secret") {
    throw new HttpError(404, "unknown_secret", `Client "${slug}" has no secret ${id}.`);
  }
  if (result === "last_secret") {
    throw new HttpError(
      409,
      "last_secret",
      "This is the client's only secret; add the new one first, then retire this one.",
    );
  }
  ctx.audit("secret.remove", { slug, secret_id: id });
  return { removed: id };
}

/**
 * One client's numbers and health, for the dashboard: Jobs/Contacts/submissions by status, the
 * last delivery, and silence (no delivery for longer than its usual gap, or `silence_days`).
 */
export async function clientOverviewOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  if (!client.counts_built) {
    // A client older than the counts: counted once, by reading everything.
    await storeScannedCounts(ctx.kv, client.slug, () => scanCounts(ctx.kv, client.slug));
  }
  const counts = await readCounts(ctx.kv, client.slug);
  const [deliveries, ping] = await Promise.all([
    deliveryTimes(ctx.kv, client.slug),
    getLastPing(ctx.kv, client.slug),
  ]);
  return {
    slug: client.slug,
    jobs_by_status: counts.jobs,
    contacts: counts.contacts,
    submissions_by_status: counts.submissions,
    signature_failures: ctx.signatureFailures(client.slug),
    last_ping: ping,
    ...silenceView(deliveries, client.silence_days ?? null),
  };
}

/** The counts of a client by reading all of its Jobs, submissions and Contacts. */
async function scanCounts(kv: Deno.Kv, slug: string) {
  const jobs: Record<string, number> = {};
  for await (const j of allJobs(kv, slug)) jobs[j.status] = (jobs[j.status] ?? 0) + 1;
  const submissions: Record<string, number> = {};
  for await (const s of allSubmissions(kv, slug)) {
    // Pending ones are the backlog, counted once they settle.
    if (s.status !== "pending") submissions[s.status] = (submissions[s.status] ?? 0) + 1;
  }
  let contacts = 0;
  for await (const _ of allContacts(kv, slug)) contacts++;
  return { jobs, submissions, contacts };
}

// ---- the client's webhook in Cal.com ---------------------------------------------------------

/**
 * Creates (or adopts and corrects) the client's webhook in Cal.com with its API key; answers what
 * was created or changed. Where deliveries may have been lost (a webhook missing, off, elsewhere
 * or with another secret), a reconciliation pass follows.
 */
export async function connectCalcomOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const result = await webhooks(ctx).connect(client.slug);
  ctx.deps.keys?.invalidate(client.slug);
  ctx.audit("calcom.connect", {
    slug: client.slug,
    action: result.action,
    webhook_id: result.webhook_id,
    changed: result.changed,
    secret_id: result.new_secret_id,
  });
  if (result.repaired_delivery) ctx.deps.reconciler?.requestSoon(client.slug, null).catch(() => {});
  return { ...result, message: connectMessage(result) };
}

/** Compares the client's webhook in Cal.com with what it should be; answers the state it recorded. */
export async function checkCalcomOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  return await webhooks(ctx).check(client.slug);
}

/** Removes the client's webhook from Cal.com (only one delivering to this service for it). */
export async function disconnectCalcomOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const result = await webhooks(ctx).disconnect(client.slug);
  ctx.audit("calcom.disconnect", { slug: client.slug, webhook_id: result.deleted });
  return result;
}

function webhooks(ctx: OpsContext): CalcomWebhooks {
  if (!ctx.deps.calcomWebhooks) {
    throw new HttpError(503, "calcom_unavailable", "Connecting to Cal.com is not available here.");
  }
  return ctx.deps.calcomWebhooks;
}

/** What connect did, in one sentence. */
function connectMessage(r: ConnectResult): string {
  if (r.action === "created") {
    return `Created webhook ${r.webhook_id} in Cal.com, delivering ${r.triggers.length} triggers to ${r.subscriber_url} with a new secret (${r.new_secret_id}).`;
  }
  if (r.action === "updated") {
    return `Corrected webhook ${r.webhook_id} in Cal.com (${
      r.changed.join(", ")
    }); it delivers to ${r.subscriber_url}.`;
  }
  return `Webhook ${r.webhook_id} in Cal.com is already as it should be; nothing was changed.`;
}
