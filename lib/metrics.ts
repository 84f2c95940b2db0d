/**
 * The service's Prometheus metrics (`GET /metrics`), written with prom-client: counters the
 * request path, processing and reconciliation increment in this process, and gauges read when
 * scraped (backlog, dead letters, free disk, and per client: last delivery, silence, the state of
 * its webhook in Cal.com). Each instance reports its own counters; sum them in queries. Every
 * client's counters exist from its first scrape at 0, so an alert on their increase can fire on
 * the first failure.
 */
import client from "prom-client";
import { SIGNATURE_PROBLEMS } from "./calcom/signature.ts";
import { WEBHOOK_STATES } from "./calcom/webhooks_api.ts";
import { DISABLE_AFTER } from "./domain/outbound.ts";
import { silence } from "./domain/silence.ts";
import { SUBMISSION_STATUSES } from "./domain/submission.ts";
import { backlog, countDeadLetters } from "./store/batches.ts";
import { everyClientsParts } from "./store/client_parts.ts";
import type { DiskWatch } from "./store/disk.ts";
import { outboundState } from "./store/endpoints.ts";

/** How a reconciliation pass ends (the `outcome` label of its counter). */
export const RECONCILE_OUTCOMES = ["ok", "api_key_rejected", "calcom_api_failed"] as const;
/** How a Cal.com API call fails (the `kind` label of its counter). */
export const CALCOM_API_ERROR_KINDS = ["rate_limited", "rejected", "server", "network", "other"] as const;
export type CalcomApiErrorKind = typeof CALCOM_API_ERROR_KINDS[number];
/** What an outbound attempt came to (the `outcome` label of its counter). */
export const DELIVERY_OUTCOMES = ["delivered", "failed", "gone"] as const;
/**
 * The refusals of the client API counted before anything else (their series exist from start,
 * under client "unknown": a refused request never names a client in a label).
 */
export const CLIENT_API_REFUSALS = [
  "unauthorized",
  "invalid_token",
  "token_expired",
  "unknown_client",
  "insufficient_scope",
  "invalid_cursor",
  "cursor_expired",
  "internal_error",
] as const;

