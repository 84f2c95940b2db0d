/**
 * Every admin operation, once: clients and their secrets, reading Jobs, Contacts, Submissions and
 * dead letters, and replay. The HTTP admin API and the CLI are thin adapters over it (the
 * dashboard will be a third), so validation, the "a secret is shown once" rule, `webhook_path`
 * and signing-key cache invalidation are the same everywhere. Inputs arrive untyped (JSON or
 * command-line strings) and are validated here; failures are `HttpError`s with a message a person
 * can act on.
 */
import { contactView } from "../domain/contact.ts";
import { contactsCsv, jobsCsv } from "./export.ts";
import { type Job, JOB_STATUSES, type JobStatus, jobTimeline, jobView } from "../domain/job.ts";
import { normalizeEmail } from "../domain/contact.ts";
import { redactBody } from "../domain/privacy.ts";
import type { Metrics } from "../metrics.ts";
import {
  isReplayable,
  SUBMISSION_STATUSES,
  type SubmissionStatus,
  submissionView,
} from "../domain/submission.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Reconciler } from "../processing/reconciler.ts";
import type { Replayer } from "../processing/replay.ts";
import { backupLines, restoreLines, RestoreRefusedError } from "../store/backup.ts";
import { listDeadLetters } from "../store/batches.ts";
import {
  allContacts,
  allJobs,
  getContact,
  getJob,
  getJobByEventId,
  listContacts,
  listJobs,
} from "../store/bookings.ts";
import {
  addSecret,
  type Client,
  deleteClient,
  getApiKey,
  getClient,
  getLastPing,
  isWeakSecret,
  listClients,
  listSecretSummaries,
  putClient,
  removeSecret,
  type SigningKeyCache,
  SLUG_PATTERN,
} from "../store/clients.ts";
import { InvalidCursorError, type Page } from "../store/kv.ts";
import {
  getReconcileState,
  getWebhookState,
  listMissedWebhooks,
  resetApiKeyState,
} from "../store/reconcile.ts";
import { DEFAULT_API_URL } from "../calcom/api.ts";
import { allSubmissions, getSubmission, listSubmissions, readBody } from "../store/submissions.ts";
import { erasePerson } from "../store/erase.ts";
import { isoUtc, nowIso } from "../time.ts";

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;
const MAX_NAME_LENGTH = 200;
const MAX_SECRET_LENGTH = 500;
/** Record ids (ULIDs, submission ids) are far shorter; anything longer cannot name a record. */
const ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
/** Booking uids are looked up as KV keys (≤ 2 KiB with the rest of the key). */
const MAX_EVENT_ID_LENGTH = 1000;
const CURSOR_PATTERN = /^[A-Za-z0-9_=-]{1,2000}$/;

export interface PageInput {
  limit?: unknown;
  cursor?: unknown;
}

/** A secret as an answer shows it: its value only when this call created it. */
export interface IssuedSecret {
  id: string;
  secret: string;
  created_at: string;
  weak: boolean;
}

/** Who makes a change, as audit lines say: the HTTP API, the CLI or the dashboard. */
export type AdminSource = "api" | "cli" | "dashboard";

export interface AdminDeps {
  kv: Deno.Kv;
  replayer: Replayer;
  /** Runs reconciliation passes (null where there is none to run, e.g. a CLI without network). */
  reconciler?: Reconciler | null;
  /** Where every change is recorded (one `audit` log line each; never a secret). */
  log?: Logger;
  /** Counters the dashboard shows (signature failures); null in the CLI. */
  metrics?: Metrics | null;
  /** Who makes the changes: the HTTP API, the CLI (and later the dashboard). */
  source?: AdminSource;
  /** The webhook route's cache of signing keys, told about every change at once (null in the CLI). */
  keys?: SigningKeyCache | null;
}

export class AdminOperations {
  readonly #kv: Deno.Kv;

  constructor(private readonly deps: AdminDeps) {
    this.#kv = deps.kv;
  }

