/**
 * Traces, for real: `main.ts` started with `OTEL_DENO=true` exports OTLP (http/json) to a local
 * receiver while a booking goes from Cal.com's webhook to an outbound endpoint. One trace holds
 * the webhook's request span (named by its route, not its path), the group commit, the batch's
 * processing and the delivery attempt; log lines carry the request's trace id; no attribute of
 * any span holds a secret, token, key or signature.
 */
import assert from "node:assert/strict";
import { signBody } from "../../lib/calcom/signature.ts";
import {
  ADMIN_TOKEN,
  bookingCreated,
  countingReceiver,
  FIXTURE_SECRET,
  startMain,
  waitFor,
  withTempDir,
} from "../_helpers.ts";
import { apiBooking, FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number };
}

/** A local OTLP/HTTP (JSON) collector: every span it was sent. */
function collector() {
  const spans: OtlpSpan[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = JSON.parse(await req.text());
    if (new URL(req.url).pathname === "/v1/traces") {
      for (const rs of body.resourceSpans ?? []) {
        for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
      }
    }
    return Response.json({});
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, spans, close: () => server.shutdown() };
}

const attr = (s: OtlpSpan, key: string) => {
  const found = s.attributes.find((a) => a.key === key);
  return found ? Object.values(found.value)[0] : undefined;
};

Deno.test("one trace from the webhook to the delivery, spans named by route, and nothing secret in any attribute", async () => {
  const otlp = collector();
  const fake = startFakeCalcom();
  fake.put(apiBooking("missed-1"));
  const receiver = countingReceiver();
  try {
    await withTempDir(async (dir) => {
      const service = await startMain({
        KV_PATH: `${dir}/kv.sqlite3`,
        OUTBOUND_ALLOW_PRIVATE: "1",
        PUBLIC_URL: "https://intake.example.com",
        OTEL_DENO: "true",
        OTEL_SERVICE_NAME: "calcom-intake",
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      });
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${service.url}${path}`, {
          method,
          headers,
          body: JSON.stringify(body ?? {}),
        });
        return { status: res.status, body: await res.json() };
      };
      try {
        assert.equal(
          (await call("POST", "/admin/clients", { slug: "acme", secret: FIXTURE_SECRET })).status,
          201,
        );
        const token = await call("POST", "/admin/clients/acme/tokens", {
          name: "t",
          scopes: ["changes:read"],
        });
        const endpoint = await call("POST", "/admin/clients/acme/endpoints", {
          url: receiver.url,
        });
        assert.equal(endpoint.status, 201);
        const body = bookingCreated("trace-1", "pat@example.com");
        const signature = await signBody(FIXTURE_SECRET, body);
        const res = await fetch(`${service.url}/webhooks/calcom/acme`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-cal-signature-256": signature },
          body,
        });
        assert.equal(res.status, 202);
        await res.body?.cancel();
        await waitFor("the delivery", () => receiver.received() > 0 || undefined);
        // The feed, read to its end, then long-polled there (a second with nothing new).
        const auth = { headers: { authorization: `Bearer ${token.body.token}` } };
        const page = await (await fetch(`${service.url}/api/v1/clients/acme/changes`, auth)).json();
        const feed = await fetch(
          `${service.url}/api/v1/clients/acme/changes?wait=1&cursor=${encodeURIComponent(page.next_cursor)}`,
          auth,
        );
        assert.equal(feed.status, 200);
        await feed.body?.cancel();

        const webhook = await waitFor(
          "the webhook's request span",
          () =>
            otlp.spans.find((s) =>
              attr(s, "http.route") === "/webhooks/calcom/:slug{/}?" && s.name.startsWith("POST")
            ),
        );
        assert.equal(webhook.name, "POST /webhooks/calcom/:slug{/}?", "named by the route, never the slug");
        const attempt = await waitFor(
          "the delivery's span",
          () => otlp.spans.find((s) => s.name === "outbound.attempt"),
        );
        const trace = otlp.spans.filter((s) => s.traceId === webhook.traceId).map((s) => s.name);
        for (const name of ["kv.group_commit", "process.batch", "outbound.attempt"]) {
          assert.ok(trace.includes(name), `${name} is in the webhook's trace: ${trace.join(", ")}`);
        }
        assert.equal(attempt.traceId, webhook.traceId);
        assert.equal(String(attr(attempt, "http.response.status_code")), "204");
        assert.equal(attr(attempt, "calcom_intake.endpoint_id"), endpoint.body.id);
        await waitFor("the long-poll's span", () => otlp.spans.find((s) => s.name === "feed.wait"));
        // Cal.com's side: connect the client's webhook, and a reconciliation pass, with its API key.
        const keyed = await call("PATCH", "/admin/clients/acme", {
          calcom_api_key: FAKE_API_KEY,
          calcom_api_url: fake.url,
        });
        assert.equal(keyed.status, 200);
        assert.equal((await call("POST", "/admin/clients/acme/calcom-webhook")).status, 200);
        assert.equal((await call("POST", "/admin/clients/acme/reconcile")).status, 200);
        for (const name of ["calcom.connect", "reconcile.pass", "calcom.api"]) {
          await waitFor(`a ${name} span`, () => otlp.spans.find((s) => s.name === name));
        }
        const given = [...fake.webhooks.values()].map((w) => w.secret).filter((x): x is string => !!x);
        assert.equal(given.length, 1, "connect gave Cal.com a secret");

        // Every span named by its route: no client's slug in any span name.
        assert.deepEqual(otlp.spans.filter((s) => s.name.includes("acme")).map((s) => s.name), []);

        // The request's log line carries its trace.
        const line = service.lines.map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return null;
          }
        }).find((l) => l?.msg === "request" && l.path === "/webhooks/calcom/acme");
        assert.equal(line?.trace_id, webhook.traceId);
        assert.ok(line?.request_id);

        // Nothing secret, anywhere: the client's secrets (given, and the one connect made), the admin
        // and client tokens, the endpoint's signing secret, Cal.com's signature and API key.
        const secrets = [
          FIXTURE_SECRET,
          ...given,
          ADMIN_TOKEN,
          token.body.token,
          endpoint.body.secret,
          signature,
          FAKE_API_KEY,
        ];
        const leaks = otlp.spans.flatMap((s) =>
          s.attributes.flatMap((a) =>
            secrets.filter((x) => JSON.stringify(a.value).includes(x)).map(() => `${s.name}: ${a.key}`)
          )
        );
        assert.deepEqual(leaks, []);
        assert.ok(otlp.spans.length >= 8, `${otlp.spans.length} spans scanned`);
      } finally {
        await service.stop("SIGTERM");
      }
    });
  } finally {
    await receiver.close();
    await otlp.close();
    await fake.close();
  }
});
