/**
 * Write-back: a business's system acts on one of its Jobs and Cal.com follows. Each request is
 * idempotent by its `Idempotency-Key` (`store/write_back.ts`): the same key and body answer the
 * first answer again, another body is refused, and a retry after a crash never acts twice: a
 * request that may have reached Cal.com is checked against Cal.com's booking before it is sent
 * again. An action Cal.com accepts is recorded on the Job as `pending_action` (a change); Cal.com's
 * echo (or the snapshot of a reconciliation pass, brought forward to run within minutes) settles it
 * (`domain/job.ts`'s `settles`). A refusal
 * answers Cal.com's reason and leaves the Job as it was. Writes share the key's 120 requests a
 * minute with reconciliation: at most half of them per minute go to writes, so they never starve it.
 */
import { DEFAULT_API_URL } from "../calcom/api.ts";
import { type ActionInput, actionRequest, refusalMessage, showsEffect } from "../calcom/actions.ts";
import type { Job, PendingAction, WriteBackAction } from "../domain/job.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type Client, getApiKey } from "../store/clients.ts";
import {
  claimWriteBack,
  finishWriteBack,
  markSent,
  releaseWriteBack,
  type WriteBackRecord,
} from "../store/write_back.ts";
import { scheduleReconcile } from "../store/reconcile.ts";
import { nowIso } from "../time.ts";
import { ApiError, ApiKeyRejectedError, CalcomApi, parseBooking } from "./calcom_client.ts";

export interface WriteBackOptions {
  backoffMs: number;
  timeoutMs: number;
}

/** How soon after an accepted action a reconciliation pass runs at the latest (for a lost echo). */
export const SETTLE_BY_PASS_MS = 3 * 60_000;

/** Writes per key per minute: half of Cal.com's 120, the rest is reconciliation's. */
export const WRITES_PER_MINUTE = 60;

export interface WriteBackRequest {
  client: Client;
  job: Job;
  action: WriteBackAction;
  input: ActionInput;
  /** Who asks (the Job's `pending_action.by`). */
  by: string;
  keyHash: string;
  bodyHash: string;
}

/** What an accepted action answers (again, to a retry with the same key). */
export interface WriteBackAnswer {
  action: PendingAction;
  job_id: string;
  calcom_uid: string;
}

