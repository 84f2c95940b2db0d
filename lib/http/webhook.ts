/**
 * `POST /webhooks/calcom/{client_slug}`, flat: the slug's signing keys, the body within its limits,
 * the signature over the raw bytes, then `intake.receive` (which stores and processes it), a
 * reconciliation pass where the delivery needs one, and the answer. A 2xx means "stored".
 */
import {
  findVerifyingKey,
  parseSignatureHeader,
  SIGNATURE_HEADER,
  signatureHeaderProblem,
  type SignatureProblem,
} from "../calcom/signature.ts";
import { statusFor } from "../domain/submission.ts";
import { HttpError } from "../errors.ts";
import type { Intake, Receipt } from "../processing/intake.ts";
import type { Metrics } from "../metrics.ts";
import type { Reconciler } from "../processing/reconciler.ts";
import { ClientGoneError, type SigningKeyCache, SLUG_PATTERN } from "../store/clients.ts";
import { nowIso } from "../time.ts";
import type { BodyReader } from "./body.ts";
import type { Handler, RequestContext } from "./context.ts";
import { json } from "./errors.ts";

export interface WebhookDeps {
  keys: SigningKeyCache;
  intake: Intake;
  bodies: BodyReader;
  reconciler: Reconciler;
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

    return await deps.bodies.with(ctx.req, async (body) => {
      const receivedAt = nowIso();
      const header = ctx.req.headers.get(SIGNATURE_HEADER);
      const signature = parseSignatureHeader(header);
      const secretId = signature ? await findVerifyingKey(client.keys, signature, body) : null;
      const receipt = await deps.intake.receive({
        guard: client.guard,
        body,
        channel: "calcom",
        secretId,
        receivedAt,
        webhookVersion: ctx.req.headers.get(VERSION_HEADER)?.trim().slice(0, MAX_VERSION_LENGTH) || null,
      }).catch((error) => {
        throw error instanceof ClientGoneError ? unknownClient(slug) : error;
      });
      if (receipt.kind === "unverified") {
        const reason = signature ? "mismatch" : signatureHeaderProblem(header) ?? "mismatch";
        deps.metrics.signatureFailure(slug, reason);
        throw new HttpError(
          401,
          reason === "mismatch" ? "invalid_signature" : `signature_${reason}`,
          SIGNATURE_MESSAGES[reason],
        );
      }
      if (receipt.kind !== "ping" && receipt.passNeeded) {
        deps.reconciler.requestSoon(slug, receipt.followUp).catch(() => {});
      }
      return answer(ctx, receipt);
    }, ctx.sender);
  };
}

/** The answer, and what the request's log line says. The same bytes always get the same answer. */
function answer(ctx: RequestContext, receipt: Exclude<Receipt, { kind: "unverified" }>): Response {
  if (receipt.kind === "ping") {
    ctx.trigger = "PING";
    ctx.outcome = receipt.signatureValid ? "ping" : "ping_unverified";
    return receipt.signatureValid
      ? json(200, { ok: true, signature_valid: true })
      : json(200, { ok: true, signature_valid: false, hint: PING_HINT });
  }
  const { submission, meaning } = receipt;
  const duplicate = receipt.kind === "duplicate";
  // A submission's id comes from its body, so a repeat has the first delivery's id.
  ctx.trigger = submission.event_type || null;
  ctx.submissionId = submission.id;
  ctx.outcome = duplicate ? "duplicate" : receipt.templated ? "payload_template" : submission.status;
  const repeat = duplicate ? { duplicate: true } : {};
  if (meaning.kind === "invalid") {
    throw new HttpError(
      422,
      receipt.templated ? "payload_template" : "unusable_payload",
      `${meaning.reason} The body was kept (quarantined) so it can be replayed after a fix.${
        receipt.templated
          ? " With a Cal.com API key set for this client, reconciliation still turns its bookings into Jobs."
          : ""
      }`,
      {},
      { submission_id: submission.id, status: statusFor(meaning, "received"), ...repeat },
    );
  }
  return json(202, { submission_id: submission.id, status: submission.status, ...repeat });
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
