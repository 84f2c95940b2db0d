/**
 * Outbound webhooks: every change-log entry an endpoint subscribes to is POSTed to it, signed as
 * Standard Webhooks, at least once and in log order. What is to be sent is decided from the log and
 * the endpoint's durable position in it, so nothing is lost when a process dies between a commit
 * and a POST: the position moves only after a 2xx. Delivery starts when a client's log head moves
 * (a watch on the key the feed's long-poll watches too, so every writer on every instance wakes
 * it: processing, erase, merges, reconciliation), when an endpoint is enabled or recovered
 * (`kick`), from the minute's cron and an in-process interval (`runDue`), and for a retry due soon,
 * on a timer. One deliverer per endpoint at a time (a KV lease); each endpoint has
 * its own loop, so a slow or dead one never holds up another, nor ingest.
 */
import { failSpan, inSpan, traceOf } from "../trace.ts";
import type { ChangeEntry } from "../domain/changes.ts";
import { newId } from "../domain/ids.ts";
import {
  BEHIND_RETENTION_REASON,
  behindRetention,
  DISABLE_AFTER,
  DISABLE_AFTER_MS,
  nextAttemptAt,
  subscribes,
} from "../domain/outbound.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import {
  atLogEnd,
  ExpiredFeedCursorError,
  logHeads,
  type LogPage,
  type LogPosition,
  readLog,
  WATCH_KEYS,
  watchHeads,
} from "../store/changes.ts";
import {
  allEndpoints,
  type Attempt,
  type Endpoint,
  getEndpoint,
  listEndpoints,
  recordAttempt,
  releaseLease,
  takeLease,
  updateEndpoint,
} from "../store/endpoints.ts";
import { isoUtc, nowIso } from "../time.ts";
import { type Outcome, postEntry } from "./outbound_post.ts";

export interface OutboundOptions {
  /** Retry intervals (OUTBOUND_RETRY_SCHEDULE_MS), the last one repeated. */
  schedule: readonly number[];
  /** OUTBOUND_ALLOW_PRIVATE: http:// and private addresses allowed (self-hosted setups, tests). */
  allowPrivate: boolean;
  /** How long attempts are kept (OUTBOUND_LOG_RETENTION_DAYS). */
  attemptRetentionMs: number;
  /** How long a deliverer's lease on an endpoint lasts without renewal (OUTBOUND_LEASE_MS). */
  leaseMs: number;
}

/** Entries read from the log per step (the window is one in flight, in order). */
const READ_AHEAD = 20;
/** Endpoints delivered to at once by this process; the others wait their turn (one in flight each). */
const MAX_ENDPOINTS_IN_FLIGHT = 32;
/** A retry due within this long is waited for in-process; later ones are left to the cron. */
const TIMER_HORIZON_MS = 60_000;

/** A delivery that succeeded, not yet recorded. */
interface Delivered {
  entry: ChangeEntry;
  /** Where the endpoint goes on from once it is recorded. */
  position: LogPosition;
  outcome: Outcome;
}

export class Outbound {
  readonly #owner = newId();
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  /** Endpoints waiting for a free place (MAX_ENDPOINTS_IN_FLIGHT), in arrival order. */
  readonly #queued = new Map<string, Endpoint>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Clients known to have endpoints, refreshed by `runDue`: their log heads are watched. */
  readonly #withEndpoints = new Set<string>();
  /** The running watches (WATCH_KEYS clients each), and the client list they were started for. */
  #watches: { stop: AbortController; done: Promise<void> }[] = [];
  #watchedList = "";
  /** Set by `idle`: no new retry timers or watches (the process is stopping). */
  #stopping = false;
  /** Receivers' connections, this deliverer's own: closed when it stops, so none outlives the service. */
  #client: Deno.HttpClient | null = null;

  constructor(
    private readonly kv: Deno.Kv,
    private readonly log: Logger,
    private readonly metrics: Metrics | null,
    private readonly options: OutboundOptions,
  ) {}

