/**
 * Connecting a client to Cal.com in one step, and noticing when its webhook drifts. With the
 * client's Cal.com API key, `connect` creates the webhook (or adopts the one for our URL and
 * corrects it) so it delivers every trigger this service acts on, in Cal.com's own format, signed
 * with one of the client's live secrets; `check` compares what Cal.com shows with that and records
 * a state (reconciliation runs it with every pass); `disconnect` removes the webhook, only ever one
 * that delivers to us. A fresh secret joins the client's live secrets before Cal.com gets it, so
 * the first delivery verifies. Secrets and the key never reach a log line or an answer.
 */
import { inSpan } from "../trace.ts";
import { DEFAULT_API_URL } from "../calcom/api.ts";
import {
  type CalcomWebhook,
  createBody,
  deliversToSlug,
  findDrift,
  missingFinding,
  missingTriggers,
  repairPatch,
  sameUrl,
  subscriberUrlFor,
  WANTED_TRIGGERS,
  type WantedWebhook,
  webhookUrlProblem,
} from "../calcom/webhooks_api.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { type CalcomWebhookRecord, getCalcomWebhook, updateCalcomWebhook } from "../store/calcom_webhooks.ts";
import {
  addSecret,
  type Client,
  getApiKey,
  getClient,
  listSecrets,
  removeSecret,
  SIGNING_KEY_TTL_MS,
  type SigningKeyCache,
} from "../store/clients.ts";
import { nowIso, sleep } from "../time.ts";
import { ApiKeyRejectedError, CalcomApi } from "./calcom_client.ts";

export interface ConnectorOptions {
  /** PUBLIC_URL: the subscriber URLs are built on it (null: connect is refused). */
  publicUrl: string | null;
  backoffMs: number;
  timeoutMs: number;
  /** The webhook route's signing keys, told at once of a secret connect adds. */
  keys?: SigningKeyCache | null;
}

/** What connect did, as its answer says it. */
export interface ConnectResult {
  action: "created" | "updated" | "unchanged";
  webhook_id: string;
  subscriber_url: string;
  /** What was changed in Cal.com (e.g. "active", "triggers", "payload_template", "secret"). */
  changed: string[];
  triggers: string[];
  /** The id of the secret connect added to the client (its value went to Cal.com only). */
  new_secret_id: string | null;
  /** True when deliveries may have been lost before (a pass with Cal.com's API then follows). */
  repaired_delivery: boolean;
}

const FIELD_NAMES: Record<string, string> = {
  active: "active",
  subscriberUrl: "subscriber_url",
  payloadTemplate: "payload_template",
  secret: "secret",
  triggers: "triggers",
};

export class CalcomWebhooks {
  constructor(
    private readonly kv: Deno.Kv,
    private readonly log: Logger,
    private readonly options: ConnectorOptions,
    private readonly metrics: Metrics | null = null,
  ) {}

  /** Creates, or adopts and corrects, the client's webhook in Cal.com. Connecting twice changes nothing. */
  connect(slug: string): Promise<ConnectResult> {
    return inSpan("calcom.connect", { "calcom_intake.client": slug }, async (span) => {
      const result = await this.#connect(slug);
      span.setAttributes({
        "calcom_intake.action": result.action,
        "calcom_intake.webhook_id": result.webhook_id,
      });
      return result;
    });
  }