export class Metrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<"client" | "trigger" | "outcome">;
  readonly signatureFailures: client.Counter<"client" | "reason">;
  readonly submissions: client.Counter<"client" | "status">;
  readonly processingLatency: client.Histogram<never>;
  readonly reconcileRuns: client.Counter<"client" | "outcome">;
  readonly missedWebhooks: client.Counter<"client">;
  readonly apiErrors: client.Counter<"client" | "kind">;
  readonly changes: client.Counter<"client" | "type">;
  readonly clientApiRequests: client.Counter<"client" | "outcome">;
  readonly deliveries: client.Counter<"outcome">;
  readonly clientLastDelivery: client.Gauge<"client">;
  readonly clientSilent: client.Gauge<"client">;
  readonly clientWebhookState: client.Gauge<"client" | "state">;

  constructor(private readonly kv: Deno.Kv | null, disk: DiskWatch | null) {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new client.Counter<L>({ name, help, labelNames, registers });
    this.requests = counter(
      "calcom_intake_webhook_requests_total",
      "Webhook deliveries answered, by client, Cal.com trigger and outcome (the answer's status class or error code).",
      ["client", "trigger", "outcome"],
    );
    this.signatureFailures = counter(
      "calcom_intake_signature_failures_total",
      "Webhook deliveries refused for their signature, by client and reason.",
      ["client", "reason"],
    );
    this.submissions = counter(
      "calcom_intake_submissions_total",
      "Submissions that reached a status in this process (pending on receipt; processed, ignored, quarantined, failed).",
      ["client", "status"],
    );
    this.processingLatency = new client.Histogram({
      name: "calcom_intake_processing_latency_seconds",
      help: "From receipt of a delivery to its Job and Contacts being committed.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.reconcileRuns = counter(
      "calcom_intake_reconcile_runs_total",
      "Reconciliation passes, by client and outcome (ok, api_key_rejected, calcom_api_failed).",
      ["client", "outcome"],
    );
    this.missedWebhooks = counter(
      "calcom_intake_missed_webhooks_total",
      "Bookings reconciliation found in Cal.com's API that no webhook delivered.",
      ["client"],
    );
    this.apiErrors = counter(
      "calcom_intake_calcom_api_errors_total",
      `Failed Cal.com API calls, by client and kind (${CALCOM_API_ERROR_KINDS.join(", ")}).`,
      ["client", "kind"],
    );
    this.changes = counter(
      "calcom_intake_change_log_entries_total",
      "Entries appended to clients' change logs in this process, by client and type (job.created, job.updated, …).",
      ["client", "type"],
    );
    this.clientApiRequests = counter(
      "calcom_intake_client_api_requests_total",
      "Client API requests (/api/v1), by client (unknown for refused ones) and outcome (ok, or the error code).",
      ["client", "outcome"],
    );
    this.deliveries = counter(
      "calcom_intake_outbound_deliveries_total",
      `Outbound webhook attempts in this process, by outcome (${DELIVERY_OUTCOMES.join(", ")}).`,
      ["outcome"],
    );
    // Series from start, at 0: an alert on their increase can fire on the first one.
    for (const outcome of DELIVERY_OUTCOMES) this.deliveries.inc({ outcome }, 0);
    for (const outcome of CLIENT_API_REFUSALS) this.clientApiRequests.inc({ client: "unknown", outcome }, 0);
    const perClient = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new client.Gauge<L>({ name, help, labelNames, registers });
    this.clientLastDelivery = perClient(
      "calcom_intake_client_last_delivery_timestamp_seconds",
      "When the client's last signed delivery from Cal.com came (to the minute; no series before the first).",
      ["client"],
    );
    this.clientSilent = perClient(
      "calcom_intake_client_silent",
      "1 when the client has had no delivery for longer than its silence rule allows (silence_days, or three usual gaps, at least a day).",
      ["client"],
    );
    this.clientWebhookState = perClient(
      "calcom_intake_client_webhook_state",
      "The state of the client's webhook in Cal.com as the last check found it: 1 for the current state, 0 for the others.",
      ["client", "state"],
    );
    const gauge = (name: string, help: string, read: () => number | null | Promise<number | null>) =>
      new client.Gauge({
        name,
        help,
        registers,
        async collect() {
          const value = await read();
          if (value !== null) this.set(value);
        },
      });
    if (kv) {
      gauge(
        "calcom_intake_backlog_submissions",
        "Accepted submissions not yet processed (all instances: read from KV).",
        async () => (await backlog(kv)).submissions,
      );
      gauge(
        "calcom_intake_backlog_oldest_age_seconds",
        "Age of the oldest pending batch (0 when nothing is pending).",
        async () => {
          const oldest = (await backlog(kv)).oldest_created_at;
          return oldest ? Math.max(0, (Date.now() - Date.parse(oldest)) / 1000) : 0;
        },
      );
      gauge(
        "calcom_intake_outbound_endpoints_disabled",
        `Outbound webhook endpoints that are disabled (by a 410, ${DISABLE_AFTER} of failures, or by hand).`,
        async () => (await outboundState(kv)).disabled,
      );
      gauge(
        "calcom_intake_outbound_backlog_entries",
        "Change-log entries not yet delivered, over every active outbound endpoint (up to 1000 each).",
        async () => (await outboundState(kv)).backlog,
      );
      gauge(
        "calcom_intake_outbound_oldest_undelivered_age_seconds",
        "Age of the oldest change-log entry an active endpoint has not yet received (0: none waiting).",
        async () => (await outboundState(kv)).oldestAgeSeconds,
      );
      gauge(
        "calcom_intake_dead_letters",
        "Queue messages that exhausted their retries (GET /admin/dead_letters).",
        () => countDeadLetters(kv),
      );
    }
    if (disk) {
      gauge(
        "calcom_intake_disk_free_bytes",
        "Free bytes where the KV file lives.",
        () => disk.check().free_bytes,
      );
      gauge(
        "calcom_intake_disk_floor_bytes",
        "DISK_FLOOR_MB in bytes: below this much free disk new deliveries get 503.",
        () => disk.check().floor_bytes,
      );
    }
  }

  readonly #signatureFailuresByClient = new Map<string, number>();

  /** Counts a delivery refused for its signature (also kept per client for the dashboard). */
  signatureFailure(client: string, reason: string): void {
    this.signatureFailures.inc({ client, reason });
    this.#signatureFailuresByClient.set(client, (this.#signatureFailuresByClient.get(client) ?? 0) + 1);
  }

  /** Counts a client API request; only a successful one names its client (made-up slugs cannot grow the labels). */
  clientApiRequest(client: string | null, outcome: string): void {
    this.clientApiRequests.inc({ client: outcome === "ok" && client ? client : "unknown", outcome });
  }

  /** Signature failures of one client counted by this process. */
  signatureFailuresOf(client: string): number {
    return this.#signatureFailuresByClient.get(client) ?? 0;
  }

  async text(): Promise<string> {
    if (this.kv) await this.#perClient(this.kv);
    return await this.registry.metrics();
  }

  /**
   * Every client's gauges, read now (collection by collection, as the Clients list reads them), and
   * its counters from 0.
   */
  async #perClient(kv: Deno.Kv): Promise<void> {
    const clients = await everyClientsParts(kv);
    const now = Date.now();
    // A deleted client's series go with it.
    this.clientLastDelivery.reset();
    this.clientSilent.reset();
    this.clientWebhookState.reset();
    for (const { client: c, parts } of clients) {
      const labels = { client: c.slug };
      const s = silence(parts.webhook?.deliveries ?? [], c.silence_days ?? null, now);
      if (s.last_delivery !== null) this.clientLastDelivery.set(labels, s.last_delivery / 1000);
      this.clientSilent.set(labels, s.silent ? 1 : 0);
      const current = parts.calcomWebhook.state;
      for (const state of WEBHOOK_STATES) {
        this.clientWebhookState.set({ ...labels, state }, state === current ? 1 : 0);
      }
      for (const reason of SIGNATURE_PROBLEMS) this.signatureFailures.inc({ ...labels, reason }, 0);
      for (const status of SUBMISSION_STATUSES) this.submissions.inc({ ...labels, status }, 0);
      for (const outcome of RECONCILE_OUTCOMES) this.reconcileRuns.inc({ ...labels, outcome }, 0);
      this.missedWebhooks.inc(labels, 0);
      for (const kind of CALCOM_API_ERROR_KINDS) this.apiErrors.inc({ ...labels, kind }, 0);
      this.clientApiRequests.inc({ ...labels, outcome: "ok" }, 0);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
