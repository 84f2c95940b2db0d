/**
 * A receiver of calcom-intake's `job.*` webhooks, typed by the client API's generated types
 * (`client_api.d.ts`): it verifies each delivery with the npm package `standardwebhooks`, answers
 * 401 to a forged or stale one (the service retries, then disables the endpoint), and hands each
 * event to `onEvent` narrowed by its type. `tests/api/openapi_test.ts` runs it as the real
 * receiver of a real service.
 *
 *   WEBHOOK_SECRET=whsec_… deno run --allow-net --allow-env docs/examples/receive_jobs.ts
 */
import { Webhook } from "standardwebhooks";
import type { webhooks } from "./client_api.d.ts";

type BodyOf<T extends keyof webhooks> = NonNullable<
  webhooks[T]["post"]["requestBody"]
>["content"]["application/json"];

/** Any event the service sends, told apart by `type`. */
export type JobEvent = { [T in keyof webhooks]: BodyOf<T> }[keyof webhooks];

/** A handler for `Deno.serve`: 204 for a verified delivery handed to `onEvent`, 401 otherwise. */
export function receiver(
  secret: string,
  onEvent: (event: JobEvent, webhookId: string) => void | Promise<void>,
): (req: Request) => Promise<Response> {
  const verifier = new Webhook(secret);
  return async (req) => {
    const body = await req.text();
    let event: JobEvent;
    try {
      event = verifier.verify(body, Object.fromEntries(req.headers)) as JobEvent;
    } catch {
      return new Response("signature not valid", { status: 401 });
    }
    // Deduplicate by webhook-id (a retry has the same one); apply only newer job_versions.
    await onEvent(event, req.headers.get("webhook-id")!);
    return new Response(null, { status: 204 });
  };
}

/** What this example does with each event: one line per change. */
function describe(event: JobEvent): string {
  switch (event.type) {
    case "job.merged":
      return `${event.data.job_id} is now part of ${event.data.merged_into}`;
    case "job.cancelled":
      return `${event.data.job_id} cancelled: ${event.data.job?.cancellation_reason ?? "no reason given"}`;
    default:
      return `${event.type} ${event.data.job_id} v${event.data.job_version}: ${
        event.data.job?.start_time ?? ""
      }`;
  }
}

if (import.meta.main) {
  const secret = Deno.env.get("WEBHOOK_SECRET");
  if (!secret) throw new Error("Set WEBHOOK_SECRET to the endpoint's whsec_ secret.");
  // Port 9000: the service itself listens on 8000.
  Deno.serve({ port: 9000 }, receiver(secret, (event) => console.log(describe(event))));
}