  async #connect(slug: string): Promise<ConnectResult> {
    const { client, api, url } = await this.#prepare(slug);
    const record = await getCalcomWebhook(this.kv, slug);
    const wanted: WantedWebhook = { slug, subscriberUrl: url, triggers: WANTED_TRIGGERS };
    const run: ConnectRun = { fallbacks: 0, secret: null, secretMaybeStored: false, said: [] };
    try {
      const hook = await this.#find(api, record, slug, url, run);
      const result = hook
        ? await this.#correct(api, client, hook, wanted, null, run)
        : await this.#create(api, client, wanted, run);
      await updateCalcomWebhook(this.kv, slug, () => ({
        observed_at: nowIso(),
        webhook_id: result.webhook_id,
        state: "ok",
        problems: [],
        missing_triggers: [],
        triggers: sameSet(result.triggers, WANTED_TRIGGERS) ? null : result.triggers,
        checked_at: nowIso(),
        connected_at: nowIso(),
        error: null,
      }));
      this.log.info("calcom webhook connected", {
        slug,
        action: result.action,
        webhook_id: result.webhook_id,
        changed: result.changed,
      });
      return result;
    } catch (error) {
      await this.#dropUnused(slug, run);
      throw await this.#failed(slug, error, "connect");
    }
  }

  /**
   * A connect that failed leaves no secret Cal.com was never told of: one every request carrying it
   * was refused (404, 409, 400) is removed again; one a request may have stored (no answer) stays.
   */
  async #dropUnused(slug: string, run: ConnectRun): Promise<void> {
    if (!run.secret || run.secretMaybeStored) return;
    await removeSecret(this.kv, slug, run.secret.id).catch(() => {});
    this.options.keys?.invalidate(slug);
  }

  /**
   * Compares the client's webhook in Cal.com with what it should be and records the state. A key
   * Cal.com refuses is a state (`api_key_rejected`); Cal.com unreachable is a 502, the state kept.
   */
  check(slug: string): Promise<CalcomWebhookRecord> {
    return inSpan("calcom.check", { "calcom_intake.client": slug }, async (span) => {
      const record = await this.#check(slug);
      span.setAttribute("calcom_intake.state", record.state);
      return record;
    });
  }

  async #check(slug: string): Promise<CalcomWebhookRecord> {
    const client = await this.#client(slug);
    const problem = webhookUrlProblem(this.options.publicUrl);
    if (problem) {
      return await this.#record(slug, () => ({ error: problem }));
    }
    const { api, url } = await this.#prepare(client.slug);
    const record = await getCalcomWebhook(this.kv, slug);
    const lookedAt = nowIso();
    try {
      const hook = await this.#find(api, record, slug, url);
      const wanted: WantedWebhook = {
        slug,
        subscriberUrl: url,
        triggers: record.triggers ?? WANTED_TRIGGERS,
      };
      const secrets = (await listSecrets(this.kv, slug)).map((s) => s.secret);
      const problems = hook ? findDrift(hook, wanted, secrets) : [missingFinding(url, slug)];
      // What a connect, a disconnect or another check recorded of a later look at Cal.com stays.
      const next = await this.#record(
        slug,
        (current) =>
          current.observed_at !== null && current.observed_at > lookedAt ? null : ({
            webhook_id: hook?.id ?? record.webhook_id,
            state: problems[0]?.state ?? "ok",
            problems,
            missing_triggers: hook ? missingTriggers(hook, wanted) : [],
            checked_at: nowIso(),
            observed_at: lookedAt,
            error: null,
          }),
      );
      if (next.state !== record.state) {
        this.log.info("calcom webhook state", { slug, state: next.state, was: record.state });
      }
      return next;
    } catch (error) {
      throw await this.#failed(slug, error, "check");
    }
  }

  /** Removes the client's webhook from Cal.com: only one that delivers to this service's URL for it. */
  async disconnect(slug: string): Promise<{ deleted: string; subscriber_url: string }> {
    const { api, url } = await this.#prepare(slug);
    const record = await getCalcomWebhook(this.kv, slug);
    try {
      const hook = await this.#find(api, record, slug, url);
      if (!hook || !sameUrl(hook.subscriberUrl, url) || !(await api.deleteWebhook(hook.id))) {
        throw new HttpError(
          404,
          "not_connected",
          `Cal.com has no webhook delivering to ${url} for this API key's user; nothing was removed. (A webhook pointing elsewhere is never removed from here.)`,
        );
      }
      await this.#record(slug, () => ({
        observed_at: nowIso(),
        webhook_id: null,
        state: "missing",
        problems: [{
          ...missingFinding(url, slug),
          message:
            `Disconnected from Cal.com at ${nowIso()}: no booking reaches the service by webhook until the client is connected again.`,
        }],
        missing_triggers: [],
        checked_at: nowIso(),
        error: null,
      }));
      this.log.info("calcom webhook disconnected", { slug, webhook_id: hook.id });
      return { deleted: hook.id, subscriber_url: hook.subscriberUrl };
    } catch (error) {
      throw await this.#failed(slug, error, "disconnect");
    }
  }

  /**
   * The client's webhook: the one connect recorded if it still delivers to us, else the one the
   * user has for our URL, else one for this client's path under another address (a URL since
   * changed); null when there is none.
   */
  async #find(api: CalcomApi, record: CalcomWebhookRecord, slug: string, url: string, run?: ConnectRun) {
    const known = record.webhook_id ? await api.getWebhook(record.webhook_id) : null;
    if (record.webhook_id && !known) run?.said.push(`GET /webhooks/${record.webhook_id} answered 404`);
    if (known && sameUrl(known.subscriberUrl, url)) return known;
    const all = await api.listWebhooks();
    return all.find((h) => h.subscriberUrl === url) ?? all.find((h) => sameUrl(h.subscriberUrl, url)) ??
      known ?? all.find((h) => deliversToSlug(h.subscriberUrl, slug)) ?? null;
  }

  async #create(
    api: CalcomApi,
    client: Client,
    wanted: WantedWebhook,
    run: ConnectRun,
  ): Promise<ConnectResult> {
    const secret = run.secret ?? await this.#freshSecret(client.slug, run);
    let triggers = wanted.triggers;
    for (let attempt = 0; attempt < 2; attempt++) {
      const answer = await carrying(
        run,
        () => api.createWebhook(createBody({ ...wanted, triggers }, secret.secret)),
      );
      if ("created" in answer) {
        return {
          action: "created",
          webhook_id: answer.created.id,
          subscriber_url: answer.created.subscriberUrl,
          changed: [],
          triggers: [...triggers],
          new_secret_id: secret.id,
          repaired_delivery: true,
        };
      }
      if ("conflict" in answer) {
        // Made meanwhile (or an exact-URL webhook the list did not show yet): correct that one, once.
        run.said.push(`POST /webhooks answered 409 (a webhook for ${wanted.subscriberUrl} exists)`);
        const hook = (await api.listWebhooks()).find((h) => h.subscriberUrl === wanted.subscriberUrl);
        if (!hook) run.said.push(`GET /webhooks lists none for ${wanted.subscriberUrl}`);
        if (!hook || run.fallbacks++ >= 1) throw inconsistent(wanted.subscriberUrl, run);
        return {
          ...(await this.#correct(api, client, hook, wanted, secret, run)),
          new_secret_id: secret.id,
        };
      }
      triggers = supported(wanted.triggers, answer.triggers);
    }
    throw new HttpError(
      502,
      "calcom_api_failed",
      `Cal.com refused to create the webhook for ${wanted.subscriberUrl}; try again, or set it up by hand (docs/connect.md).`,
    );
  }

  /** Makes an existing webhook the wanted one, keeping its secret when it is one of the client's. */
  async #correct(
    api: CalcomApi,
    client: Client,
    hook: CalcomWebhook,
    wanted: WantedWebhook,
    given: { id: string; secret: string } | null,
    run: ConnectRun,
  ): Promise<ConnectResult> {
    const live = await listSecrets(this.kv, client.slug);
    const kept = given ?? live.find((s) => s.secret === hook.secret) ?? null;
    const secret = kept ?? run.secret ?? await this.#freshSecret(client.slug, run);
    let triggers = wanted.triggers;
    for (let attempt = 0; attempt < 2; attempt++) {
      const patch = repairPatch(hook, { ...wanted, triggers }, secret.secret);
      const changed = Object.keys(patch).map((k) => FIELD_NAMES[k] ?? k);
      const result = {
        webhook_id: hook.id,
        subscriber_url: wanted.subscriberUrl,
        changed,
        triggers: [...triggers],
        new_secret_id: kept ? null : secret.id,
        repaired_delivery: ["active", "subscriber_url", "secret"].some((f) => changed.includes(f)),
      };
      if (changed.length === 0) return { action: "unchanged", ...result };
      const answer = "secret" in patch
        ? await carrying(run, () => api.patchWebhook(hook.id, patch))
        : await api.patchWebhook(hook.id, patch);
      if (answer === null) {
        // Deleted while we looked: create it afresh (with the secret already live), once.
        run.said.push(`PATCH /webhooks/${hook.id} answered 404 though GET /webhooks lists it`);
        if (run.fallbacks++ >= 1) throw inconsistent(wanted.subscriberUrl, run);
        return await this.#create(api, client, wanted, run);
      }
      if ("updated" in answer) return { action: "updated", ...result };
      triggers = supported(wanted.triggers, answer.triggers);
    }
    throw new HttpError(
      502,
      "calcom_api_failed",
      `Cal.com refused to correct webhook ${hook.id}; try again, or correct it by hand in Cal.com (docs/connect.md).`,
    );
  }

  /**
   * A new secret, live for the client before Cal.com signs anything with it: this process's
   * signing keys learn of it at once, other instances' within their cache's lifetime, which this
   * waits out before Cal.com is told.
   */
  async #freshSecret(slug: string, run: ConnectRun): Promise<{ id: string; secret: string }> {
    const secret = await addSecret(this.kv, slug);
    if (!secret) throw gone(slug);
    run.secret = secret;
    this.options.keys?.invalidate(slug);
    await sleep(SIGNING_KEY_TTL_MS + 100);
    return secret;
  }

  async #client(slug: string): Promise<Client> {
    const client = await getClient(this.kv, slug);
    if (!client) throw gone(slug);
    return client;
  }

  /** The client, a client of Cal.com's API with its key, and the subscriber URL; or why not. */
  async #prepare(slug: string): Promise<{ client: Client; api: CalcomApi; url: string }> {
    const client = await this.#client(slug);
    const key = await getApiKey(this.kv, slug);
    if (!key) {
      throw new HttpError(
        409,
        "no_api_key",
        `Client "${slug}" has no Cal.com API key, so the service cannot reach its Cal.com. Set one (client update ${slug} --api-key -, or PUT /admin/clients/${slug} {"calcom_api_key": "cal_live_…"}), or set the webhook up by hand (docs/connect.md).`,
      );
    }
    const problem = webhookUrlProblem(this.options.publicUrl);
    if (problem) throw new HttpError(409, "public_url_required", `${problem} Then connect again.`);
    const api = new CalcomApi(client.calcom_api_url ?? DEFAULT_API_URL, key.api_key, {
      backoffMs: this.options.backoffMs,
      timeoutMs: this.options.timeoutMs,
      onError: (kind) => this.metrics?.apiErrors.inc({ client: slug, kind }),
    });
    return { client, api, url: subscriberUrlFor(this.options.publicUrl!, slug) };
  }

  /** Updates the client's record (a client deleted meanwhile is a 404). */
  async #record(
    slug: string,
    patch: (r: CalcomWebhookRecord) => Partial<CalcomWebhookRecord> | null,
  ): Promise<CalcomWebhookRecord> {
    const next = await updateCalcomWebhook(this.kv, slug, patch);
    if (!next) throw gone(slug);
    return next;
  }

  /** Records what a failed call means for the state, and the error to answer. */
  async #failed(slug: string, error: unknown, what: string): Promise<unknown> {
    if (error instanceof HttpError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ApiKeyRejectedError) {
      await this.#record(slug, () => ({
        state: "api_key_rejected",
        problems: [{ state: "api_key_rejected", message }],
        missing_triggers: [],
        checked_at: nowIso(),
        error: null,
      }));
      // The key is wrong, not Cal.com down: a 422 that names the fix, not a 502.
      return new HttpError(422, "calcom_api_key_rejected", message.replaceAll("{slug}", slug));
    }
    await this.#record(slug, () => ({ error: message }));
    this.log.warn(`calcom webhook ${what} failed`, { slug, error: message });
    return new HttpError(502, "calcom_api_failed", `${message} Nothing else was changed; try again later.`);
  }
}