  async listClients() {
    const clients = await listClients(this.#kv);
    return { items: await Promise.all(clients.map((c) => this.#clientView(c))), cursor: null };
  }

  async showClient(slug: unknown) {
    return await this.#clientView(await this.#client(slug));
  }

  /** Creates a client (with the given or a generated secret) or updates it; `created` says which. */
  async putClient(
    slugInput: unknown,
    input: {
      name?: unknown;
      secret?: unknown;
      calcom_api_key?: unknown;
      calcom_api_url?: unknown;
      time_zone?: unknown;
      silence_days?: unknown;
    },
  ) {
    const slug = validSlug(slugInput);
    const name = optionalString(input.name, "name", MAX_NAME_LENGTH);
    const secret = optionalSecret(input.secret);
    const apiKey = optionalApiKey(input.calcom_api_key);
    const apiUrl = optionalApiUrl(input.calcom_api_url);
    const settings = {
      ...(input.time_zone !== undefined ? { time_zone: optionalTimeZone(input.time_zone) } : {}),
      ...(input.silence_days !== undefined ? { silence_days: optionalDays(input.silence_days) } : {}),
    };
    const result = await putClient(this.#kv, slug, { name, secret, apiKey, apiUrl, settings });
    if (apiKey !== undefined || apiUrl !== undefined) await resetApiKeyState(this.#kv, slug);
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
    const jobs: Record<string, number> = {};
    for await (const j of allJobs(this.#kv, client.slug)) jobs[j.status] = (jobs[j.status] ?? 0) + 1;
    const submissions: Record<string, number> = {};
    const deliveries: number[] = [];
    for await (const s of allSubmissions(this.#kv, client.slug)) {
      submissions[s.status] = (submissions[s.status] ?? 0) + 1;
      if (s.channel === "calcom") deliveries.push(Date.parse(s.received_at));
    }
    let contacts = 0;
    for await (const _ of allContacts(this.#kv, client.slug)) contacts++;
    const ping = await getLastPing(this.#kv, client.slug);
    return {
      slug: client.slug,
      jobs_by_status: jobs,
      contacts,
      submissions_by_status: submissions,
      signature_failures: this.deps.metrics?.signatureFailuresOf(client.slug) ?? 0,
      last_ping: ping,
      ...silence(deliveries, client.silence_days ?? null, Date.now()),
    };
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
    const [secrets, apiKey, reconcile, webhook, lastPing] = await Promise.all([
      listSecretSummaries(this.#kv, client.slug),
      getApiKey(this.#kv, client.slug),
      getReconcileState(this.#kv, client.slug),
      getWebhookState(this.#kv, client.slug),
      getLastPing(this.#kv, client.slug),
    ]);
    const problems: { code: string; message: string }[] = [];
    if (webhook?.payload_template_detected) {
      problems.push({
        code: "payload_template_detected",
        message: webhook.payload_template_detected.message,
      });
    }
    if (apiKey && reconcile.api_key_state === "rejected") {
      problems.push({ code: "api_key_rejected", message: reconcile.error ?? "Cal.com refused the API key." });
    }
    return {
      ...client,
      calcom_api_url: client.calcom_api_url ?? DEFAULT_API_URL,
      webhook_path: `/webhooks/calcom/${client.slug}`,
      secrets,
      secret_ids: secrets.map((s) => s.id),
      last_ping: lastPing,
      has_api_key: apiKey !== null,
      webhook_version: webhook?.webhook_version ?? null,
      payload_template_detected: webhook?.payload_template_detected ?? null,
      api_key_state: apiKey ? reconcile.api_key_state : null,
      missed_webhooks: reconcile.missed_webhooks_total,
      reconciliation: {
        api_key_state: apiKey ? reconcile.api_key_state : null,
        checkpoint: reconcile.checkpoint,
        last_pass: reconcile.last_pass,
        error: reconcile.error,
        missed_webhooks: reconcile.missed_webhooks_total,
      },
      problems,
    };
  }
}

function issued(secret: { id: string; secret: string; created_at: string }): IssuedSecret {
  return {
    id: secret.id,
    secret: secret.secret,
    created_at: secret.created_at,
    weak: isWeakSecret(secret.secret),
  };
}

async function listing<V>(list: () => Promise<Page<V>>): Promise<Page<V>> {
  try {
    return await list();
  } catch (error) {
    if (error instanceof InvalidCursorError) throw invalidCursor();
    throw error;
  }
}

function invalidCursor(): HttpError {
  return new HttpError(
    400,
    "invalid_cursor",
    "cursor is not one this listing gave out; start again without it, then pass the cursor each page returns.",
  );
}

export function validSlug(slug: unknown): string {
  if (typeof slug !== "string" || !SLUG_PATTERN.test(slug)) {
    throw new HttpError(
      400,
      "invalid_slug",
      "A client slug is 1–63 characters of lowercase letters, digits and '-', starting with a letter or digit.",
    );
  }
  return slug;
}

function validId(id: unknown, what: string): string {
  if (typeof id !== "string" || !ID_PATTERN.test(id)) {
    throw new HttpError(
      400,
      `invalid_${what}_id`,
      `That is not a ${what} id: ids are up to 100 letters, digits, '-' and '_', as the listings show them.`,
    );
  }
  return id;
}

function validEventId(uid: unknown): string {
  if (typeof uid !== "string" || uid.trim() === "" || uid.length > MAX_EVENT_ID_LENGTH) {
    throw new HttpError(
      400,
      "invalid_calcom_event_id",
      `calcom_event_id must be a Cal.com booking uid of 1 to ${MAX_EVENT_ID_LENGTH} characters.`,
    );
  }
  return uid;
}

function pageOf(page: PageInput): { limit: number; cursor?: string } {
  const raw = page.limit;
  const limit = raw === undefined || raw === null || raw === "" ? DEFAULT_PAGE_LIMIT : Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new HttpError(400, "invalid_limit", `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}.`);
  }
  const cursor = page.cursor;
  if (cursor === undefined || cursor === null || cursor === "") return { limit };
  if (typeof cursor !== "string" || !CURSOR_PATTERN.test(cursor)) throw invalidCursor();
  return { limit, cursor };
}

/** When a client counts as silent, and why. */
export function silence(deliveries: number[], silenceDays: number | null, now: number) {
  const sorted = [...deliveries].sort((a, b) => a - b);
  const last = sorted.at(-1) ?? null;
  const recent = sorted.slice(-51);
  const gaps = recent.slice(1).map((t, i) => t - recent[i]).sort((a, b) => a - b);
  const usualGap = gaps.length >= 2 ? gaps[Math.floor(gaps.length / 2)] : null;
  const threshold = silenceDays !== null
    ? silenceDays * 86_400_000
    : usualGap !== null
    ? Math.max(3 * usualGap, 86_400_000)
    : null;
  return {
    last_delivery_at: last === null ? null : isoUtc(last),
    usual_gap_ms: usualGap,
    silence_threshold_ms: threshold,
    silent: last !== null && threshold !== null && now - last > threshold,
  };
}

function optionalJobStatus(status: unknown): JobStatus | null {
  if (status === undefined || status === null || status === "") return null;
  if (!(JOB_STATUSES as readonly unknown[]).includes(status)) {
    throw new HttpError(400, "invalid_status", `status must be one of ${JOB_STATUSES.join(", ")}.`);
  }
  return status as JobStatus;
}

function optionalTimeZone(value: unknown): string | null {
  if (value === null || value === "") return null;
  try {
    if (typeof value !== "string") throw new Error();
    new Intl.DateTimeFormat("en", { timeZone: value });
    return value;
  } catch {
    throw new HttpError(
      400,
      "invalid_time_zone",
      '"time_zone" must be an IANA time zone such as "Europe/Berlin".',
    );
  }
}

function optionalDays(value: unknown): number | null {
  if (value === null || value === "") return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 365) {
    throw new HttpError(
      400,
      "invalid_silence_days",
      '"silence_days" must be a whole number of days from 1 to 365, or null.',
    );
  }
  return n;
}

function optionalStatus(status: unknown): SubmissionStatus | null {
  if (status === undefined || status === null || status === "") return null;
  if (!(SUBMISSION_STATUSES as readonly unknown[]).includes(status)) {
    throw new HttpError(400, "invalid_status", `status must be one of ${SUBMISSION_STATUSES.join(", ")}.`);
  }
  return status as SubmissionStatus;
}

function optionalString(value: unknown, field: string, max: number): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "string" || value.length > max || value.trim() === "") {
    throw new HttpError(
      400,
      `invalid_${field}`,
      `"${field}" must be a non-empty string of at most ${max} characters.`,
    );
  }
  return value;
}

/**
 * The one secret rule: any non-empty string up to 500 characters, since Cal.com lets its users
 * type any secret; one shorter than 16 characters is accepted and flagged `weak`.
 */
function optionalSecret(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return optionalString(value, "secret", MAX_SECRET_LENGTH) ?? null;
}

const MAX_API_KEY_LENGTH = 500;

/** A Cal.com API key (`cal_live_…`, test keys `cal_…`), or null to remove it; never echoed. */
function optionalApiKey(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === "") return null;
  if (typeof value !== "string" || value.length > MAX_API_KEY_LENGTH || !/^\S+$/.test(value)) {
    throw new HttpError(
      400,
      "invalid_calcom_api_key",
      '"calcom_api_key" must be the Cal.com API key as Cal.com shows it (Settings → Developer → API keys, it starts "cal_"), or null to remove it.',
    );
  }
  return value;
}

/** The base URL of the client's Cal.com API (`…/v2`), or null for Cal.com's hosted default. */
function optionalApiUrl(value: unknown): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value === "") return null;
  let url: URL | null = null;
  try {
    url = typeof value === "string" && value.length <= 500 ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (
    !url || (url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password ||
    url.search
  ) {
    throw new HttpError(
      400,
      "invalid_calcom_api_url",
      `"calcom_api_url" must be an http(s) URL ending in /v2, e.g. ${DEFAULT_API_URL}, https://api.cal.eu/v2, or your self-hosted Cal.com's API.`,
    );
  }
  // Cal.com's API v2 lives under /v2 (https://api.cal.com/v2): a bare host gets it added.
  const path = url.pathname.replace(/\/+$/, "");
  return url.origin + (path.endsWith("/v2") ? path : `${path}/v2`);
}

function noClient(slug: string): HttpError {
  return new HttpError(
    404,
    "unknown_client",
    `There is no client "${slug}". Create it first (PUT /admin/clients/${slug}, or: deno task admin client add ${slug}).`,
  );
}

function noSubmission(slug: string, id: string): HttpError {
  return new HttpError(404, "unknown_submission", `Client "${slug}" has no submission ${id}.`);
}
