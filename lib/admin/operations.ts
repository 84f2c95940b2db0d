/**
 * Every operation of the admin API and of the client API, once: clients, their secrets and
 * settings, connecting them to Cal.com, their overview; reading Jobs, Contacts, submissions, dead
 * letters and the change feed; replay, erase, export, reconciliation; client tokens; outbound
 * endpoints; backup and restore. `table.ts` says how each is reached (HTTP route, CLI command,
 * dashboard call); the HTTP routes, the CLI and the dashboard are adapters over it, so validation
 * (`inputs.ts`), the "a secret is shown once" rule, the webhook URL and signing-key cache
 * invalidation are the same everywhere. Failures are `HttpError`s with a message a person can act
 * on.
 */
import { contactView } from "../domain/contact.ts";
import { contactsCsv, jobsCsv } from "./export.ts";
import { type Job, jobTimeline, jobView } from "../domain/job.ts";
import { normalizeEmail } from "../domain/contact.ts";
import { redactBody } from "../domain/privacy.ts";
import type { Metrics } from "../metrics.ts";
import { isReplayable, submissionView } from "../domain/submission.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Reconciler } from "../processing/reconciler.ts";
import type { CalcomWebhooks, ConnectResult } from "../processing/calcom_webhook.ts";
import { updateCalcomWebhook } from "../store/calcom_webhooks.ts";
import { readCounts, storeScannedCounts } from "../store/counts.ts";
import { clientParts, everyClientsParts } from "../store/client_parts.ts";
import type { Replayer } from "../processing/replay.ts";
import { backupLines, restoreLines, RestoreRefusedError } from "../store/backup.ts";
import { listDeadLetters } from "../store/batches.ts";
import { allContacts, getContact, listContacts } from "../store/contacts.ts";
import { allJobs, getJob, getJobByEventId, listJobs } from "../store/jobs.ts";
import {
  addSecret,
  type Client,
  deleteClient,
  getClient,
  getLastPing,
  listClients,
  putClient,
  removeSecret,
  type SigningKeyCache,
} from "../store/clients.ts";
import {
  deliveryTimes,
  listMissedWebhooks,
  resetApiKeyState,
  scheduleReconcile,
} from "../store/reconcile.ts";
import { allSubmissions, getSubmission, listSubmissions, readBody } from "../store/submissions.ts";
import { erasePerson } from "../store/erase.ts";
import {
  ExpiredFeedCursorError,
  FeedCursors,
  findEntry,
  InvalidFeedCursorError,
  logEnd,
  positionBefore,
  readLog,
  recentChanges,
  waitForChange,
} from "../store/changes.ts";
import { type ClientToken, createToken, listTokens, revokeToken } from "../store/tokens.ts";
import { newToken, tokenHash } from "../domain/tokens.ts";
import { CHANGE_ID_PATTERN } from "../domain/changes.ts";
import { forbiddenHost, newEndpointSecret, OLD_SECRET_OVERLAP_MS } from "../domain/outbound.ts";
import type { Outbound } from "../processing/outbound.ts";
import {
  createEndpoint,
  deleteEndpoint,
  type Endpoint,
  endpointBacklog,
  getEndpoint,
  listAttempts,
  listEndpoints,
  updateEndpoint,
} from "../store/endpoints.ts";
import { newId } from "../domain/ids.ts";
import { isoUtc, nowIso } from "../time.ts";
import {
  clientExists,
  expiredFeedCursor,
  feedPage,
  invalidFeedCursor,
  listing,
  MAX_NAME_LENGTH,
  noClient,
  noSubmission,
  optionalApiKey,
  optionalApiUrl,
  optionalDays,
  optionalEndpointState,
  optionalEventTypes,
  optionalExpiry,
  optionalJobStatus,
  optionalSecret,
  optionalStatus,
  optionalString,
  optionalTimeZone,
  type PageInput,
  pageOf,
  validEndpointUrl,
  validEventId,
  validId,
  validScopes,
  validSince,
  validSlug,
} from "./inputs.ts";
import { clientView, issued, silenceView } from "./views.ts";

/** A client's fields as a caller may send them (validated by `putClient`). */
export interface ClientInput {
  name?: unknown;
  secret?: unknown;
  calcom_api_key?: unknown;
  calcom_api_url?: unknown;
  time_zone?: unknown;
  silence_days?: unknown;
}

/** Who makes a change, as audit lines say: the HTTP API, the CLI or the dashboard. */
export type AdminSource = "api" | "cli" | "dashboard";

