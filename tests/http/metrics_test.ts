/**
 * `GET /metrics`: Prometheus text that a Prometheus text parser reads, behind the admin token
 * unless METRICS_PUBLIC=1, counting what the service did.
 */
import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { addClient, ADMIN_TOKEN, bookingCreated, fixture, waitSettled, withServer } from "../_helpers.ts";

interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    count?: string;
    buckets?: Record<string, string>;
  }[];
}

function value(families: Family[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  assert.ok(family, `metric ${name} is exported`);
  const matching = family.metrics.filter((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  return matching.reduce((sum, m) => sum + Number(m.value ?? m.count ?? 0), 0);
}

Deno.test("/metrics: Prometheus text counting requests, signature failures, submissions, latency, backlog", async () => {
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    assert.equal((await server.post("acme", bookingCreated("m-1", "a@example.org"))).status, 202);
    assert.equal((await server.post("acme", bookingCreated("m-1", "a@example.org"))).status, 202);
    assert.equal((await server.post("acme", fixture("ping").body)).status, 200);
    assert.equal(
      (await server.post("acme", bookingCreated("m-2", "b@example.org"), "wrong-secret")).status,
      401,
    );
    assert.equal((await server.post("nobody", bookingCreated("m-3", "c@example.org"))).status, 404);
    await waitSettled(server, "acme");

    const refused = await server.fetch("/metrics");
    assert.equal(refused.status, 401, "behind the admin token");
    await refused.body?.cancel();
    const res = await server.fetch("/metrics", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    const families: Family[] = parsePrometheus(await res.text());

    const requests = "calcom_intake_webhook_requests_total";
    assert.equal(
      value(families, requests, { client: "acme", trigger: "BOOKING_CREATED", outcome: "pending" }),
      1,
    );
    assert.equal(value(families, requests, { client: "acme", outcome: "duplicate" }), 1);
    assert.equal(value(families, requests, { client: "acme", trigger: "PING", outcome: "ping" }), 1);
    assert.equal(value(families, requests, { client: "acme", outcome: "invalid_signature" }), 1);
    assert.equal(
      value(families, requests, { client: "unknown", outcome: "unknown_client" }),
      1,
      "no label per unknown slug",
    );
    assert.equal(value(families, "calcom_intake_signature_failures_total", { client: "acme" }), 1);
    assert.equal(
      value(families, "calcom_intake_submissions_total", { client: "acme", status: "pending" }),
      1,
    );
    assert.equal(
      value(families, "calcom_intake_submissions_total", { client: "acme", status: "processed" }),
      1,
    );
    assert.equal(value(families, "calcom_intake_processing_latency_seconds"), 1, "one latency observed");
    assert.equal(value(families, "calcom_intake_backlog_submissions"), 0);
    assert.equal(value(families, "calcom_intake_dead_letters"), 0);
    for (const name of ["calcom_intake_reconcile_runs_total", "calcom_intake_missed_webhooks_total"]) {
      assert.ok(families.some((f) => f.name === name), name);
    }
    const text = JSON.stringify(families);
    assert.ok(!text.includes("nobody"), "unknown slugs never become labels");
  });
});

Deno.test("/metrics is public with METRICS_PUBLIC=1", async () => {
  await withServer({ env: { METRICS_PUBLIC: "1" } }, async (server) => {
    const res = await server.fetch("/metrics");
    assert.equal(res.status, 200);
    assert.ok(parsePrometheus(await res.text()).length > 0);
  });
});

Deno.test("/metrics: per-client last delivery, silence and webhook state, and every client's counters from 0", async () => {
  await withServer({ mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    await addClient(server, "quiet");
    const before = Date.now();
    assert.equal((await server.post("acme", bookingCreated("pc-1", "a@example.org"))).status, 202);
    const scrape = async (): Promise<Family[]> => {
      const res = await server.fetch("/metrics", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return parsePrometheus(await res.text());
    };
    let families = await scrape();
    const last = value(families, "calcom_intake_client_last_delivery_timestamp_seconds", { client: "acme" });
    assert.ok(Math.abs(last * 1000 - before) < 61_000, `last delivery ${last}`);
    const lastSeries = families.find((f) =>
      f.name === "calcom_intake_client_last_delivery_timestamp_seconds"
    );
    assert.ok(!lastSeries?.metrics.some((m) => m.labels?.client === "quiet"), "no delivery, no timestamp");
    for (const client of ["acme", "quiet"]) {
      assert.equal(value(families, "calcom_intake_client_silent", { client }), 0);
      assert.equal(value(families, "calcom_intake_client_webhook_state", { client, state: "unchecked" }), 1);
      assert.equal(value(families, "calcom_intake_client_webhook_state", { client, state: "ok" }), 0);
      // Counters with a series at 0 before anything happened: an alert on their increase can fire.
      for (
        const [name, labels] of [
          ["calcom_intake_signature_failures_total", { reason: "mismatch" }],
          ["calcom_intake_submissions_total", { status: "failed" }],
          ["calcom_intake_reconcile_runs_total", { outcome: "api_key_rejected" }],
          ["calcom_intake_missed_webhooks_total", {}],
          ["calcom_intake_calcom_api_errors_total", { kind: "rejected" }],
          ["calcom_intake_client_api_requests_total", { outcome: "ok" }],
        ] as const
      ) {
        const family = families.find((f) => f.name === name);
        const series = family?.metrics.find((m) =>
          m.labels?.client === client && Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
        );
        assert.equal(series?.value, "0", `${name} ${client} ${JSON.stringify(labels)} exists at 0`);
      }
    }
    // Families without a client label, and refusals (never labelled with a client), from start too.
    for (const outcome of ["delivered", "failed", "gone"]) {
      const series = families.find((f) => f.name === "calcom_intake_outbound_deliveries_total")?.metrics
        .find((m) => m.labels?.outcome === outcome);
      assert.equal(series?.value, "0", `deliveries ${outcome} exists at 0`);
    }
    const refused = families.find((f) => f.name === "calcom_intake_client_api_requests_total")?.metrics
      .find((m) => m.labels?.client === "unknown" && m.labels?.outcome === "insufficient_scope");
    assert.equal(refused?.value, "0");
    // A client that is gone takes its gauges with it.
    assert.equal((await server.admin("DELETE", "/admin/clients/quiet")).status, 200);
    families = await scrape();
    const silent = families.find((f) => f.name === "calcom_intake_client_silent");
    assert.deepEqual(silent?.metrics.map((m) => m.labels?.client), ["acme"]);
  });
});