/** What one connect call did so far: the fallbacks it took, the secret it added, what Cal.com said. */
interface ConnectRun {
  /** Create-after-404 or correct-after-409 steps taken (one at most: Cal.com's answers disagree). */
  fallbacks: number;
  /** The one secret this connect added (reused by every step), or null. */
  secret: { id: string; secret: string } | null;
  /** A request carrying it got no answer: Cal.com may have stored it, so it stays. */
  secretMaybeStored: boolean;
  said: string[];
}

/** A call that sends the run's new secret: one that fails without an answer may have stored it. */
async function carrying<T>(run: ConnectRun, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ApiKeyRejectedError)) run.secretMaybeStored = true;
    throw error;
  }
}

/** Cal.com's answers contradict each other: connect stops (a bounded number of calls) and says so. */
function inconsistent(url: string, run: ConnectRun): HttpError {
  return new HttpError(
    502,
    "calcom_api_inconsistent",
    `Cal.com's answers contradict each other (${
      run.said.join("; ")
    }), so the webhook for ${url} could not be ` +
      "created or corrected. Nothing was changed and no new secret was kept. Try again in a few minutes; if it " +
      "persists, delete the webhook for this URL in Cal.com (Settings → Developer → Webhooks) and connect again.",
  );
}

function gone(slug: string): HttpError {
  return new HttpError(404, "unknown_client", `There is no client "${slug}".`);
}

/** The wanted triggers this Cal.com accepts. */
function supported(wanted: readonly string[], accepted: readonly string[]): string[] {
  const ok = new Set(accepted);
  return wanted.filter((t) => ok.has(t));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