export interface AdminDeps {
  kv: Deno.Kv;
  replayer: Replayer;
  /** Runs reconciliation passes (null where there is none to run, e.g. a CLI without network). */
  reconciler?: Reconciler | null;
  /** Connects clients' webhooks in Cal.com and checks them (null where there is none). */
  calcomWebhooks?: CalcomWebhooks | null;
  /** Where every change is recorded (one `audit` log line each; never a secret). */
  log?: Logger;
  /** Counters the dashboard shows (signature failures); null in the CLI. */
  metrics?: Metrics | null;
  /** Who makes the changes: the HTTP API, the CLI (and later the dashboard). */
  source?: AdminSource;
  /** The webhook route's cache of signing keys, told about every change at once (null in the CLI). */
  keys?: SigningKeyCache | null;
  /** PUBLIC_URL: the service's public base URL, for the webhook URLs answers show (null: unknown). */
  publicUrl?: string | null;
  /** CHANGE_LOG_RETENTION_DAYS, for what an expired cursor's answer says. */
  changeLogRetentionDays?: number;
  /** Delivers outbound webhooks (null where there is none, e.g. a CLI on a local KV). */
  outbound?: Outbound | null;
  outboundAllowPrivate?: boolean;
  attemptRetentionMs?: number;
}

/** What re-enabling an endpoint clears: it starts afresh on its next entry. */
const RETRY_RESET = { failures: 0, next_attempt_at: null, failing_since: null } as const;

function noEndpoint(slug: string, id: string): HttpError {
  return new HttpError(404, "unknown_endpoint", `Client "${slug}" has no endpoint ${id}.`);
}

export class AdminOperations {
  readonly #kv: Deno.Kv;
  readonly #cursors: FeedCursors;

  constructor(private readonly deps: AdminDeps) {
    this.#kv = deps.kv;
    this.#cursors = new FeedCursors(deps.kv);
  }

