// @ts-check
/// <reference lib="dom" />
/**
 * A client's outbound webhook endpoints: how each is doing, its attempt log, and what can be done
 * (add, disable/enable, rotate its secret, recover since a time, resend an event).
 */
import { call } from "./api.js";
import { action, ago, alertBox, badge, fields, h, plural, shownOnce, status, table, when } from "./dom.js";

/**
 * @typedef {import("./clients.js").Client} Client
 * @typedef {import("./dom.js").Child} Child
 * @typedef {import("../../api/schemas.ts").EndpointAnswer} EndpointView
 */

/**
 * The client's outbound webhook endpoints: how each is doing, its attempts, and what can be done
 * (add, disable/enable, rotate its secret, recover since a time, resend an event).
 * @param {Client} client
 * @returns {Promise<Child[]>}
 */
export async function clientEndpoints(client) {
  const params = { slug: client.slug };
  /** @type {{ items: EndpointView[] }} */
  const { items } = await call("listEndpoints", { params });
  const out = h("div", { id: "endpoints-result" });
  const url = /** @type {HTMLInputElement} */ (h("input", {
    id: "endpoint-url",
    type: "url",
    required: true,
    placeholder: "https://dispatch.example.com/hooks",
    size: 40,
  }));
  const sections = await Promise.all(items.map(async (e) => {
    // What this endpoint's actions answer shows in its own panel, beside the buttons pressed.
    const endpointOut = h("div", { id: `endpoint-result-${e.id}` });
    /** @param {string} name @param {Record<string, unknown>} body @param {string} done */
    const act = (name, body, done) =>
      action(() => endpointOut, async () => {
        await call(name, { params: { slug: client.slug, id: e.id }, body });
        return status(done);
      }, { refresh: true });
    /** @type {{ items: import("../../api/schemas.ts").AttemptAnswer[] }} */
    const attempts = await call("endpointAttempts", {
      params: { slug: client.slug, id: e.id },
      query: { limit: "20" },
    });
    const since = /** @type {HTMLInputElement} */ (h("input", {
      id: `since-${e.id}`,
      type: "datetime-local",
    }));
    return h(
      "section",
      { class: "panel", "aria-label": `Endpoint ${e.url}` },
      h(
        "h3",
        {},
        e.url,
        " ",
        badge(e.state.replaceAll("_", " "), e.state !== "active" ? "bad" : e.failing_since ? "warn" : "good"),
      ),
      fields([
        ["Description", e.description],
        ["Events", e.event_types?.join(", ") ?? "all"],
        ["Last success", e.last_success_at ? ago(e.last_success_at) : "never"],
        ["Failing since", e.failing_since ? when(e.failing_since, client.time_zone) : null],
        ["Next attempt", e.next_attempt_at ? when(e.next_attempt_at, client.time_zone) : null],
        ["Disabled because", e.disabled_reason],
        [
          "Backlog",
          `${plural(e.backlog, "entry", "entries")}${
            e.oldest_undelivered_at ? `, oldest ${ago(e.oldest_undelivered_at)}` : ""
          }`,
        ],
      ]),
      h(
        "p",
        {},
        e.state === "active"
          ? h("button", {
            type: "button",
            class: "secondary",
            onclick: act("updateEndpoint", { state: "disabled" }, "Disabled."),
          }, "Disable")
          : e.state === "behind_retention"
          // Enabling would stop again at once: only a recover since a time the log holds helps.
          ? h("span", { class: "muted" }, "Recover it below to start again.")
          : h("button", {
            type: "button",
            onclick: act("updateEndpoint", { state: "active" }, "Enabled: it goes on where it stopped."),
          }, "Enable"),
        " ",
        h("button", {
          type: "button",
          class: "secondary",
          onclick: action(() => endpointOut, async () => {
            const r = await call("rotateEndpointSecret", { params: { slug: client.slug, id: e.id } });
            return shownOnce({
              id: "new-endpoint",
              valueId: "endpoint-secret",
              label: "Signing secret",
              value: r.secret,
              lead: "The old one keeps signing beside it for 24 h, so the receiver can switch over.",
            });
          }, { refresh: true }),
        }, "Rotate secret"),
        " ",
        h("button", {
          type: "button",
          class: "secondary",
          onclick: action(() => endpointOut, async () => {
            const r = await call("sendTestEvent", { params: { slug: client.slug, id: e.id }, body: {} });
            return r.status !== null && r.status < 300
              ? status(`Test event sent: the endpoint answered HTTP ${r.status}.`)
              : alertBox(`Test event sent; it failed: ${r.status !== null ? `HTTP ${r.status}` : r.error}.`);
          }, { refresh: true }),
        }, "Send test event"),
      ),
      h(
        "form",
        {
          class: "inline",
          onsubmit: action(() => endpointOut, async () => {
            const from = new Date(since.value);
            if (!since.value || Number.isNaN(from.getTime())) {
              since.focus();
              return alertBox(
                "Recover needs a date and time: choose since when to deliver everything again (in this browser's time).",
              );
            }
            await call("recoverEndpoint", {
              params: { slug: client.slug, id: e.id },
              body: { since: from.toISOString() },
            });
            return status(
              `Recovering: everything since ${
                when(from.toISOString(), client.time_zone)
              } is delivered again.`,
            );
          }, { refresh: true }),
        },
        h("label", { for: since.id }, "Deliver again since", since),
        h("button", { type: "submit", class: "secondary" }, "Recover"),
      ),
      endpointOut,
      table(
        ["When", "Event", "Attempt", "Result", "Took", "Next retry", "Resend"],
        attempts.items.map((a) =>
          a.kind === "log_read"
            ? [
              when(a.at, client.time_zone),
              "the change log",
              "—",
              badge(a.error ?? "could not be read", "bad"),
              "—",
              "—",
              "—",
            ]
            : [
              when(a.at, client.time_zone),
              [a.type, " ", h("code", {}, a.event_id)],
              String(a.attempt),
              a.status !== null
                ? badge(`HTTP ${a.status}`, a.status < 300 ? "good" : "bad")
                : badge(a.error ?? "failed", "bad"),
              `${a.duration_ms} ms`,
              a.next_retry_at ? when(a.next_retry_at, client.time_zone) : "—",
              // A test event is not in the change log: there is nothing to resend.
              a.kind === "test" ? "test event" : h("button", {
                type: "button",
                class: "secondary",
                "aria-label": `Resend ${a.event_id}`,
                onclick: action(() => endpointOut, async () => {
                  const r = await call("resendToEndpoint", {
                    params: { slug: client.slug, id: e.id, eventId: a.event_id ?? "" },
                  });
                  return status(`Resent: ${r.status !== null ? `HTTP ${r.status}` : r.error}.`);
                }),
              }, "Resend"),
            ]
        ),
        `Attempts (newest first)`,
      ),
    );
  }));
  return [
    h(
      "p",
      {},
      "Every change of this client's Jobs is pushed to these endpoints, signed (Standard Webhooks), in order, retried for days.",
    ),
    sections,
    h("h2", {}, "Add an endpoint"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: action(() => out, async () => {
          const made = await call("createEndpoint", { params, body: { url: url.value } });
          return shownOnce({
            id: "new-endpoint",
            valueId: "endpoint-secret",
            label: "Signing secret",
            value: made.secret,
            lead: "The receiver verifies every delivery with it.",
          });
        }, { refresh: true }),
      },
      h("label", { for: "endpoint-url" }, "URL", url),
      h("button", { type: "submit" }, "Add endpoint"),
    ),
    out,
  ];
}
