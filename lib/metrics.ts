/**
 * The service's Prometheus metrics (`GET /metrics`), written with prom-client: counters the
 * request path, processing and reconciliation increment in this process, and gauges read when
 * scraped (backlog, dead letters, free disk). Each instance reports its own; sum them in queries.
 */
import client from "prom-client";
import { backlog, countDeadLetters } from "./store/batches.ts";
import type { DiskWatch } from "./store/disk.ts";
import { outboundState } from "./store/endpoints.ts";

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

  constructor(kv: Deno.Kv | null, disk: DiskWatch | null) {
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
      "Failed Cal.com API calls, by client and kind (rate_limited, rejected, server, network).",
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
      "Outbound webhook attempts in this process, by outcome (delivered, failed, gone).",
      ["outcome"],
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
        "Outbound webhook endpoints that are disabled (by a 410, 5 days of failures, or by hand).",
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
    return await this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
