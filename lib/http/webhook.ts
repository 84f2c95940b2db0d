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
import { createSubmission } from "../domain/submission.ts";
import { HttpError } from "../errors.ts";
import type { Intake } from "../processing/intake.ts";
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
}

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
            return json(200, { ok: true, signature_valid: false, hint: PING_HINT });
          }
          const reason = signature ? "mismatch" : signatureHeaderProblem(header) ?? "mismatch";
          throw new HttpError(
            401,
            reason === "mismatch" ? "invalid_signature" : `signature_${reason}`,
            SIGNATURE_MESSAGES[reason],
          );
        }
        const interpretation = interpretBytes(body, receivedAt);
        if (interpretation.kind === "ping") {
          ctx.trigger = "PING";
          await recordPing(deps.kv, slug, { at: receivedAt, signature_valid: true, secret_id: secretId });
          return json(200, { ok: true, signature_valid: true });
        }

        const submission = createSubmission({ slug, body, secretId, receivedAt, interpretation });
        ctx.trigger = submission.event_type || null;
        const outcome = await deps.intake.accept(submission, client.guard).catch((error) => {
          throw error instanceof ClientGoneError ? unknownClient(slug) : error;
        });
        if (outcome.kind === "duplicate") {
          ctx.submissionId = outcome.submission_id;
          return json(200, { submission_id: outcome.submission_id, duplicate: true });
        }
        ctx.submissionId = submission.id;
        if (interpretation.kind === "invalid") {
          throw new HttpError(
            422,
            "unusable_payload",
            `${interpretation.reason} The body was kept (quarantined) so it can be replayed after a fix.`,
            {},
            { submission_id: submission.id, status: "quarantined" },
          );
        }
        return json(202, { submission_id: submission.id, status: submission.status });
      })
    );
  };
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