export class WriteBack {
  /** When each key's recent writes went out (this process). */
  readonly #recent = new Map<string, number[]>();
  /** Free slots answers, briefly. */
  readonly #slots = new Map<string, { at: number; body: unknown }>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly log: Logger,
    private readonly options: WriteBackOptions,
    private readonly metrics: Metrics | null = null,
  ) {}

  /** How long an attempt holds its key before a retry may take it over (it may still be waiting on Cal.com). */
  get leaseMs(): number {
    return Math.max(10_000, 2 * this.options.timeoutMs);
  }

  async act(request: WriteBackRequest): Promise<WriteBackAnswer> {
    const { client, job, action } = request;
    const api = await this.#api(client);
    const uid = job.calcom_event_id;
    const fresh: WriteBackRecord = {
      body_hash: request.bodyHash,
      job_id: job.id,
      state: "started",
      lease_until: Date.now() + this.leaseMs,
      sent: false,
      status: null,
      answer: null,
      created_at: nowIso(),
    };
    const claim = await claimWriteBack(this.kv, client.slug, request.keyHash, fresh);
    if (!claim.claimed) return answered(claim.record, request.bodyHash, this.leaseMs);

    const pending: PendingAction = {
      action,
      uid,
      requested_at: nowIso(),
      by: request.by,
      reason: request.input.reason,
      start: request.input.start,
      attendees: request.input.attendees,
      host: request.input.host,
    };
    const success: WriteBackAnswer = { action: pending, job_id: job.id, calcom_uid: uid };
    const accepted = async () => {
      await finishWriteBack(this.kv, client.slug, request.keyHash, { status: 200, answer: success }, {
        jobId: job.id,
        action: pending,
        now: pending.requested_at,
      });
      // If Cal.com's echo never comes, a pass within minutes reads the booking and settles it.
      await scheduleReconcile(this.kv, client.slug, Date.now() + SETTLE_BY_PASS_MS, { onlySooner: true });
      this.log.info("write-back accepted", { slug: client.slug, job_id: job.id, action, uid });
      return success;
    };

    try {
      // An earlier attempt sent it and then vanished: Cal.com may have acted. Look before acting.
      if (claim.takenOver?.sent) {
        const shown = (await api.read(uid))?.map(parseBooking).find((b) => b?.uid === uid);
        if (shown && showsEffect(action, shown, request.input)) return await accepted();
      }
      this.#spend(client.slug);
      await markSent(this.kv, client.slug, request.keyHash);
      const { path, body } = actionRequest(action, request.input);
      const res = await api.act(uid, path, body);
      if (res.status === 429) {
        await releaseWriteBack(this.kv, client.slug, request.keyHash, true);
        throw rateLimited(res.retryAfterMs ?? 60_000);
      }
      if (res.status >= 400) {
        // Cal.com said no: nothing was done, and a retry with this key answers the same.
        const reason = refusalMessage(res.body) || `HTTP ${res.status}`;
        const status = res.status === 422 ? 422 : 409;
        const refusal = {
          code: "calcom_refused",
          message: `Cal.com refused to ${
            ACTION_WORDS[action]
          } this booking: ${reason}. The Job is unchanged.`,
        };
        await finishWriteBack(this.kv, client.slug, request.keyHash, { status, answer: refusal }, null);
        this.log.info("write-back refused", {
          slug: client.slug,
          job_id: job.id,
          action,
          status: res.status,
        });
        throw new HttpError(status, refusal.code, refusal.message);
      }
      return await accepted();
    } catch (error) {
      if (error instanceof ApiKeyRejectedError) {
        await releaseWriteBack(this.kv, client.slug, request.keyHash, true);
        throw new HttpError(422, "calcom_api_key_rejected", error.message);
      }
      if (error instanceof ApiError) {
        // The request may or may not have reached Cal.com: the key stays held until its lease ends,
        // and the retry then checks the booking before sending again.
        throw new HttpError(
          502,
          "calcom_unreachable",
          `${error.message} It may or may not have acted: retry with the same Idempotency-Key in ${
            Math.ceil(this.leaseMs / 1000)
          } s, and the booking is checked before anything is sent again.`,
          { "retry-after": String(Math.ceil(this.leaseMs / 1000)) },
        );
      }
      // Anything else (the write budget spent, a refusal kept) leaves the key free again if nothing
      // was sent, so the same key may be tried at once rather than after the lease.
      await releaseWriteBack(this.kv, client.slug, request.keyHash, false);
      throw error;
    }
  }

  /** Cal.com's free slots for a reschedule to pick from, kept a minute. */
  async slots(client: Client, query: URLSearchParams): Promise<unknown> {
    const cacheKey = `${client.slug}?${query}`;
    const cached = this.#slots.get(cacheKey);
    if (cached && Date.now() - cached.at < 60_000) return cached.body;
    const api = await this.#api(client);
    this.#spend(client.slug);
    const res = await api.slots(query);
    if (res.status === 429) throw rateLimited(res.retryAfterMs ?? 60_000);
    if (res.status >= 400) {
      throw new HttpError(
        422,
        "calcom_refused",
        `Cal.com refused the slots query: ${refusalMessage(res.body) || `HTTP ${res.status}`}.`,
      );
    }
    const data = (res.body as { data?: unknown })?.data ?? {};
    if (this.#slots.size > 500) this.#slots.clear();
    this.#slots.set(cacheKey, { at: Date.now(), body: data });
    return data;
  }

  async #api(client: Client): Promise<CalcomApi> {
    if (!client.write_back) {
      throw new HttpError(
        403,
        "write_back_off",
        `Write-back is off for "${client.slug}": the operator turns it on with PATCH /admin/clients/${client.slug} {"write_back": true}.`,
      );
    }
    const key = await getApiKey(this.kv, client.slug);
    if (!key) {
      throw new HttpError(
        409,
        "no_api_key",
        `Write-back needs "${client.slug}"'s Cal.com API key; the operator sets it (calcom_api_key).`,
      );
    }
    return new CalcomApi(client.calcom_api_url ?? DEFAULT_API_URL, key.api_key, {
      backoffMs: this.options.backoffMs,
      timeoutMs: this.options.timeoutMs,
      onError: (kind) => this.metrics?.apiErrors.inc({ client: client.slug, kind }),
    });
  }

  /** Takes one of the key's writes for this minute, or answers 429 with when the next one is free. */
  #spend(slug: string): void {
    const now = Date.now();
    const recent = (this.#recent.get(slug) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= WRITES_PER_MINUTE) throw rateLimited(60_000 - (now - recent[0]));
    recent.push(now);
    this.#recent.set(slug, recent);
  }
}

const ACTION_WORDS: Record<WriteBackAction, string> = {
  cancel: "cancel",
  reschedule: "reschedule",
  no_show: "mark no-shows on",
  confirm: "confirm",
  decline: "decline",
};

function rateLimited(ms: number): HttpError {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  return new HttpError(
    429,
    "rate_limited",
    `Cal.com allows this client's API key 120 requests a minute, shared with reconciliation; try again in ${seconds} s.`,
    { "retry-after": String(seconds) },
  );
}

/** What a key already holds answers a request: again, refused for another body, or "still running". */
function answered(record: WriteBackRecord, bodyHash: string, leaseMs: number): WriteBackAnswer {
  if (record.body_hash !== bodyHash) {
    throw new HttpError(
      409,
      "idempotency_key_reused",
      "This Idempotency-Key was used for another request (another Job, action or body). Use a new key for a new request.",
    );
  }
  if (record.state === "started") {
    const seconds = Math.max(1, Math.ceil((record.lease_until - Date.now()) / 1000));
    throw new HttpError(
      409,
      "in_progress",
      `A request with this Idempotency-Key is still being sent to Cal.com; retry in ${seconds} s for its answer.`,
      { "retry-after": String(Math.min(seconds, Math.ceil(leaseMs / 1000))) },
    );
  }
  if (record.status !== 200) {
    const refusal = record.answer as { code: string; message: string };
    throw new HttpError(record.status ?? 409, refusal.code, refusal.message);
  }
  return record.answer as WriteBackAnswer;
}
