/**
 * `POST /webhooks/calcom/{client_slug}`: verify the signature over the raw bytes, answer pings,
 * and hand everything else to the intake pipeline, which answers once it is stored. A 2xx means
 * "stored".
 */
import {
  findVerifyingKey,
  parseSignatureHeader,
  SIGNATURE_HEADER,
  signatureHeaderProblem,
  type SignatureProblem,
} from "../calcom/signature.ts";
import { interpretBytes } from "../calcom/normalize.ts";
import { createSubmission, type Interpretation, statusFor, type Submission } from "../domain/submission.ts";
import { HttpError } from "../errors.ts";
import type { Intake } from "../processing/intake.ts";
import type { Metrics } from "../metrics.ts";
import type { Reconciler } from "../processing/reconciler.ts";
import type { WebhookStateRecorder } from "../store/reconcile.ts";
import { ClientGoneError, recordPing, type SigningKeyCache, SLUG_PATTERN } from "../store/clients.ts";
import { nowIso } from "../time.ts";
import type { BodyReader } from "./body.ts";
import type { Handler } from "./context.ts";
import { json } from "./errors.ts";

/** Cal.com's ping body is under 1 KB; larger unverified bodies are refused without parsing. */
const MAX_PING_BYTES = 16 * 1024;

export interface WebhookDeps {
  keys: SigningKeyCache;
  intake: Intake;
  bodies: BodyReader;
  kv: Deno.Kv;
  reconciler: Reconciler;
  webhookState: WebhookStateRecorder;
  metrics: Metrics;
}

/** Cal.com's payload version header (absent from older self-hosted Cal.com). */
const VERSION_HEADER = "x-cal-webhook-version";
const MAX_VERSION_LENGTH = 40;

const SIGNATURE_MESSAGES: Record<SignatureProblem, string> = {
  missing:
    "The X-Cal-Signature-256 header is missing. Set a secret on the Cal.com webhook (the one this client was given).",
  no_secret_provided:
    "Cal.com sent 'no-secret-provided': the webhook has no secret. Paste this client's secret into the Cal.com webhook settings.",
  malformed: "The X-Cal-Signature-256 header is not a 64-character hex HMAC-SHA256.",
  mismatch:
    "The signature does not match any of this client's secrets. Check that the Cal.com webhook secret is the one issued for this URL.",
};

const PING_HINT =
  "The ping arrived but its signature did not verify. Cal.com's Ping test on a saved webhook sends no secret unless you re-enter it; real bookings are signed with the saved secret. Re-enter the secret and ping again to confirm it matches.";

export function webhookRoute(deps: WebhookDeps): Handler {
  return async (ctx) => {
    const slug = ctx.params.slug ?? "";
    ctx.slug = slug;
    if (!SLUG_PATTERN.test(slug)) throw unknownClient(slug);
    const client = await deps.keys.get(slug);
    if (!client) throw unknownClient(slug);
    ctx.client = slug;
    deps.intake.ensureAccepting();

    return await deps.intake.receiving(() =>
      deps.bodies.with(ctx.req, async (body) => {
        const receivedAt = nowIso();
        const header = ctx.req.headers.get(SIGNATURE_HEADER);
        const signature = parseSignatureHeader(header);
        const secretId = signature ? await findVerifyingKey(client.keys, signature, body) : null;

        if (secretId === null) {
          // Unverified bodies are not interpreted, except to recognise Cal.com's (small) ping.
          if (body.length <= MAX_PING_BYTES && interpretBytes(body, receivedAt).kind === "ping") {
            ctx.trigger = "PING";
            await recordPing(deps.kv, slug, { at: receivedAt, signature_valid: false, secret_id: null });
            ctx.outcome = "ping_unverified";
            return json(200, { ok: true, signature_valid: false, hint: PING_HINT });
          }
          const reason = signature ? "mismatch" : signatureHeaderProblem(header) ?? "mismatch";
          deps.metrics.signatureFailure(slug, reason);
          throw new HttpError(
            401,
            reason === "mismatch" ? "invalid_signature" : `signature_${reason}`,
            SIGNATURE_MESSAGES[reason],
          );
        }
        const interpretation = interpretBytes(body, receivedAt);
        const version = ctx.req.headers.get(VERSION_HEADER)?.trim().slice(0, MAX_VERSION_LENGTH) || null;
        if (interpretation.kind === "ping") {
          ctx.trigger = "PING";
          await recordPing(deps.kv, slug, { at: receivedAt, signature_valid: true, secret_id: secretId });
          await deps.webhookState.observe(slug, { version, at: receivedAt, template: null });
          ctx.outcome = "ping";
          return json(200, { ok: true, signature_valid: true });
        }

        const submission = createSubmission({ slug, body, secretId, receivedAt, interpretation });
        ctx.trigger = submission.event_type || null;
        const outcome = await deps.intake.accept(submission, client.guard, { meaning: interpretation }).catch(
          (error) => {
            throw error instanceof ClientGoneError ? unknownClient(slug) : error;
          },
        );
        // A submission's id comes from its body, so a repeat has the first delivery's id.
        ctx.submissionId = submission.id;
        const templated = interpretation.kind === "invalid" && interpretation.cause === "payload_template";
        // What it tells about the webhook is a note beside the stored delivery: never a reason to fail it.
        await deps.webhookState.observe(slug, {
          version,
          at: receivedAt,
          template: templated ? { submission_id: submission.id, message: interpretation.reason } : null,
        }).catch(() => {});
        if (outcome.kind === "stored") {
          deps.metrics.submissions.inc({ client: slug, status: submission.status });
          afterStored(deps, slug, interpretation);
        }
        ctx.outcome = outcome.kind === "duplicate"
          ? "duplicate"
          : templated
          ? "payload_template"
          : submission.status;
        // The same bytes always get the same answer: a repeat is answered as the first one was.
        return answer(interpretation, submission, outcome.kind === "duplicate");
      })
    );
  };
}

/**
 * Deliveries only Cal.com's API can complete start a reconciliation pass (clients with an API
 * key): a recurring cancel-all, and any quarantined body (a payload template, or a booking body
 * this service cannot read), whose booking the API still shows.
 */
function afterStored(deps: WebhookDeps, slug: string, meaning: Interpretation): void {
  const followUp = meaning.kind === "booking" ? meaning.follow_up ?? null : null;
  if (meaning.kind !== "invalid" && !followUp) return;
  deps.reconciler.requestSoon(slug, followUp).catch(() => {});
}

function answer(meaning: Interpretation, submission: Submission, duplicate: boolean): Response {
  const id = submission.id;
  const repeat = duplicate ? { duplicate: true } : {};
  if (meaning.kind === "invalid") {
    const templated = meaning.cause === "payload_template";
    throw new HttpError(
      422,
      templated ? "payload_template" : "unusable_payload",
      `${meaning.reason} The body was kept (quarantined) so it can be replayed after a fix.${
        templated
          ? " With a Cal.com API key set for this client, reconciliation still turns its bookings into Jobs."
          : ""
      }`,
      {},
      { submission_id: id, status: statusFor(meaning, "received"), ...repeat },
    );
  }
  return json(202, { submission_id: id, status: submission.status, ...repeat });
}

function unknownClient(slug: string): HttpError {
  return new HttpError(
    404,
    "unknown_client",
    `No client "${
      slug.slice(0, 80)
    }" is set up here. Check the webhook URL in Cal.com, or add the client with the admin API.`,
  );
}