  /** Deliver to `slug`'s endpoints now, in the background (its log moved, or an endpoint was enabled). */
  kick(slug: string): void {
    (async () => {
      for (const endpoint of await listEndpoints(this.kv, slug)) this.#start(endpoint);
    })().catch((error) => this.log.error("outbound kick failed", { slug, error: String(error) }));
  }

  /** Tells that `slug` has endpoints now (one was created in this process): its log head is watched. */
  noteEndpoints(slug: string): void {
    this.#withEndpoints.add(slug);
    this.#watch();
  }

  /**
   * Every endpoint with something due, and the watches of its clients' log heads: at start, from
   * the minute's cron and the in-process interval.
   */
  async runDue(): Promise<void> {
    const clients = new Set<string>();
    // An endpoint already at its client's log end has nothing to deliver: no lease, no log read.
    const heads = await logHeads(this.kv);
    for await (const endpoint of allEndpoints(this.kv)) {
      clients.add(endpoint.client);
      if (atLogEnd(endpoint.position, heads.get(endpoint.client))) continue;
      this.#start(endpoint);
    }
    for (const slug of this.#withEndpoints) if (!clients.has(slug)) this.#withEndpoints.delete(slug);
    for (const slug of clients) this.#withEndpoints.add(slug);
    this.#watch();
  }

  /** Watches the log heads of the clients with endpoints (restarted only when that set changes). */
  #watch(): void {
    const clients = [...this.#withEndpoints].sort();
    const list = clients.join("\n");
    if (this.#stopping || list === this.#watchedList) return;
    this.#watchedList = list;
    for (const w of this.#watches) w.stop.abort();
    this.#watches = [];
    for (let i = 0; i < clients.length; i += WATCH_KEYS) {
      const group = clients.slice(i, i + WATCH_KEYS);
      const stop = new AbortController();
      const done = watchHeads(this.kv, group, (slug) => this.kick(slug), stop.signal).catch((error) => {
        // The next runDue (within a minute) starts it again; until then the cron delivers.
        this.log.error("outbound watch failed", { clients: group.length, error: String(error) });
        if (this.#watchedList === list) this.#watchedList = "";
      });
      this.#watches.push({ stop, done });
    }
  }

  /** Resolves when the deliveries running in this process have finished (new ones may start after). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running.values()]);
  }

  /** Resolves when deliveries started in this process have finished; no retry timer is left. */
  async idle(): Promise<void> {
    this.#stopping = true;
    for (const w of this.#watches) w.stop.abort();
    await Promise.all(this.#watches.map((w) => w.done));
    this.#watches = [];
    await this.settled();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#client?.close();
    this.#client = null;
  }

  #http(): Deno.HttpClient {
    return this.#client ??= Deno.createHttpClient({});
  }

  /**
   * Sends a test event now: `entry` is synthetic (its id `test_…`, never in the change log) and its
   * body says `"test": true`; the attempt is recorded as kind "test" and answered. The endpoint's
   * position and retry state are left alone.
   */
  async sendTest(endpoint: Endpoint, entry: ChangeEntry): Promise<Attempt> {
    return (await this.#sendNow(endpoint, entry, "test")).attempt;
  }

  /** Sends one entry to an endpoint now, outside its order (a resend); records and answers the attempt. */
  async resend(endpoint: Endpoint, entry: ChangeEntry): Promise<Attempt> {
    const { attempt, ok } = await this.#sendNow(endpoint, entry, "resend");
    this.metrics?.deliveries.inc({ outcome: ok ? "delivered" : "failed" });
    return attempt;
  }

  /** One attempt outside the endpoint's order, recorded on its own and answered. */
  async #sendNow(
    endpoint: Endpoint,
    entry: ChangeEntry,
    kind: "test" | "resend",
  ): Promise<{ attempt: Attempt; ok: boolean }> {
    const outcome = await this.#send(endpoint, entry, kind === "test");
    const attempt = this.#attempt(entry, 1, outcome, null, kind);
    await recordAttempt(this.kv, endpoint.client, endpoint.id, attempt, this.options.attemptRetentionMs);
    return { attempt, ok: outcome.ok };
  }

  #start(endpoint: Endpoint): void {
    const id = `${endpoint.client}/${endpoint.id}`;
    if (endpoint.state !== "active") return;
    if (this.#running.has(id)) {
      this.#again.add(id);
      return;
    }
    if (this.#running.size >= MAX_ENDPOINTS_IN_FLIGHT) {
      this.#queued.set(id, endpoint);
      return;
    }
    const run = this.#drive(endpoint.client, endpoint.id)
      .catch((error) =>
        this.log.error("outbound delivery failed", { endpoint_id: endpoint.id, error: String(error) })
      )
      .finally(() => {
        this.#running.delete(id);
        const [next] = this.#queued;
        if (next) {
          this.#queued.delete(next[0]);
          this.#start(next[1]);
        }
        if (this.#again.delete(id)) {
          getEndpoint(this.kv, endpoint.client, endpoint.id).then((e) => e && this.#start(e)).catch(() => {});
        }
      });
    this.#running.set(id, run);
  }

  /**
   * Delivers to one endpoint, in order, until it is caught up, a retry is not yet due, or it is
   * disabled. The endpoint and a page of the log are kept between deliveries (this owner holds the
   * lease, and every write is checked against what it read); the lease is renewed as it ages.
   */
  async #drive(slug: string, id: string): Promise<void> {
    if (!(await takeLease(this.kv, slug, id, this.#owner, this.options.leaseMs))) return;
    let leasedAt = Date.now();
    // Successes not yet recorded: their attempts and the new position are written in one commit a
    // page (a crash before it only delivers them again: at least once, never lost).
    const state: { endpoint: Endpoint | null; delivered: Delivered[] } = {
      endpoint: await getEndpoint(this.kv, slug, id),
      delivered: [],
    };
    const record = async () => {
      if (state.delivered.length > 0 && state.endpoint) {
        state.endpoint = await this.#recordDelivered(state.endpoint, state.delivered);
      }
      state.delivered = [];
    };
    try {
      let items: ChangeEntry[] = [];
      let positions: LogPosition[] = [];
      while (state.endpoint && state.endpoint.state === "active") {
        const endpoint: Endpoint = state.endpoint;
        const dueIn = endpoint.next_attempt_at ? Date.parse(endpoint.next_attempt_at) - Date.now() : 0;
        if (dueIn > 0) return this.#retryLater(endpoint, dueIn);
        if (items.length === 0) {
          await record();
          if (!state.endpoint) return;
          const page = await readLog(this.kv, slug, state.endpoint.position, READ_AHEAD).catch((e: unknown) =>
            e
          );
          if (page instanceof ExpiredFeedCursorError) return await this.#fellBehind(state.endpoint);
          if (!isLogPage(page)) return await this.#readFailed(state.endpoint, page);
          if (page.items.length === 0) return;
          ({ items, positions } = page);
          continue;
        }
        // Entries it does not subscribe to are passed over: its position moves past them.
        const index = items.findIndex((e) => subscribes(endpoint.event_types, e.type));
        if (index === -1) {
          await record();
          if (state.endpoint) state.endpoint = await this.#advance(state.endpoint, positions.at(-1)!);
          items = [];
          continue;
        }
        if (Date.now() - leasedAt > this.options.leaseMs / 3) {
          if (!(await takeLease(this.kv, slug, id, this.#owner, this.options.leaseMs))) return;
          leasedAt = Date.now();
        }
        const outcome = await this.#send(endpoint, items[index]);
        if (outcome.ok) {
          this.metrics?.deliveries.inc({ outcome: "delivered" });
          state.delivered.push({ entry: items[index], position: positions[index], outcome });
        } else {
          await record();
          if (state.endpoint) state.endpoint = await this.#settle(state.endpoint, items[index], outcome);
        }
        items = items.slice(index + 1);
        positions = positions.slice(index + 1);
      }
    } finally {
      await record().catch((error) =>
        this.log.error("outbound record failed", { endpoint_id: id, error: String(error) })
      );
      await releaseLease(this.kv, slug, id, this.#owner).catch(() => {});
    }
  }

  /**
   * Records deliveries that succeeded, in order, and moves the endpoint past the last of them, in
   * one commit; only from where they started: a position moved meanwhile (a recover) stands.
   */
  async #recordDelivered(endpoint: Endpoint, delivered: readonly Delivered[]): Promise<Endpoint | null> {
    const attempts = delivered.map((d, i) =>
      this.#attempt(d.entry, i === 0 ? endpoint.failures + 1 : 1, d.outcome, null)
    );
    const now = Date.now();
    return await updateEndpoint(
      this.kv,
      endpoint.client,
      endpoint.id,
      (e) =>
        samePosition(e.position, endpoint.position)
          ? {
            ...e,
            position: delivered.at(-1)!.position,
            failures: 0,
            next_attempt_at: null,
            failing_since: null,
            last_success_at: isoUtc(now),
          }
          : null,
      { attempts, retentionMs: this.options.attemptRetentionMs },
    );
  }

  /**
   * Records a failed attempt: a retry scheduled (null: stop now, the timer or the cron goes on), or
   * the endpoint disabled (a 410, or failing for DISABLE_AFTER).
   */
  async #settle(endpoint: Endpoint, entry: ChangeEntry, outcome: Outcome): Promise<Endpoint | null> {
    const now = Date.now();
    const attemptNo = endpoint.failures + 1;
    this.metrics?.deliveries.inc({ outcome: outcome.gone ? "gone" : "failed" });
    const failingSince = endpoint.failing_since ?? isoUtc(now);
    const disable = outcome.gone
      ? "The endpoint answered 410 Gone."
      : now - Date.parse(failingSince) >= DISABLE_AFTER_MS
      ? `Every delivery failed for ${DISABLE_AFTER}.`
      : null;
    const next = disable
      ? null
      : isoUtc(nextAttemptAt(now, endpoint.failures, this.options.schedule, outcome.retryAfterMs));
    const attempt = this.#attempt(entry, attemptNo, outcome, next);
    const updated = await updateEndpoint(this.kv, endpoint.client, endpoint.id, (e) => ({
      ...e,
      failures: e.failures + 1,
      next_attempt_at: next,
      failing_since: failingSince,
      ...(disable ? { state: "disabled" as const, disabled_reason: disable, disabled_at: nowIso() } : {}),
    }), { attempts: [attempt], retentionMs: this.options.attemptRetentionMs });
    if (disable) {
      this.log.warn("endpoint disabled", {
        slug: endpoint.client,
        endpoint_id: endpoint.id,
        reason: disable,
      });
    }
    if (updated && next) this.#retryLater(updated, Date.parse(next) - now);
    return null;
  }

  /**
   * Its position is older than the log keeps: stopped as `behind_retention` (a health problem names
   * the fix, recover), with an attempt saying why; nothing is retried until then.
   */
  async #fellBehind(endpoint: Endpoint): Promise<void> {
    const now = nowIso();
    // Only the position this read came from fell behind: a recover (or a pause) committed since
    // then is the operator's newer word and stands.
    const stopped = await updateEndpoint(
      this.kv,
      endpoint.client,
      endpoint.id,
      (e) =>
        e.state === "active" && samePosition(e.position, endpoint.position) ? behindRetention(e, now) : null,
      { attempts: [this.#logAttempt(BEHIND_RETENTION_REASON)], retentionMs: this.options.attemptRetentionMs },
    );
    if (stopped) {
      this.log.warn("endpoint behind retention", { slug: endpoint.client, endpoint_id: endpoint.id });
    }
  }

  /** The log could not be read (KV failing): recorded and logged; the next tick tries again. */
  async #readFailed(endpoint: Endpoint, error: unknown): Promise<void> {
    const message = `The change log could not be read: ${
      error instanceof Error ? error.message : String(error)
    }`;
    this.log.error("outbound log read failed", {
      slug: endpoint.client,
      endpoint_id: endpoint.id,
      error: message,
    });
    await recordAttempt(
      this.kv,
      endpoint.client,
      endpoint.id,
      this.#logAttempt(message),
      this.options.attemptRetentionMs,
    ).catch(() => {});
  }

  #logAttempt(error: string): Attempt {
    return {
      id: newId(),
      event_id: null,
      type: null,
      attempt: 0,
      at: nowIso(),
      status: null,
      error,
      duration_ms: 0,
      response_body: null,
      next_retry_at: null,
      kind: "log_read",
    };
  }

  async #advance(endpoint: Endpoint, position: LogPosition): Promise<Endpoint | null> {
    return await updateEndpoint(
      this.kv,
      endpoint.client,
      endpoint.id,
      (e) => samePosition(e.position, endpoint.position) ? { ...e, position } : null,
    );
  }

  /** A retry due soon waits on a timer in this process; a later one is the cron's. */
  #retryLater(endpoint: Endpoint, inMs: number): void {
    if (inMs > TIMER_HORIZON_MS || this.#stopping) return;
    const id = `${endpoint.client}/${endpoint.id}`;
    if (this.#timers.has(id)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      getEndpoint(this.kv, endpoint.client, endpoint.id).then((e) => e && this.#start(e)).catch(() => {});
    }, Math.max(0, inMs));
    Deno.unrefTimer(Number(timer));
    this.#timers.set(id, timer);
  }

  #attempt(
    entry: ChangeEntry,
    n: number,
    o: Outcome,
    nextRetryAt: string | null,
    kind: Attempt["kind"] = "delivery",
  ): Attempt {
    return {
      id: newId(),
      event_id: entry.id,
      type: entry.type,
      attempt: n,
      at: nowIso(),
      status: o.status,
      error: o.error,
      duration_ms: Math.round(o.durationMs),
      response_body: o.responseBody,
      next_retry_at: nextRetryAt,
      kind,
      ...(o.requestHeaders ? { request_headers: o.requestHeaders } : {}),
    };
  }

  /**
   * One attempt (one POST, signed; never following a redirect; refusing addresses it may not reach), in a span under the trace of the commit that made the entry when this process
   * made it (`trace.ts`): the endpoint and event by id, the status and duration, never a secret.
   */
  #send(endpoint: Endpoint, entry: ChangeEntry, test = false): Promise<Outcome> {
    return inSpan("outbound.attempt", {
      "calcom_intake.client": endpoint.client,
      "calcom_intake.endpoint_id": endpoint.id,
      "calcom_intake.event_id": entry.id,
      "calcom_intake.event_type": entry.type,
    }, async (span) => {
      const outcome = await postEntry(endpoint, entry, {
        client: this.#http(),
        allowPrivate: this.options.allowPrivate,
        test,
      });
      span.setAttribute("calcom_intake.duration_ms", Math.round(outcome.durationMs));
      if (outcome.status !== null) span.setAttribute("http.response.status_code", outcome.status);
      if (!outcome.ok) failSpan(span, outcome.error ?? "failed");
      return outcome;
    }, { parent: traceOf(entry.id) });
  }
}

const samePosition = (a: LogPosition, b: LogPosition) =>
  a.versionstamp === b.versionstamp && a.index === b.index;

function isLogPage(value: unknown): value is LogPage {
  return typeof value === "object" && value !== null && "items" in value && "positions" in value;
}
