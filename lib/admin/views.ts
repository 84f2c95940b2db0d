/**
 * How admin answers show things: a client with its health, and a secret (its value only when just
 * created).
 */
import { DEFAULT_API_URL } from "../calcom/api.ts";
import { webhookUrlProblem } from "../calcom/webhooks_api.ts";
import { type Client, type ClientPing, isWeakSecret, type SecretSummary } from "../store/clients.ts";
import type { ReconcileState, WebhookState } from "../store/reconcile.ts";
import type { Endpoint } from "../store/endpoints.ts";
import type { CalcomWebhookRecord } from "../store/calcom_webhooks.ts";
import { WARN_AFTER_MS } from "../domain/outbound.ts";

/** What a client's view is made of besides the client record. */
export interface ClientParts {
  secrets: SecretSummary[];
  hasApiKey: boolean;
  reconcile: ReconcileState;
  webhook: WebhookState | null;
  lastPing: ClientPing | null;
  /** Its outbound endpoints, for their health. */
  endpoints?: Endpoint[];
  /** Its webhook in Cal.com as connect and check last found it. */
  calcomWebhook?: CalcomWebhookRecord;
}

/**
 * A client as every admin answer shows it: never a secret or the API key, its webhook path and (with
 * PUBLIC_URL) full URL, its health (`problems`, each with the fix) and reconciliation state.
 */
export function clientView(client: Client, parts: ClientParts, publicUrl: string | null) {
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
  for (const e of parts.endpoints ?? []) {
    if (e.state === "disabled") {
      problems.push({
        code: "endpoint_disabled",
        message:
          `Outbound endpoint ${e.url} is disabled (${e.disabled_reason}). Fix the receiver, then enable it again or recover it since a time: nothing it missed is lost.`,
      });
    } else if (e.failing_since && Date.now() - Date.parse(e.failing_since) >= WARN_AFTER_MS) {
      problems.push({
        code: "endpoint_failing",
        message:
          `Deliveries to ${e.url} have failed since ${e.failing_since}; after 5 days of failures the endpoint is disabled. See its attempt log.`,
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
