/**
 * What the service knows of each client's webhook in Cal.com: the id of the webhook connect made
 * or adopted, the triggers that Cal.com accepts of those wanted, and the state the last check or
 * connect found (with every problem and its fix). Never the webhook's secret.
 */
import type { WebhookCheckState, WebhookFinding } from "../calcom/webhooks_api.ts";
import { clientCalcomWebhookKey, clientKey } from "./keys.ts";
import { withOccRetry } from "./kv.ts";

export interface CalcomWebhookRecord {
  /** Cal.com's id of the client's webhook (null: none known). */
  webhook_id: string | null;
  state: WebhookCheckState;
  /** Every way the webhook differs from what it should be (the first is `state`). */
  problems: WebhookFinding[];
  /** Wanted triggers the webhook lacks (with `missing_triggers`). */
  missing_triggers: string[];
  /** The triggers this client's Cal.com accepted (an older one offers fewer); null: all wanted. */
  triggers: string[] | null;
  checked_at: string | null;
  connected_at: string | null;
  /** Why the last check could not say (Cal.com unreachable, PUBLIC_URL unset); the state is the one before. */
  error: string | null;
  /**
   * When the Cal.com this record shows was looked at: a check's start, the end of a connect or
   * disconnect, a new API key. A check that looked earlier than that leaves the record alone (a
   * pass's check that saw the webhook before a disconnect must not record it as still there).
   */
  observed_at: string | null;
}

export const UNCHECKED: CalcomWebhookRecord = {
  webhook_id: null,
  state: "unchecked",
  problems: [],
  missing_triggers: [],
  triggers: null,
  checked_at: null,
  connected_at: null,
  error: null,
  observed_at: null,
};

export async function getCalcomWebhook(kv: Deno.Kv, slug: string): Promise<CalcomWebhookRecord> {
  return { ...UNCHECKED, ...(await kv.get<CalcomWebhookRecord>(clientCalcomWebhookKey(slug))).value };
}

/**
 * Changes the client's record (null when the client no longer exists: a record written after a
 * delete would outlive it). A patch of null leaves the record as it is, and answers it.
 */
export async function updateCalcomWebhook(
  kv: Deno.Kv,
  slug: string,
  patch: (current: CalcomWebhookRecord) => Partial<CalcomWebhookRecord> | null,
): Promise<CalcomWebhookRecord | null> {
  return await withOccRetry("update calcom webhook", async () => {
    const [client, entry] = await kv.getMany([clientKey(slug), clientCalcomWebhookKey(slug)]);
    if (!client.value) return { op: null, result: null };
    const next = { ...UNCHECKED, ...(entry.value as CalcomWebhookRecord | null) };
    const change = patch(next);
    if (!change) return { op: null, result: next };
    Object.assign(next, change);
    return { op: kv.atomic().check(client, entry).set(entry.key, next), result: next };
  });
}
