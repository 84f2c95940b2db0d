/**
 * docs/alerts.yml against the service's real /metrics: every rule parses as PromQL (Prometheus's
 * own grammar, @prometheus-io/lezer-promql), and every metric, label and label value its selectors
 * and groupings name exists in what a service with a client exports, so a renamed metric or a typo
 * in a rule fails here rather than staying silent in production.
 */
import assert from "node:assert/strict";
import { parser } from "@prometheus-io/lezer-promql";
import parsePrometheus from "parse-prometheus-text-format";
import { parse as parseYaml } from "yaml";
import { addClient, ADMIN_TOKEN, bookingCreated, withServer, withTempDir } from "../_helpers.ts";

const ALERTS = new URL("../../docs/alerts.yml", import.meta.url);

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Series {
  name: string;
  labels: Record<string, string>;
}

interface Matcher {
  label: string;
  op: string;
  value: string;
}

/** Each series of the exposition, histograms as their _bucket/_sum/_count series. */
function seriesOf(text: string): Series[] {
  const families: { name: string; type: string; metrics: { labels?: Record<string, string> }[] }[] =
    parsePrometheus(text);
  return families.flatMap((f) =>
    f.metrics.flatMap((m) => {
      const labels = m.labels ?? {};
      const names = f.type === "HISTOGRAM" ? ["_bucket", "_sum", "_count"].map((s) => f.name + s) : [f.name];
      return names.map((name) => ({ name, labels }));
    })
  );
}

function matches(series: Series, m: Matcher): boolean {
  const value = series.labels[m.label] ?? "";
  if (m.op === "=") return value === m.value;
  if (m.op === "!=") return value !== m.value;
  const re = new RegExp(`^(?:${m.value})$`);
  return m.op === "=~" ? re.test(value) : !re.test(value);
}

/** The selectors of an expression (metric and matchers) and the labels it groups by, or its syntax errors. */
function analyse(expr: string) {
  const selectors: { metric: string; matchers: Matcher[] }[] = [];
  const groupings: string[][] = [];
  const errors: number[] = [];
  const text = (node: { from: number; to: number }) => expr.slice(node.from, node.to);
  const tree = parser.parse(expr);
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
      if (node.name === "VectorSelector") {
        const metric = node.node.getChild("Identifier");
        const matchers: Matcher[] = [];
        const list = node.node.getChild("LabelMatchers");
        for (let m = list?.firstChild ?? null; m; m = m.nextSibling) {
          const label = m.getChild("LabelName");
          const op = m.getChild("MatchOp");
          const value = m.getChild("StringLiteral");
          if (label && op && value) {
            matchers.push({ label: text(label), op: text(op), value: JSON.parse(text(value)) });
          }
        }
        selectors.push({ metric: metric ? text(metric) : "", matchers });
      }
      if (node.name === "GroupingLabels") {
        groupings.push(node.node.getChildren("LabelName").map(text));
      }
    },
  });
  return { selectors, groupings, errors };
}

Deno.test("every rule of docs/alerts.yml parses and names only metrics, labels and values the service exports", async () => {
  const doc = parseYaml(await Deno.readTextFile(ALERTS)) as { groups: { name: string; rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);
  const names = rules.map((r) => r.alert);
  for (
    const wanted of [
      "ClientSilent",
      "WebhookBroken",
      "WebhookDrift",
      "SignatureFailures",
      "DeadLetters",
      "BacklogOld",
      "DiskFloorReached",
      "OutboundEndpointFailing",
    ]
  ) {
    assert.ok(names.includes(`CalcomIntake${wanted}`), `a rule for ${wanted}`);
  }

  await withTempDir(async (dir) => {
    // A file KV, so the disk gauges exist as they do on a server; a client that has had a delivery.
    await withServer({ kvPath: `${dir}/kv.sqlite3`, mode: "inline" }, async (server) => {
      await addClient(server, "acme");
      assert.equal((await server.post("acme", bookingCreated("alert-1", "a@example.org"))).status, 202);
      const res = await server.fetch("/metrics", { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      assert.equal(res.status, 200);
      const series = seriesOf(await res.text());

      for (const rule of rules) {
        assert.ok(rule.labels?.severity, `${rule.alert}: a severity`);
        assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert}: what to do`);
        if (rule.for) assert.match(rule.for, /^\d+[smh]$/, `${rule.alert}: for`);
        const { selectors, groupings, errors } = analyse(rule.expr);
        assert.deepEqual(errors, [], `${rule.alert}: PromQL syntax (${rule.expr})`);
        assert.ok(selectors.length > 0, `${rule.alert}: selects something`);
        const selected: Series[] = [];
        for (const { metric, matchers } of selectors) {
          const ofMetric = series.filter((s) => s.name === metric);
          assert.ok(ofMetric.length > 0, `${rule.alert}: ${metric} is exported`);
          for (const m of matchers) {
            assert.ok(
              ofMetric.some((s) => m.label in s.labels),
              `${rule.alert}: ${metric} has label ${m.label}`,
            );
          }
          for (const m of matchers.filter((m) => m.op === "=~" && /^[\w|]+$/.test(m.value))) {
            // A list of values: each one must be a value the label takes (a typo selects nothing).
            for (const one of m.value.split("|")) {
              assert.ok(
                ofMetric.some((s) => s.labels[m.label] === one),
                `${rule.alert}: ${m.label}="${one}" exists`,
              );
            }
          }
          const hit = ofMetric.filter((s) => matchers.every((m) => matches(s, m)));
          assert.ok(hit.length > 0, `${rule.alert}: ${metric}{${JSON.stringify(matchers)}} selects a series`);
          selected.push(...hit);
        }
        for (const labels of groupings) {
          for (const label of labels) {
            assert.ok(
              selected.some((s) => label in s.labels),
              `${rule.alert}: groups by ${label}, which exists`,
            );
          }
        }
      }
    });
  });
});

Deno.test("the checker itself refuses an unknown metric, label or value", () => {
  const bad = [
    "max by (client) (calcom_intake_client_silentt) == 1",
    'max(calcom_intake_client_webhook_state{stat="missing"})',
    "sum by (client) (increase(calcom_intake_signature_failures_total[15m]) > 0",
  ];
  const series: Series[] = [{ name: "calcom_intake_client_silent", labels: { client: "acme" } }];
  const { selectors } = analyse(bad[0]);
  assert.equal(series.filter((s) => s.name === selectors[0].metric).length, 0);
  const second = analyse(bad[1]).selectors[0];
  assert.deepEqual(second.matchers, [{ label: "stat", op: "=", value: "missing" }]);
  assert.ok(analyse(bad[2]).errors.length > 0, "an unbalanced parenthesis is a syntax error");
});