  /** Every client as `showClient` shows it, read collection by collection (not client by client). */
  async listClients() {
    const all = await everyClientsParts(this.#kv);
    return {
      items: all.map(({ client, parts }) =>
        clientView(client, parts, this.deps.publicUrl ?? null, this.#signatureFailures(client.slug))
      ),
      cursor: null,
    };
  }

  async showClient(slug: unknown) {
    return await this.#clientView(await this.#client(slug));
  }

  /**
   * Creates a client (with the given or a generated secret) or updates it; `created` says which.
   * `only` "create" refuses an existing slug (409) and "update" a missing one (404).
   */
  async putClient(slugInput: unknown, input: ClientInput, only: "create" | "update" | null = null) {
    const slug = validSlug(slugInput);
    const name = optionalString(input.name, "name", MAX_NAME_LENGTH);
    const secret = optionalSecret(input.secret);
    const apiKey = optionalApiKey(input.calcom_api_key);
    const apiUrl = optionalApiUrl(input.calcom_api_url);
    const settings = {
      ...(input.time_zone !== undefined ? { time_zone: optionalTimeZone(input.time_zone) } : {}),
      ...(input.silence_days !== undefined ? { silence_days: optionalDays(input.silence_days) } : {}),
    };
    const result = await putClient(this.#kv, slug, { name, secret, apiKey, apiUrl, settings }, only);
    if (result.refused === "exists") throw clientExists(slug);
    if (result.refused === "missing") throw noClient(slug);
    if (apiKey !== undefined || apiUrl !== undefined) {
      await resetApiKeyState(this.#kv, slug);
      // A new key is tried at the next tick; without one, nothing is scheduled.
      if (apiKey !== undefined) await scheduleReconcile(this.#kv, slug, apiKey === null ? null : Date.now());
      // Another key may be another Cal.com user: what was found with the old one says nothing now.
      await updateCalcomWebhook(this.#kv, slug, () => ({
        observed_at: nowIso(),
        state: "unchecked",
        problems: [],
        missing_triggers: [],
        error: null,
      }));
    }
    this.deps.keys?.invalidate(slug);
    this.#audit(result.created ? "client.create" : "client.update", {
      slug,
      secret_id: result.secret && (result.created || secret) ? result.secret.id : null,
      ...(apiKey !== undefined ? { api_key: apiKey === null ? "removed" : "set" } : {}),
      ...(apiUrl !== undefined ? { calcom_api_url: apiUrl } : {}),
    });
    // Shown once: when it was generated for a new client, or echoed when the caller gave it.
    const shown = result.secret && (result.created || secret) ? issued(result.secret) : null;
    return {
      created: result.created,
      client: await this.#clientView(result.client),
      ...(shown ? { secret: shown } : {}),
    };
  }

  /** Creates a client; an existing slug is refused (409) rather than changed. */
  async createClient(input: ClientInput & { slug?: unknown }) {
    return await this.putClient(input.slug, input, "create");
  }

  /** Changes an existing client; a missing slug is refused (404) rather than created. */
  async updateClient(slug: unknown, input: ClientInput) {
    return await this.putClient(slug, input, "update");
  }

  async deleteClient(slugInput: unknown) {
    const slug = validSlug(slugInput);
    const deleted = await deleteClient(this.#kv, slug);
    this.deps.keys?.invalidate(slug);
    if (!deleted) throw noClient(slug);
    this.#audit("client.delete", { slug });
    return { deleted: slug };
  }

  async addSecret(slugInput: unknown, input: { secret?: unknown }) {
    const slug = validSlug(slugInput);
    const secret = await addSecret(this.#kv, slug, optionalSecret(input.secret) ?? undefined);
    this.deps.keys?.invalidate(slug);
    if (!secret) throw noClient(slug);
    this.#audit("secret.add", { slug, secret_id: secret.id });
    return { secret: issued(secret) };
  }

  async removeSecret(slugInput: unknown, secretId: unknown) {
    const slug = validSlug(slugInput);
    const id = validId(secretId, "secret");
    const result = await removeSecret(this.#kv, slug, id);
    this.deps.keys?.invalidate(slug);
    if (result === "no_client") throw noClient(slug);
    if (result === "no_secret") {
      throw new HttpError(404, "unknown_secret", `Client "${slug}" has no secret ${id}.`);
    }
    if (result === "last_secret") {
      throw new HttpError(
        409,
        "last_secret",
        "This is the client's only secret; add the new one first, then retire this one.",
      );
    }
    this.#audit("secret.remove", { slug, secret_id: id });
    return { removed: id };
  }

  /**
   * Jobs, or with `calcomEventId` the Job any of whose booking uids (current or previous) it is;
   * `status` and `email` (any attendee's) filter the listing.
   */
  async listJobs(
    slug: unknown,
    page: PageInput,
    calcomEventId?: unknown,
    filter: { status?: unknown; email?: unknown } = {},
  ) {
    const client = await this.#client(slug);
    if (calcomEventId !== undefined && calcomEventId !== null && calcomEventId !== "") {
      const uid = validEventId(calcomEventId);
      const job = await getJobByEventId(this.#kv, client.slug, uid);
      return { items: job ? [jobView(job)] : [], cursor: null };
    }
    const status = optionalJobStatus(filter.status);
    const email = filter.email === undefined || filter.email === null || filter.email === ""
      ? null
      : normalizeEmail(String(filter.email)) ?? String(filter.email).trim().toLowerCase();
    const keep = status || email
      ? (j: Job) => (!status || j.status === status) && (!email || j.attendees.some((a) => a.email === email))
      : undefined;
    return await listing(() => listJobs(this.#kv, client.slug, { ...pageOf(page), view: jobView, keep }));
  }

  /** A Job's history: each event (webhook or API snapshot) in Cal.com's time order and what it changed. */
  async jobTimeline(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const jobId = validId(id, "job");
    const job = await getJob(this.#kv, client.slug, jobId);
    if (!job) throw new HttpError(404, "unknown_job", `Client "${client.slug}" has no job ${jobId}.`);
    return {
      job: jobView(job),
      client_time_zone: client.time_zone ?? null,
      booker_time_zone: job.booker_time_zone ?? null,
      timeline: jobTimeline(job.events),
    };
  }

  /**
   * One client's numbers and health, for the dashboard: Jobs/Contacts/submissions by status, the
   * last delivery, and silence (no delivery for longer than its usual gap, or `silence_days`).
   */
  async clientOverview(slug: unknown) {
    const client = await this.#client(slug);
    if (!client.counts_built) {
      // A client older than the counts: counted once, by reading everything.
      await storeScannedCounts(this.#kv, client.slug, () => this.#scanCounts(client.slug));
    }
    const counts = await readCounts(this.#kv, client.slug);
    const [deliveries, ping] = await Promise.all([
      deliveryTimes(this.#kv, client.slug),
      getLastPing(this.#kv, client.slug),
    ]);
    return {
      slug: client.slug,
      jobs_by_status: counts.jobs,
      contacts: counts.contacts,
      submissions_by_status: counts.submissions,
      signature_failures: this.#signatureFailures(client.slug),
      last_ping: ping,
      ...silenceView(deliveries, client.silence_days ?? null),
    };
  }

  /** The counts of a client by reading all of its Jobs, submissions and Contacts. */
  async #scanCounts(slug: string) {
    const jobs: Record<string, number> = {};
    for await (const j of allJobs(this.#kv, slug)) jobs[j.status] = (jobs[j.status] ?? 0) + 1;
    const submissions: Record<string, number> = {};
    for await (const s of allSubmissions(this.#kv, slug)) {
      // Pending ones are the backlog, counted once they settle.
      if (s.status !== "pending") submissions[s.status] = (submissions[s.status] ?? 0) + 1;
    }
    let contacts = 0;
    for await (const _ of allContacts(this.#kv, slug)) contacts++;
    return { jobs, submissions, contacts };
  }

  /** A submission with its raw body as an operator may see it (secrets redacted). */
  async submissionDetail(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const submissionId = validId(id, "submission");
    const s = await getSubmission(this.#kv, client.slug, submissionId);
    if (!s) throw noSubmission(client.slug, submissionId);
    const shown = s.body_dropped_at
      ? null
      : redactBody(new TextDecoder().decode(await readBody(this.#kv, s)));
    return {
      submission: submissionView(s),
      body_format: shown?.format ?? "dropped",
      body: shown?.body ?? null,
      replayable: isReplayable(s),
      // For showing its times as the business reads them, as a Job's timeline does.
      client_time_zone: client.time_zone ?? null,
    };
  }

  async getJob(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const jobId = validId(id, "job");
    const job = await getJob(this.#kv, client.slug, jobId);
    if (!job) throw new HttpError(404, "unknown_job", `Client "${client.slug}" has no job ${jobId}.`);
    return jobView(job);
  }

  async listContacts(slug: unknown, page: PageInput) {
    const client = await this.#client(slug);
    return await listing(() => listContacts(this.#kv, client.slug, { ...pageOf(page), view: contactView }));
  }

  async getContact(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const contactId = validId(id, "contact");
    const contact = await getContact(this.#kv, client.slug, contactId);
    if (!contact) {
      throw new HttpError(404, "unknown_contact", `Client "${client.slug}" has no contact ${contactId}.`);
    }
    return contactView(contact);
  }

  async listSubmissions(slug: unknown, page: PageInput & { status?: unknown }) {
    const client = await this.#client(slug);
    const status = optionalStatus(page.status) ?? undefined;
    return await listing(() =>
      listSubmissions(this.#kv, client.slug, { ...pageOf(page), status, view: submissionView })
    );
  }

  async getSubmission(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const submissionId = validId(id, "submission");
    const submission = await getSubmission(this.#kv, client.slug, submissionId);
    if (!submission) throw noSubmission(client.slug, submissionId);
    return submissionView(submission);
  }

  /** Re-runs one submission with today's code; answers it as it is afterwards. */
  async replayOne(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const submissionId = validId(id, "submission");
    const stored = await getSubmission(this.#kv, client.slug, submissionId);
    if (stored && !isReplayable(stored)) {
      throw new HttpError(
        409,
        "body_not_replayable",
        stored.body_scrubbed_at
          ? "This submission's raw body was scrubbed when a person was erased, so it can no longer be replayed."
          : "This submission's raw body was dropped after RAW_BODY_RETENTION_DAYS, so it can no longer be replayed.",
      );
    }
    const submission = await this.deps.replayer.replayOne(client.slug, submissionId);
    if (!submission) throw noSubmission(client.slug, submissionId);
    this.#audit("submission.replay", { slug: client.slug, submission_id: submissionId });
    return submissionView(submission);
  }

  /** Re-runs every submission of the client with the given status. */
  async replayAll(slug: unknown, status: unknown) {
    const client = await this.#client(slug);
    const wanted = optionalStatus(status);
    if (!wanted) {
      throw new HttpError(400, "missing_status", "Say which submissions to replay, e.g. status failed.");
    }
    const summary = await this.deps.replayer.replayAll(client.slug, wanted);
    this.#audit("submissions.replay", { slug: client.slug, status: wanted, replayed: summary.replayed });
    return summary;
  }

  /**
   * Erases a person: their Contact, and their email, name and phone from every Job, event, stored
   * raw body and submission record of the client. Needs `erase` to be true (it cannot be undone).
   */
  async eraseContact(slug: unknown, id: unknown, erase: unknown) {
    const client = await this.#client(slug);
    const contactId = validId(id, "contact");
    if (erase !== true && erase !== "true") {
      throw new HttpError(
        400,
        "erase_required",
        "Deleting a Contact erases the person from every Job and stored body and cannot be undone; add ?erase=true to do it.",
      );
    }
    const contact = await getContact(this.#kv, client.slug, contactId);
    if (!contact) {
      throw new HttpError(404, "unknown_contact", `Client "${client.slug}" has no contact ${contactId}.`);
    }
    const report = await erasePerson(this.#kv, contact);
    this.#audit("contact.erase", {
      slug: client.slug,
      contact_id: contactId,
      jobs_changed: report.jobs_changed.length,
      submissions_scrubbed: report.submissions_scrubbed.length,
    });
    return {
      erased: report,
      note:
        "The scrubbed raw bodies can no longer be replayed. A later booking by the same person creates a new Contact.",
    };
  }

  /** Runs one reconciliation pass for the client now; answers what it fetched and changed. */
  async reconcile(slug: unknown) {
    const client = await this.#client(slug);
    if (!this.deps.reconciler) {
      throw new HttpError(503, "reconcile_unavailable", "Reconciliation is not available here.");
    }
    this.#audit("client.reconcile", { slug: client.slug });
    return await this.deps.reconciler.reconcile(client.slug);
  }

  /**
   * Creates (or adopts and corrects) the client's webhook in Cal.com with its API key; answers what
   * was created or changed. Where deliveries may have been lost (a webhook missing, off, elsewhere
   * or with another secret), a reconciliation pass follows.
   */
  async connectCalcom(slug: unknown) {
    const client = await this.#client(slug);
    const result = await this.#webhooks().connect(client.slug);
    this.deps.keys?.invalidate(client.slug);
    this.#audit("calcom.connect", {
      slug: client.slug,
      action: result.action,
      webhook_id: result.webhook_id,
      changed: result.changed,
      secret_id: result.new_secret_id,
    });
    if (result.repaired_delivery) this.deps.reconciler?.requestSoon(client.slug, null).catch(() => {});
    return { ...result, message: connectMessage(result) };
  }

  /** Compares the client's webhook in Cal.com with what it should be; answers the state it recorded. */
  async checkCalcom(slug: unknown) {
    const client = await this.#client(slug);
    return await this.#webhooks().check(client.slug);
  }

  /** Removes the client's webhook from Cal.com (only one delivering to this service for it). */
  async disconnectCalcom(slug: unknown) {
    const client = await this.#client(slug);
    const result = await this.#webhooks().disconnect(client.slug);
    this.#audit("calcom.disconnect", { slug: client.slug, webhook_id: result.deleted });
    return result;
  }

  #webhooks(): CalcomWebhooks {
    if (!this.deps.calcomWebhooks) {
      throw new HttpError(503, "calcom_unavailable", "Connecting to Cal.com is not available here.");
    }
    return this.deps.calcomWebhooks;
  }

  /** Every Job or Contact of the client as CSV (for the business's own spreadsheets). */
  async exportCsv(slug: unknown, what: unknown): Promise<{ filename: string; csv: string }> {
    const client = await this.#client(slug);
    if (what !== "jobs" && what !== "contacts") {
      throw new HttpError(400, "invalid_export", 'Export "jobs" or "contacts".');
    }
    const csv = what === "jobs"
      ? jobsCsv(await Array.fromAsync(allJobs(this.#kv, client.slug)))
      : contactsCsv(await Array.fromAsync(allContacts(this.#kv, client.slug)));
    this.#audit("client.export", { slug: client.slug, what });
    return { filename: `${client.slug}-${what}.csv`, csv };
  }

  /** Bookings Cal.com's API showed that no webhook ever delivered. */
  async missedWebhooks(slug: unknown, limit?: unknown) {
    const client = await this.#client(slug);
    const { limit: n } = pageOf({ limit });
    return { items: await listMissedWebhooks(this.#kv, client.slug, n), cursor: null };
  }

  async deadLetters() {
    return { items: (await listDeadLetters(this.#kv)).map((e) => e.value), cursor: null };
  }

  /** Every entry of the store as lines of a backup file (secrets included: keep the file secret). */
  backup(): AsyncGenerator<string> {
    return backupLines(this.#kv, nowIso());
  }

  /** Loads a backup into this store; refused (409) for a store that is not empty unless `force`. */
  async restore(lines: AsyncIterable<string>, force: boolean) {
    try {
      const { entries } = await restoreLines(this.#kv, lines, { force });
      for (const client of await listClients(this.#kv)) this.deps.keys?.invalidate(client.slug);
      this.#audit("store.restore", { entries, force });
      return { restored: entries };
    } catch (error) {
      if (error instanceof RestoreRefusedError) throw new HttpError(409, "restore_refused", error.message);
      if (error instanceof SyntaxError) {
        throw new HttpError(400, "invalid_backup", `The backup file is damaged: ${error.message}`);
      }
      throw error;
    }
  }

  // ---- client tokens -----------------------------------------------------------------------

  /** A new client token, answered once with its value (only its hash is kept). */
  async createToken(slug: unknown, input: { name?: unknown; scopes?: unknown; expires_at?: unknown }) {
    const client = await this.#client(slug);
    const name = optionalString(input.name, "name", MAX_NAME_LENGTH);
    if (!name) throw new HttpError(400, "invalid_name", 'Give the token a "name" that says who uses it.');
    const scopes = validScopes(input.scopes);
    const expiresAt = optionalExpiry(input.expires_at, Date.now());
    const token = newToken();
    const record: ClientToken = {
      id: newId(),
      name,
      scopes,
      token_hash: tokenHash(token),
      created_at: nowIso(),
      expires_at: expiresAt,
      last_used_at: null,
    };
    if (!(await createToken(this.#kv, client.slug, record))) throw noClient(client.slug);
    this.#audit("token.create", { slug: client.slug, token_id: record.id, scopes, expires_at: expiresAt });
    const { token_hash: _hash, last_used_at: _used, ...shown } = record;
    return { ...shown, token };
  }

  async listTokens(slug: unknown) {
    const client = await this.#client(slug);
    const tokens = await listTokens(this.#kv, client.slug);
    return { items: tokens.map(({ token_hash: _hash, ...shown }) => shown), cursor: null };
  }

  /** Revokes a token at once: its next request is refused. */
  async revokeToken(slug: unknown, id: unknown) {
    const client = await this.#client(slug);
    const tokenId = validId(id, "token");
    if (!(await revokeToken(this.#kv, client.slug, tokenId))) {
      throw new HttpError(404, "unknown_token", `Client "${client.slug}" has no token ${tokenId}.`);
    }
    this.#audit("token.revoke", { slug: client.slug, token_id: tokenId });
    return { revoked: tokenId };
  }

  // ---- outbound webhook endpoints --------------------------------------------------------------

  /** A new endpoint: it gets every change committed from now on (its secret is answered once). */
  async createEndpoint(
    slug: unknown,
    input: { url?: unknown; event_types?: unknown; description?: unknown },
  ) {
    const client = await this.#client(slug);
    const url = validEndpointUrl(input.url, this.#allowPrivate, forbiddenHost);
    const now = nowIso();
    const secret = newEndpointSecret();
    const endpoint: Endpoint = {
      id: newId(),
      client: client.slug,
      url,
      event_types: optionalEventTypes(input.event_types) ?? null,
      description: optionalString(input.description, "description", 500) ?? null,
      state: "active",
      disabled_reason: null,
      disabled_at: null,
      secrets: [{ secret, created_at: now, expires_at: null }],
      created_at: now,
      updated_at: now,
      position: await logEnd(this.#kv, client.slug),
      failures: 0,
      next_attempt_at: null,
      failing_since: null,
      last_success_at: null,
    };
    if (!(await createEndpoint(this.#kv, endpoint))) throw noClient(client.slug);
    this.deps.outbound?.noteEndpoints(client.slug);
    this.#audit("endpoint.create", { slug: client.slug, endpoint_id: endpoint.id, url });
    return { ...(await this.#endpointView(endpoint)), secret };
  }

  async listEndpoints(slug: unknown) {
    const client = await this.#client(slug);
    const endpoints = await listEndpoints(this.#kv, client.slug);
    return { items: await Promise.all(endpoints.map((e) => this.#endpointView(e))), cursor: null };
  }

  async getEndpoint(slug: unknown, id: unknown) {
    return await this.#endpointView(await this.#endpoint(slug, id));
  }

  /**
   * Changes an endpoint's url, event types, description or state. Enabled again, it goes on from
   * its position: nothing it missed while disabled is skipped.
   */
  async updateEndpoint(
    slug: unknown,
    id: unknown,
    input: { url?: unknown; event_types?: unknown; description?: unknown; state?: unknown },
  ) {
    const current = await this.#endpoint(slug, id);
    const url = input.url === undefined
      ? undefined
      : validEndpointUrl(input.url, this.#allowPrivate, forbiddenHost);
    const eventTypes = optionalEventTypes(input.event_types);
    const description = optionalString(input.description, "description", 500);
    const state = optionalEndpointState(input.state);
    const updated = await updateEndpoint(this.#kv, current.client, current.id, (e) => ({
      ...e,
      ...(url !== undefined ? { url } : {}),
      ...(eventTypes !== undefined ? { event_types: eventTypes } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(state === "disabled" && e.state !== "disabled"
        ? { state, disabled_reason: "Disabled by hand.", disabled_at: nowIso() }
        : {}),
      ...(state === "active" ? { ...RETRY_RESET, state, disabled_reason: null, disabled_at: null } : {}),
      updated_at: nowIso(),
    }));
    if (!updated) throw noEndpoint(current.client, current.id);
    this.#audit("endpoint.update", { slug: current.client, endpoint_id: current.id, state: updated.state });
    if (updated.state === "active") this.deps.outbound?.kick(current.client);
    return await this.#endpointView(updated);
  }

  async deleteEndpoint(slug: unknown, id: unknown) {
    const current = await this.#endpoint(slug, id);
    await deleteEndpoint(this.#kv, current.client, current.id);
    this.#audit("endpoint.delete", { slug: current.client, endpoint_id: current.id });
    return { deleted: current.id };
  }

  /** A new secret (answered once); the old one keeps signing beside it for 24 hours. */
  async rotateEndpointSecret(slug: unknown, id: unknown) {
    const current = await this.#endpoint(slug, id);
    const secret = newEndpointSecret();
    const now = Date.now();
    const updated = await updateEndpoint(this.#kv, current.client, current.id, (e) => ({
      ...e,
      secrets: [
        ...e.secrets
          .filter((s) => !s.expires_at || Date.parse(s.expires_at) > now)
          .map((s) => ({ ...s, expires_at: s.expires_at ?? isoUtc(now + OLD_SECRET_OVERLAP_MS) })),
        { secret, created_at: isoUtc(now), expires_at: null },
      ],
      updated_at: isoUtc(now),
    }));
    if (!updated) throw noEndpoint(current.client, current.id);
    this.#audit("endpoint.rotate_secret", { slug: current.client, endpoint_id: current.id });
    return { ...(await this.#endpointView(updated)), secret };
  }

  /** Delivers again everything committed since `since` (and enables the endpoint). */
  async recoverEndpoint(slug: unknown, id: unknown, input: { since?: unknown }) {
    const current = await this.#endpoint(slug, id);
    const since = validSince(input.since);
    const position = await positionBefore(this.#kv, current.client, since);
    const updated = await updateEndpoint(this.#kv, current.client, current.id, (e) => ({
      ...e,
      ...RETRY_RESET,
      position,
      state: "active",
      disabled_reason: null,
      disabled_at: null,
      updated_at: nowIso(),
    }));
    if (!updated) throw noEndpoint(current.client, current.id);
    this.#audit("endpoint.recover", { slug: current.client, endpoint_id: current.id, since });
    this.deps.outbound?.kick(current.client);
    return { ...(await this.#endpointView(updated)), recovering_since: since };
  }

  async endpointAttempts(slug: unknown, id: unknown, page: PageInput) {
    const current = await this.#endpoint(slug, id);
    return await listing(() =>
      listAttempts(
        this.#kv,
        current.client,
        current.id,
        pageOf(page),
        this.deps.attemptRetentionMs ?? 14 * 86_400_000,
      )
    );
  }

  /** Sends one change-log entry to the endpoint again now; answers the attempt. */
  async resendToEndpoint(slug: unknown, id: unknown, eventId: unknown) {
    const current = await this.#endpoint(slug, id);
    if (typeof eventId !== "string" || !CHANGE_ID_PATTERN.test(eventId)) {
      throw new HttpError(
        400,
        "invalid_event_id",
        "That is not an event id: they look like chg_ and 32 hex digits.",
      );
    }
    const entry = await findEntry(this.#kv, current.client, eventId);
    if (!entry) {
      throw new HttpError(
        404,
        "unknown_event",
        `Client "${current.client}" has no event ${eventId} (or it is past retention).`,
      );
    }
    if (!this.deps.outbound) {
      throw new HttpError(503, "outbound_unavailable", "Outbound delivery is not available here.");
    }
    const attempt = await this.deps.outbound.resend(current, entry);
    this.#audit("endpoint.resend", { slug: current.client, endpoint_id: current.id, event_id: eventId });
    return attempt;
  }

  async #endpoint(slug: unknown, id: unknown): Promise<Endpoint> {
    const client = await this.#client(slug);
    const endpointId = validId(id, "endpoint");
    const endpoint = await getEndpoint(this.#kv, client.slug, endpointId);
    if (!endpoint) throw noEndpoint(client.slug, endpointId);
    return endpoint;
  }

  /** An endpoint as answers show it: never a secret, its backlog, and how it is doing. */
  async #endpointView(e: Endpoint) {
    const { secrets, client: _client, position: _position, ...rest } = e;
    const backlog = e.state === "active" || e.state === "disabled"
      ? await endpointBacklog(this.#kv, e)
      : null;
    return {
      ...rest,
      secrets: secrets.map((s) => ({ created_at: s.created_at, expires_at: s.expires_at })),
      backlog: backlog?.entries ?? 0,
      oldest_undelivered_at: backlog?.oldest_at ?? null,
    };
  }

  get #allowPrivate(): boolean {
    return this.deps.outboundAllowPrivate ?? false;
  }

  // ---- the change feed ---------------------------------------------------------------------

  /**
   * A page of the client's change log after `cursor`, oldest first; with `wait`, held until an
   * entry is committed (or `wait` seconds pass, or the caller goes away).
   */
  async changes(
    slug: unknown,
    input: { cursor?: unknown; limit?: unknown; wait?: unknown },
    signal?: AbortSignal,
  ) {
    const client = await this.#client(slug);
    const { limit, waitSeconds } = feedPage(input);
    let after = null;
    if (input.cursor !== undefined && input.cursor !== "") {
      if (typeof input.cursor !== "string") throw invalidFeedCursor();
      after = await this.#cursors.decode(client.slug, input.cursor).catch((error) => {
        throw error instanceof InvalidFeedCursorError ? invalidFeedCursor() : error;
      });
    }
    const read = () =>
      readLog(this.#kv, client.slug, after, limit).catch((error) => {
        throw error instanceof ExpiredFeedCursorError
          ? expiredFeedCursor(this.deps.changeLogRetentionDays ?? 30)
          : error;
      });
    let page = await read();
    if (page.items.length === 0 && waitSeconds > 0) {
      await waitForChange(this.#kv, client.slug, waitSeconds * 1000, signal ?? new AbortController().signal);
      if (!signal?.aborted) page = await read();
    }
    return {
      items: page.items,
      next_cursor: await this.#cursors.encode(client.slug, page.next),
      has_more: page.hasMore,
    };
  }

  /** The newest entries of the client's change log, newest first (the dashboard's Change log tab). */
  async recentChanges(slug: unknown, limit?: unknown) {
    const client = await this.#client(slug);
    const { limit: n } = pageOf({ limit });
    return { items: await recentChanges(this.#kv, client.slug, n), cursor: null };
  }

  /**
   * The client API's Job listing: the admin listing, and the change log's current end
   * (`changes_cursor`), read before the Jobs, so following the feed from it misses nothing.
   */
  async apiListJobs(
    slug: unknown,
    page: PageInput,
    calcomEventId?: unknown,
    filter: { status?: unknown; email?: unknown } = {},
  ) {
    const client = await this.#client(slug);
    const end = await logEnd(this.#kv, client.slug);
    const listing = await this.listJobs(client.slug, page, calcomEventId, filter);
    return { ...listing, changes_cursor: await this.#cursors.encode(client.slug, end) };
  }

  /** One audit line per change, from whichever adapter made it. */
  #audit(action: string, fields: Record<string, unknown>): void {
    this.deps.log?.info("audit", { action, source: this.deps.source ?? "api", ...fields });
  }

  async #client(slug: unknown): Promise<Client> {
    const valid = validSlug(slug);
    const client = await getClient(this.#kv, valid);
    if (!client) throw noClient(valid);
    return client;
  }

  async #clientView(client: Client) {
    const parts = await clientParts(this.#kv, client.slug);
    return clientView(client, parts, this.deps.publicUrl ?? null, this.#signatureFailures(client.slug));
  }

  #signatureFailures(slug: string): number {
    return this.deps.metrics?.signatureFailuresOf(slug) ?? 0;
  }
}

/** What connect did, in one sentence. */
function connectMessage(r: ConnectResult): string {
  if (r.action === "created") {
    return `Created webhook ${r.webhook_id} in Cal.com, delivering ${r.triggers.length} triggers to ${r.subscriber_url} with a new secret (${r.new_secret_id}).`;
  }
  if (r.action === "updated") {
    return `Corrected webhook ${r.webhook_id} in Cal.com (${
      r.changed.join(", ")
    }); it delivers to ${r.subscriber_url}.`;
  }
  return `Webhook ${r.webhook_id} in Cal.com is already as it should be; nothing was changed.`;
}
