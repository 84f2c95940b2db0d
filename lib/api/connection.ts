/**
 * What a business may see of its own Cal.com connection (read-only): whether Cal.com's webhook is
 * in place and delivering, when the last delivery came and whether the silence since is unusual,
 * and how reconciliation with Cal.com's API is doing. Never a secret, the API key, or the
 * operator's fixes (those are in the operator's client view).
 */
import { silence } from "../domain/silence.ts";
import { clientParts } from "../store/client_parts.ts";
import { isoUtc } from "../time.ts";
import type { OpsContext } from "./context.ts";
import type { OpInput } from "./operation.ts";

/** The silence rule's answer (`domain/silence.ts`) for a client's delivery times, as answers show it. */
export function silenceView(deliveries: number[], silenceDays: number | null) {
  const { last_delivery, ...rest } = silence(deliveries, silenceDays, Date.now());
  return { last_delivery_at: last_delivery === null ? null : isoUtc(last_delivery), ...rest };
}

export async function connectionOp(ctx: OpsContext, input: OpInput) {
  const client = await ctx.client(input.slug);
  const parts = await clientParts(ctx.kv, client.slug);
  const hook = parts.hasApiKey ? parts.calcomWebhook : null;
  const last = parts.reconcile.last_pass;
  return {
    slug: client.slug,
    name: client.name ?? null,
    time_zone: client.time_zone ?? null,
    write_back: client.write_back === true && parts.hasApiKey,
    calcom_webhook: hook
      ? {
        state: hook.state,
        missing_triggers: hook.missing_triggers,
        checked_at: hook.checked_at,
        connected_at: hook.connected_at,
      }
      : null,
    last_ping_at: parts.lastPing?.at ?? null,
    deliveries: silenceView(parts.webhook?.deliveries ?? [], client.silence_days ?? null),
    reconciliation: parts.hasApiKey
      ? {
        api_key_state: parts.reconcile.api_key_state,
        last_pass_at: last?.finished_at ?? null,
        last_pass_ok: last?.ok ?? null,
        missed_webhooks: parts.reconcile.missed_webhooks_total,
      }
      : null,
  };
}
