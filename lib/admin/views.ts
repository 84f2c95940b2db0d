/**
 * How admin answers show things: a client with its health, and a secret (its value only when just
 * created).
 */
import { DEFAULT_API_URL } from "../calcom/api.ts";
import { webhookUrlProblem } from "../calcom/webhooks_api.ts";
import { type Client, isWeakSecret } from "../store/clients.ts";
import type { ClientParts } from "../store/client_parts.ts";
import { silenceView } from "../api/connection.ts";
import { BEHIND_RETENTION_REASON, DISABLE_AFTER, WARN_AFTER_MS } from "../domain/outbound.ts";

/**
 * A client as every admin answer shows it: never a secret or the API key, its webhook path and (with
 * PUBLIC_URL) full URL, its health (`problems`, each with the fix) and reconciliation state.
 */
export function clientView(
  client: Client,
  parts: ClientParts,
  publicUrl: string | null,
  /** Signature failures this process counted for the client. */
  signatureFailures = 0,
) {
  const { secrets, hasApiKey, reconcile, webhook, lastPing } = parts;
  const problems: { code: string; message: string }[] = [];
  if (webhook?.payload_template_detected) {
    problems.push({ code: "payload_template_detected", message: webhook.payload_template_detected.message });
  }
  if (hasApiKey && reconcile.api_key_state === "rejected") {
    problems.push({ code: "api_key_rejected", message: reconcile.error ?? "Cal.com refused the API key." });
  }
  const hook = parts.calcomWebhook;
  for (const p of hook && hasApiKey ? hook.problems : []) {
    // A refused key is said once, by reconciliation's own problem.
    if (p.state === "api_key_rejected" && reconcile.api_key_state === "rejected") continue;
    problems.push({ code: `calcom_webhook_${p.state}`, message: p.message });
  }
  for (const e of parts.endpoints) {
    if (e.state === "behind_retention") {
      problems.push({
        code: "endpoint_behind_retention",
        message: `Outbound endpoint ${e.url} (${e.id}) has stopped. ${BEHIND_RETENTION_REASON}`,
      });
    } else if (e.state === "disabled") {
      problems.push({
        code: "endpoint_disabled",
        message:
          `Outbound endpoint ${e.url} is disabled (${e.disabled_reason}). Fix the receiver, then enable it again or recover it since a time: nothing it missed is lost.`,
      });
    } else if (e.failing_since && Date.now() - Date.parse(e.failing_since) >= WARN_AFTER_MS) {
      problems.push({
        code: "endpoint_failing",
        message:
          `Deliveries to ${e.url} have failed since ${e.failing_since}; after ${DISABLE_AFTER} of failures the endpoint is disabled. See its attempt log.`,
      });
    }
  }
  const webhookPath = `/webhooks/calcom/${client.slug}`;
  const { counts_built: _internal, ...shown } = client;
  return {
    ...shown,
    calcom_api_url: client.calcom_api_url ?? DEFAULT_API_URL,
    webhook_path: webhookPath,
    webhook_url: publicUrl ? publicUrl + webhookPath : null,
    webhook_url_problem: webhookUrlProblem(publicUrl),
    secrets,
    secret_ids: secrets.map((s) => s.id),
    last_ping: lastPing,
    has_api_key: hasApiKey,
    webhook_version: webhook?.webhook_version ?? null,
    payload_template_detected: webhook?.payload_template_detected ?? null,
    api_key_state: hasApiKey ? reconcile.api_key_state : null,
    missed_webhooks: reconcile.missed_webhooks_total,
    calcom_webhook: hook && hasApiKey
      ? {
        state: hook.state,
        webhook_id: hook.webhook_id,
        missing_triggers: hook.missing_triggers,
        checked_at: hook.checked_at,
        connected_at: hook.connected_at,
        error: hook.error,
      }
      : null,
    activity: activity(client, parts, signatureFailures),
    reconciliation: {
      api_key_state: hasApiKey ? reconcile.api_key_state : null,
      checkpoint: reconcile.checkpoint,
      last_pass: reconcile.last_pass,
      error: reconcile.error,
      missed_webhooks: reconcile.missed_webhooks_total,
    },
    problems,
  };
}

/** A secret as an answer shows it: its value only when this call created it. */
export interface IssuedSecret {
  id: string;
  secret: string;
  created_at: string;
  weak: boolean;
}

export function issued(secret: { id: string; secret: string; created_at: string }): IssuedSecret {
  return {
    id: secret.id,
    secret: secret.secret,
    created_at: secret.created_at,
    weak: isWeakSecret(secret.secret),
  };
}

/**
 * What the Clients list shows of a client's traffic (the overview's numbers, from the counts and
 * the silence rule, without reading the client's Jobs or submissions).
 */
function activity(client: Client, parts: ClientParts, signatureFailures: number) {
  return {
    jobs_by_status: parts.counts.jobs,
    submissions_by_status: parts.counts.submissions,
    contacts: parts.counts.contacts,
    signature_failures: signatureFailures,
    ...silenceView(parts.webhook?.deliveries ?? [], client.silence_days ?? null),
  };
}
