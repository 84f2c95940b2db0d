/**
 * `POST /webhooks/calcom/{client_slug}`: verify the signature over the raw bytes, answer pings,
 * and store everything else durably (group commit) before answering. A 2xx means "stored".
 */
import {
  findVerifyingKey,
  parseSignatureHeader,
  sha256Hex,
  SIGNATURE_HEADER,
  signatureHeaderProblem,
  type SignatureProblem,
} from "../calcom/signature.ts";
import { interpretBytes } from "../calcom/normalize.ts";
import { createSubmission, type SubmissionStatus } from "../domain/submission.ts";
import { recordPing, SigningKeyCache, SLUG_PATTERN } from "../store/clients.ts";
import type { IngestBatcher } from "../store/submissions.ts";
import { nowIso } from "../time.ts";
import type { Deadlines } from "./deadlines.ts";
import { HttpError, json } from "./errors.ts";
import type { LogContext, Params } from "./router.ts";

export const MAX_BODY_BYTES = 1024 * 1024;
/** Cal.com's ping body is under 1 KB; larger unverified bodies are refused without parsing. */
const MAX_PING_BYTES = 16 * 1024;

export interface WebhookDeps {
  kv: Deno.Kv;
  keys: SigningKeyCache;
  batcher: IngestBatcher;
  /** Longest a request body may take to arrive. */
  bodyTimeoutMs: number;
  /** Where the body read timeouts of requests in progress are kept. */
  bodyDeadlines: Deadlines;
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

export function webhookHandler(deps: WebhookDeps) {
  return async (req: Request, params: Params, _url: URL, log: LogContext): Promise<Response> => {
    const slug = params.slug ?? "";
    log.slug = slug;
    if (!SLUG_PATTERN.test(slug)) throw unknownClient(slug);
    const client = await deps.keys.get(slug);
    if (!client) throw unknownClient(slug);

    const body = await readBodyLimited(req, MAX_BODY_BYTES, deps.bodyDeadlines, deps.bodyTimeoutMs);
    const receivedAt = nowIso();
    const header = req.headers.get(SIGNATURE_HEADER);
    const signature = parseSignatureHeader(header);
    const problem = signature ? null : signatureHeaderProblem(header);
    const secretId = signature ? findVerifyingKey(client.keys, signature, body) : null;

    if (secretId === null) {
      // Unverified bodies are not interpreted, except to recognise Cal.com's (small) ping.
      if (body.length <= MAX_PING_BYTES && interpretBytes(body, receivedAt).kind === "ping") {
        log.trigger = "PING";
        await recordPing(deps.kv, slug, { at: receivedAt, signature_valid: false, secret_id: null });
        return json(200, { ok: true, signature_valid: false, hint: PING_HINT });
      }
      const reason = problem ?? "mismatch";
      throw new HttpError(
        401,
        reason === "mismatch" ? "invalid_signature" : `signature_${reason}`,
        SIGNATURE_MESSAGES[reason],
      );
    }
    const interpretation = interpretBytes(body, receivedAt);
    if (interpretation.kind === "ping") {
      log.trigger = "PING";
      await recordPing(deps.kv, slug, { at: receivedAt, signature_valid: true, secret_id: secretId });
      return json(200, { ok: true, signature_valid: true });
    }

    const fields = interpretation.kind === "invalid" ? null : interpretation.fields;
    log.trigger = fields?.event_type ?? null;
    const status: SubmissionStatus = interpretation.kind === "invalid"
      ? "quarantined"
      : interpretation.kind === "ignored"
      ? "ignored"
      : "pending";
    const submission = createSubmission({
      slug,
      body,
      sha: sha256Hex(body),
      secretId,
      receivedAt,
      status,
      fields,
      error: interpretation.kind === "invalid" ? interpretation.reason : null,
    });

    const outcome = await deps.batcher.ingest(submission);
    if (outcome.kind === "duplicate") {
      log.submission_id = outcome.submission_id;
      return json(200, { submission_id: outcome.submission_id, duplicate: true });
    }
    log.submission_id = submission.id;
    if (interpretation.kind === "invalid") {
      throw new HttpError(
        422,
        "unusable_payload",
        `${interpretation.reason} The body was kept (quarantined) so it can be replayed after a fix.`,
        {},
        {
          submission_id: submission.id,
          status: "quarantined",
        },
      );
    }
    return json(202, { submission_id: submission.id, status });
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

/**
 * Reads at most `limit` bytes within `timeoutMs`; a larger body is refused without buffering the
 * rest, a slower one is answered 408.
 */
export async function readBodyLimited(
  req: Request,
  limit: number,
  deadlines: Deadlines,
  timeoutMs: number,
): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array(0);
  // A declared length is enforced by the HTTP server: read it in one go (the common, cheaper path).
  if (Number.isInteger(declared)) {
    return await withTimeout(req.bytes(), deadlines, timeoutMs, () => req.body?.cancel().catch(() => {}));
  }
  const reader = req.body.getReader();
  return await withTimeout(
    readAtMost(reader, limit),
    deadlines,
    timeoutMs,
    () => reader.cancel("timeout").catch(() => {}),
  );
}

/** A body without a declared length, chunk by chunk, refused as soon as it passes `limit`. */
async function readAtMost(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  // A copy, never a view: KV serialises a view's whole underlying buffer.
  if (chunks.length === 1) return chunks[0].slice();
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** `read`, or 408 once `timeoutMs` passed (then `abandon` stops the read); other read errors are 408 too. */
async function withTimeout(
  read: Promise<Uint8Array>,
  deadlines: Deadlines,
  timeoutMs: number,
  abandon: () => void,
): Promise<Uint8Array> {
  const timeout = Promise.withResolvers<never>();
  const cancel = deadlines.start(timeoutMs, () => timeout.reject(bodyTimeout()));
  try {
    return await Promise.race([read, timeout.promise]);
  } catch (error) {
    read.catch(() => {});
    abandon();
    throw error instanceof HttpError ? error : bodyTimeout();
  } finally {
    cancel();
  }
}

function bodyTimeout(): HttpError {
  return new HttpError(
    408,
    "body_timeout",
    "The request body was not received completely in time. Send it again.",
  );
}

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    "body_too_large",
    `The body is larger than ${limit} bytes. Cal.com booking webhooks are far smaller; check the sender.`,
  );
}
