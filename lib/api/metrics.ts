/**
 * The client API's request counter (`calcom_intake_client_api_requests_total`, by client and
 * outcome): every call of a client-API row is counted once, with `ok` or the refusal's code, so
 * an operator sees which business's integration is failing and why. A request refused before its
 * client is known (no token, another client's token) is counted without one: metric labels only
 * name known clients.
 */
import { HttpError } from "../errors.ts";
import type { Metrics } from "../metrics.ts";

/** Runs `step`, counting a refusal under `slug` (null: not yet known) and rethrowing it. */
export async function countRefusal<T>(
  metrics: Metrics,
  slug: string | null,
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    metrics.clientApiRequest(slug, error instanceof HttpError ? error.code : "internal_error");
    throw error;
  }
}

/** Runs a client-API call: counted `ok` when it answers, by its code when it is refused. */
export async function countedCall<T>(metrics: Metrics, slug: string, call: () => Promise<T>): Promise<T> {
  const result = await countRefusal(metrics, slug, call);
  metrics.clientApiRequest(slug, "ok");
  return result;
}
