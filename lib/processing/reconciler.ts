/**
 * Reconciliation: what Cal.com never delivered (or delivered in a shape only its API can complete)
 * is read from Cal.com's API v2 and applied like a webhook. Each booking the API shows is stored
 * as a `calcom_api` submission and goes through the same intake pipeline and Job derivation, as
 * one more event ordered by its `updatedAt`; its id comes from its content, so a booking read
 * twice (overlapping windows, a pass resumed after a crash) changes nothing twice.
 *
 * A pass: read the follow-up uids by uid (a recurring series is read whole), then list every
 * booking changed since the client's checkpoint minus an overlap, oldest change first, page by
 * page, moving the checkpoint after each page; then read reschedule partners the list did not
 * show. A lease keeps one pass per client (and so one request in flight per key) across
 * instances. A failed pass leaves the checkpoint where it was and never affects webhook ingest.
 */
import { inSpan } from "../trace.ts";
import { changedAt, DEFAULT_API_URL, PAGE_SIZE } from "../calcom/api.ts";
import { newId } from "../domain/ids.ts";
import type { Job } from "../domain/job.ts";
import { HttpError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { findJobIds, getJob } from "../store/jobs.ts";
import { clientGuard, getApiKey, getClient } from "../store/clients.ts";
import {
  addFollowUp,
  buildReconcileIndexOnce,
  deleteFollowUp,
  dropDueEntry,
  dueForReconcile,
  getReconcileState,
  listFollowUps,
  type PassSummary,
  type ReconcileState,
  recordMissedWebhook,
  renewLease,
  scheduleReconcile,
  takeLease,
  updateReconcileState,
} from "../store/reconcile.ts";
import { isoUtc, nowIso, sleep } from "../time.ts";
import { ApiKeyRejectedError, CalcomApi, parseBooking } from "./calcom_client.ts";
import type { CalcomWebhooks } from "./calcom_webhook.ts";
import type { Intake } from "./intake.ts";

/** Re-read this much before the checkpoint: Cal.com's clock, in-flight writes and page shifts. */
const OVERLAP_MS = 15 * 60_000;
/** The checkpoint a finished pass records stays this far behind its start (clock skew). */
const SKEW_MS = 2 * 60_000;
/**
 * Consecutive pages overlap by this many items: a booking changed during the pass leaves the
 * window and shifts later ones one place left, which would skip one at a page boundary.
 */
const PAGE_OVERLAP = 10;
/** Pages one pass reads at most (a runaway guard: 1000 pages of 90 new bookings each). */
const MAX_PAGES = 1000;
/** How long a pass waits for another instance's pass of the same client before giving up. */
const LEASE_WAIT_MS = 10_000;
/** Reschedule partners read by uid in one pass, at most. */
const MAX_PARTNER_READS = 50;
/**
 * A follow-up is read again on every pass for this long: Cal.com sends a cancellation before it
 * writes it (and cancels the rest of a series after), so the first read can be too early.
 */
const FOLLOW_UP_WINDOW_MS = 10 * 60_000;
const encoder = new TextEncoder();

export interface ReconcilerOptions {
  /** How often each client with an API key is reconciled. */
  intervalMs: number;
  /** First wait after a 429 or failed call (doubled on each retry). */
  backoffMs: number;
  /** Longest one API call may take. */
  timeoutMs: number;
  /** How long a pass holds its client's lease without renewing it (a killed pass frees it then). */
  leaseMs: number;
}

export interface PassResult extends PassSummary {
  slug: string;
  started_at: string;
  finished_at: string;
  checkpoint: string | null;
}

export class Reconciler {
  /** Passes requested after a delivery, by client: at most one waiting behind a running one. */
  readonly #soon = new Map<string, Promise<void>>();
  readonly #running = new Set<Promise<unknown>>();
  /** The last pass started in this process, by client: the next one waits for it. */
  readonly #bySlug = new Map<string, Promise<unknown>>();
  /** Whether this process made sure every client with a key has its due entry. */
  #indexBuilt = false;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly intake: Intake,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions,
    private readonly metrics: Metrics | null = null,
    /** Checks the client's webhook in Cal.com after every pass. */
    private readonly webhooks: CalcomWebhooks | null = null,
  ) {}

  /** Runs one pass for the client now and answers its summary. */
  async reconcile(slug: string): Promise<PassResult> {
    // A pass already running here for this client is waited for: then this one starts.
    const before = this.#bySlug.get(slug) ?? Promise.resolve();
    const run = before.catch(() => {}).then(() =>
      inSpan("reconcile.pass", { "calcom_intake.client": slug }, async (span) => {
        const result = await this.#pass(slug);
        span.setAttributes({
          "calcom_intake.fetched": result.fetched,
          "calcom_intake.created": result.created,
          "calcom_intake.updated": result.updated,
          "calcom_intake.missed_webhooks": result.missed_webhooks,
        });
        return result;
      })
    );
    const settled = run.catch(() => {});
    this.#bySlug.set(slug, settled);
    this.#running.add(run);
    try {
      return await run;
    } finally {
      this.#running.delete(run);
      if (this.#bySlug.get(slug) === settled) this.#bySlug.delete(slug);
    }
  }

  /**
   * Runs a pass for every client whose next pass is due (each pass schedules the next one an
   * interval after it started). Reads one listing when nothing is due, however many clients there are.
   */
  async runDue(): Promise<void> {
    const now = Date.now();
    if (!this.#indexBuilt) {
      await buildReconcileIndexOnce(this.kv, now);
      this.#indexBuilt = true;
    }
    for (const due of await dueForReconcile(this.kv, now)) {
      if (this.#bySlug.has(due.slug)) continue;
      // A client deleted, or whose key was removed, leaves its entry behind: it goes now.
      if (!(await getApiKey(this.kv, due.slug))) {
        await dropDueEntry(this.kv, due);
        continue;
      }
      await this.reconcile(due.slug).catch((error) => this.#logFailure(due.slug, error));
    }
  }

  /**
   * After a delivery only the API can complete: remember `followUp` (durably) and run a pass soon,
   * in the background. Clients without an API key are left as they are.
   */
  async requestSoon(slug: string, followUp: { uid: string; reason: string } | null): Promise<void> {
    if (!(await getApiKey(this.kv, slug))) return;
    if (followUp) await addFollowUp(this.kv, slug, { ...followUp, requested_at: nowIso() });
    if (this.#soon.has(slug)) return;
    const run = (async () => {
      // Wait for this client's pass in progress to end, so the next one sees the new follow-up.
      await this.#bySlug.get(slug);
      this.#soon.delete(slug);
      await this.reconcile(slug);
    })().catch((error) => this.#logFailure(slug, error));
    this.#soon.set(slug, run);
  }

  /** Resolves when passes started in this process have finished. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#soon.values(), ...this.#running]);
  }

  async #pass(slug: string): Promise<PassResult> {
    const client = await getClient(this.kv, slug);
    if (!client) throw new HttpError(404, "unknown_client", `There is no client "${slug}".`);
    const key = await getApiKey(this.kv, slug);
    if (!key) {
      throw new HttpError(
        409,
        "no_api_key",
        `Client "${slug}" has no Cal.com API key. Set one with PUT /admin/clients/${slug} {"calcom_api_key": "cal_live_…"} (Cal.com → Settings → Developer → API keys).`,
      );
    }
    const owner = newId();
    let startMs = Date.now();
    // Another instance's pass: wait a little for it to end before saying so.
    for (const giveUpAt = startMs + LEASE_WAIT_MS;; startMs = Date.now()) {
      if (await takeLease(this.kv, slug, owner, startMs, startMs + this.options.leaseMs)) break;
      if (startMs >= giveUpAt) {
        throw new HttpError(
          409,
          "reconcile_running",
          `A reconciliation pass for "${slug}" is already running; try again in a minute.`,
        );
      }
      await sleep(250);
    }
    const started_at = isoUtc(startMs);
    const summary: PassSummary = { fetched: 0, created: 0, updated: 0, unchanged: 0, missed_webhooks: 0 };
    const api = new CalcomApi(client.calcom_api_url ?? DEFAULT_API_URL, key.api_key, {
      backoffMs: this.options.backoffMs,
      timeoutMs: this.options.timeoutMs,
      onError: (kind) => this.metrics?.apiErrors.inc({ client: slug, kind }),
    });
    const pass = new Pass(this.kv, this.intake, slug, summary);
    const state = await getReconcileState(this.kv, slug);
    const renew = () => renewLease(this.kv, slug, owner, Date.now() + this.options.leaseMs);
    // Either way a pass ends the same: lease given back, the pass and its missed webhooks recorded.
    const end = async (
      outcome: string,
      finished_at: string,
      patch: (s: ReconcileState) => Partial<ReconcileState>,
    ) => {
      await updateReconcileState(this.kv, slug, owner, (s) => ({
        ...patch(s),
        lease_owner: null,
        lease_until: 0,
        last_pass: { ...summary, started_at, finished_at, ok: outcome === "ok" },
        missed_webhooks_total: s.missed_webhooks_total + summary.missed_webhooks,
      }));
      this.metrics?.reconcileRuns.inc({ client: slug, outcome });
      this.metrics?.missedWebhooks.inc({ client: slug }, summary.missed_webhooks);
      await scheduleReconcile(this.kv, slug, startMs + this.options.intervalMs);
    };
    try {
      for (const followUp of await listFollowUps(this.kv, slug)) {
        for (const booking of await readWithSeries(api, followUp.uid)) await pass.apply(booking);
        if (Date.parse(followUp.requested_at) < startMs - FOLLOW_UP_WINDOW_MS) {
          await deleteFollowUp(this.kv, slug, followUp.uid);
        }
      }
      const window = {
        after: state.checkpoint ? isoUtc(Date.parse(state.checkpoint) - OVERLAP_MS) : null,
        before: started_at,
      };
      const listed = new Set<string>();
      for (let skip = 0, pages = 0; pages < MAX_PAGES; pages++) {
        const page = await api.listPage(window, skip);
        // A page of nothing new means the server ignores `skip`: stop rather than loop.
        let fresh = 0;
        let latest: string | null = null;
        for (const item of page.bookings) {
          const booking = parseBooking(item);
          if (!booking) continue;
          if (!listed.has(booking.uid)) fresh++;
          listed.add(booking.uid);
          await pass.apply(item);
          const at = changedAt(booking);
          if (at && (!latest || at > latest)) latest = at;
        }
        if (!(await renew())) throw new Error("the pass lost its lease (another instance took over)");
        // Sorted oldest change first: everything up to this page's latest change is applied.
        if (latest) await this.#moveCheckpoint(slug, owner, latest);
        const last = page.bookings.length < PAGE_SIZE && page.hasNextPage !== true;
        if (page.bookings.length === 0 || last || fresh === 0) break;
        skip += PAGE_SIZE - PAGE_OVERLAP;
      }
      for (const uid of (await pass.partnersToRead()).slice(0, MAX_PARTNER_READS)) {
        for (const booking of await readWithSeries(api, uid)) await pass.apply(booking);
      }
      const finished_at = nowIso();
      const checkpoint = isoUtc(startMs - SKEW_MS);
      await end("ok", finished_at, (s) => ({
        checkpoint: s.checkpoint && s.checkpoint > checkpoint ? s.checkpoint : checkpoint,
        api_key_state: "ok",
        error: null,
      }));
      this.log.info("reconcile pass", { slug, ...summary });
      await this.#checkWebhook(slug);
      return { slug, ...summary, started_at, finished_at, checkpoint };
    } catch (error) {
      const rejected = error instanceof ApiKeyRejectedError;
      const message = error instanceof Error ? error.message : String(error);
      const outcome = rejected ? "api_key_rejected" : "calcom_api_failed";
      await end(outcome, nowIso(), (s) => ({
        api_key_state: rejected ? "rejected" : s.api_key_state,
        error: message,
      }));
      await this.#checkWebhook(slug);
      const applied = `Applied before it stopped: ${JSON.stringify(summary)}.`;
      // A refused key is the operator's to fix (422, the fix named), not Cal.com being down (502).
      throw rejected
        ? new HttpError(422, "calcom_api_key_rejected", `${message.replaceAll("{slug}", slug)} ${applied}`)
        : new HttpError(502, outcome, `${message} ${applied}`);
    }
  }

  /** The webhook check that goes with a pass (it records its own outcome; a failure is not the pass's). */
  async #checkWebhook(slug: string): Promise<void> {
    await this.webhooks?.check(slug).catch(() => {});
  }

  async #moveCheckpoint(slug: string, owner: string, latest: string): Promise<void> {
    await updateReconcileState(this.kv, slug, owner, (s) => ({
      checkpoint: s.checkpoint && s.checkpoint > latest ? s.checkpoint : latest,
    }));
  }

  #logFailure(slug: string, error: unknown): void {
    const code = error instanceof HttpError ? error.code : "error";
    if (code === "reconcile_running" || code === "no_api_key") return;
    this.log.warn("reconcile pass failed", {
      slug,
      code,
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

/** A booking by uid; a recurring occurrence brings its whole series (a cancel-all names only one). */
async function readWithSeries(api: CalcomApi, uid: string): Promise<unknown[]> {
  const found = (await api.read(uid)) ?? [];
  const series = new Set<string>();
  for (const item of found) {
    const seriesUid = parseBooking(item)?.recurringBookingUid;
    if (seriesUid && seriesUid !== uid) series.add(seriesUid);
  }
  const all = [...found];
  for (const seriesUid of series) all.push(...((await api.read(seriesUid)) ?? []));
  return all;
}

/** One pass's work on one client: applying bookings and counting what they changed. */
class Pass {
  readonly seen = new Set<string>();
  readonly #partners = new Set<string>();

  constructor(
    private readonly kv: Deno.Kv,
    private readonly intake: Intake,
    private readonly slug: string,
    private readonly summary: PassSummary,
  ) {}

  /** Stores the booking as a snapshot, has it processed, and counts what it did to its Job. */
  async apply(item: unknown): Promise<void> {
    const booking = parseBooking(item);
    if (!booking || this.seen.has(booking.uid)) return;
    const uid = booking.uid;
    this.seen.add(uid);
    this.summary.fetched++;
    const partners = [booking.rescheduledFromUid, booking.rescheduledToUid].filter((u): u is string => !!u);
    for (const p of partners) this.#partners.add(p);
    const before = await this.#job([uid, ...partners]);
    const receivedAt = nowIso();
    await this.intake.receive({
      guard: await clientGuard(this.kv, this.slug),
      body: encoder.encode(JSON.stringify(item)),
      channel: "calcom_api",
      secretId: "calcom_api",
      receivedAt,
      awaitProcessing: true,
    });
    const after = await this.#job([uid]);
    if (!before && after) this.summary.created++;
    else if (before && after && fingerprint(before) !== fingerprint(after)) this.summary.updated++;
    else this.summary.unchanged++;
    if (after && !namedByWebhook(after, uid)) {
      const fresh = await recordMissedWebhook(this.kv, this.slug, {
        uid,
        job_id: after.id,
        booking_status: booking.status,
        booking_updated_at: changedAt(booking),
        found_at: receivedAt,
      });
      if (fresh) this.summary.missed_webhooks++;
    }
  }

  /**
   * Reschedule partners this pass did not read and whose own state the store does not have (a uid
   * only named by the other booking of a reschedule has a Job but no event of its own).
   */
  async partnersToRead(): Promise<string[]> {
    const out: string[] = [];
    for (const uid of this.#partners) {
      if (this.seen.has(uid)) continue;
      const job = await this.#job([uid]);
      if (!job?.events.some((e) => e.uid === uid)) out.push(uid);
    }
    return out;
  }

  async #job(uids: string[]): Promise<Job | null> {
    const id = (await findJobIds(this.kv, this.slug, uids)).find((x) => x !== null);
    return id ? await getJob(this.kv, this.slug, id) : null;
  }
}

/** Whether any webhook event of the Job names the uid (as its booking, or as one it replaced). */
function namedByWebhook(job: Job, uid: string): boolean {
  return job.events.some((e) => e.kind !== "snapshot" && (e.uid === uid || e.links.includes(uid)));
}

/** What an operator sees of a Job: a change here is an update. */
function fingerprint(job: Job): string {
  const { events: _events, updated_at: _updated, created_at: _created, version: _version, ...visible } = job;
  return JSON.stringify(visible);
}
