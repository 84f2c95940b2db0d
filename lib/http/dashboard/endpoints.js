// @ts-check
/// <reference lib="dom" />
/**
 * A client's outbound webhook endpoints: how each is doing, its attempt log (each request and its
 * answer), and what can be done (add, edit, disable/enable, delete, see or rotate its secret, send
 * a test event, recover since a time, resend an event). Shared by the dashboard and the portal; in
 * the portal, only what the session's capabilities allow is offered (`can`).
 */
import { call, can, meta } from "./api.js";
import {
  action,
  ago,
  alertBox,
  badge,
  copyButton,
  fields,
  h,
  plural,
  shownOnce,
  status,
  table,
  when,
} from "./dom.js";

/**
 * @typedef {{ slug: string, time_zone?: string | null }} Client what the screens need of the client
 * @typedef {import("./dom.js").Child} Child
 * @typedef {import("../../api/schemas.ts").EndpointAnswer} EndpointView
 */

/**
 * Checkboxes of the change types (none ticked: every type), each with its body's schema and an
 * example where the app has them (the portal, from the contract).
 * @param {string} id
 * @param {string[] | null} chosen
 * @returns {{ element: HTMLElement, value: () => string[] | null }}
 */
function eventTypePicker(id, chosen) {
  const types = meta.vocabulary.change_types;
  const described = new Map((meta.event_types ?? []).map((t) => [t.type, t]));
  const boxes = types.map((type, i) => /** @type {HTMLInputElement} */ (h("input", {
    type: "checkbox",
    id: `${id}-${i}`,
    value: type,
    checked: chosen?.includes(type) ?? false,
  })));
  const element = h(
    "fieldset",
    { class: "event-types" },
    h("legend", {}, "Event types (none ticked: every type)"),
    types.map((type, i) => {
      const about = described.get(type);
      return h(
        "div",
        {},
        h(
          "label",
          { for: boxes[i].id },
          boxes[i],
          " ",
          h("code", {}, type),
          about ? ` — ${about.summary}` : "",
        ),
        about
          ? h(
            "details",
            {},
            h("summary", {}, `Schema and example of ${type}`),
            h(
              "pre",
              { tabindex: "0", "aria-label": `Example ${type} body` },
              JSON.stringify(about.example, null, 2),
            ),
            h(
              "pre",
              { tabindex: "0", "aria-label": `Schema of ${type}` },
              JSON.stringify(about.schema, null, 2),
            ),
          )
          : null,
      );
    }),
  );
  return {
    element,
    value: () => {
      const ticked = boxes.filter((b) => b.checked).map((b) => b.value);
      return ticked.length ? ticked : null;
    },
  };
}

/**
 * The client's outbound webhook endpoints: how each is doing, its attempts, and what can be done.
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
  const picker = eventTypePicker("new-endpoint-types", null);
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
        { class: "actions" },
        !can("updateEndpoint") ? null : e.state === "active"
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
        can("endpointSecret")
          ? h("button", {
            type: "button",
            class: "secondary",
            onclick: action(() => endpointOut, async () => {
              const r = await call("endpointSecret", { params: { slug: client.slug, id: e.id } });
              return h(
                "div",
                { class: "panel" },
                fields([["Signing secret", [
                  h("code", { id: "endpoint-secret" }, r.secret),
                  " ",
                  copyButton(r.secret, "Copy the signing secret"),
                ]]]),
              );
            }),
          }, "Show secret")
          : null,
        " ",
        can("rotateEndpointSecret")
          ? h("button", {
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
          }, "Rotate secret")
          : null,
        " ",
        can("sendTestEvent")
          ? h("button", {
            type: "button",
            class: "secondary",
            onclick: action(() => endpointOut, async () => {
              const r = await call("sendTestEvent", { params: { slug: client.slug, id: e.id }, body: {} });
              return r.status !== null && r.status < 300
                ? status(`Test event sent: the endpoint answered HTTP ${r.status}.`)
                : alertBox(
                  `Test event sent; it failed: ${r.status !== null ? `HTTP ${r.status}` : r.error}.`,
                );
            }, { refresh: true }),
          }, "Send test event")
          : null,
        " ",
        can("deleteEndpoint")
          ? h("button", {
            type: "button",
            class: "danger",
            onclick: action(() => out, async () => {
              if (!confirm(`Delete the endpoint ${e.url} and its attempt log? It gets nothing more.`)) {
                return status("Nothing was deleted.");
              }
              await call("deleteEndpoint", { params: { slug: client.slug, id: e.id } });
              return status(`Deleted the endpoint ${e.url}.`);
            }, { refresh: true }),
          }, "Delete")
          : null,
      ),
      can("updateEndpoint") ? editForm(client, e, endpointOut) : null,
      can("recoverEndpoint")
        ? h(
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
        )
        : null,
      endpointOut,
      table(
        ["When", "Event", "Attempt", "Result", "Took", "Next retry", "Request and answer", "Resend"],
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
              attemptDetails(a),
              // A test event is not in the change log: there is nothing to resend.
              a.kind === "test" ? "test event" : !can("resendToEndpoint") ? "—" : h("button", {
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
        "Attempts (newest first)",
        "No attempts yet: the next change of a Job is delivered here (or send a test event).",
      ),
    );
  }));
  return [
    h(
      "p",
      {},
      "Every change of the Jobs is pushed to these endpoints, signed (Standard Webhooks), in order, retried for days.",
    ),
    items.length === 0
      ? h(
        "p",
        { class: "empty" },
        can("createEndpoint")
          ? "No endpoints yet. Add one below: it gets every change from then on."
          : "No endpoints yet. Ask for a portal link that may manage endpoints to add one.",
      )
      : sections,
    can("createEndpoint") ? h("h2", {}, "Add an endpoint") : null,
    can("createEndpoint")
      ? h(
        "form",
        {
          class: "stacked",
          onsubmit: action(() => out, async () => {
            const made = await call("createEndpoint", {
              params,
              body: { url: url.value, event_types: picker.value() },
            });
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
        picker.element,
        h("button", { type: "submit" }, "Add endpoint"),
      )
      : null,
    out,
  ];
}

/**
 * An endpoint's url, description and event types, changed in place.
 * @param {Client} client
 * @param {EndpointView} e
 * @param {HTMLElement} endpointOut
 */
function editForm(client, e, endpointOut) {
  const url = /** @type {HTMLInputElement} */ (h("input", {
    id: `edit-url-${e.id}`,
    type: "url",
    required: true,
    value: e.url,
    size: 40,
  }));
  const description = /** @type {HTMLInputElement} */ (h("input", {
    id: `edit-description-${e.id}`,
    type: "text",
    value: e.description ?? "",
    maxlength: 500,
  }));
  const picker = eventTypePicker(`edit-types-${e.id}`, e.event_types);
  return h(
    "details",
    {},
    h("summary", {}, "Edit"),
    h(
      "form",
      {
        class: "stacked",
        onsubmit: action(() => endpointOut, async () => {
          await call("updateEndpoint", {
            params: { slug: client.slug, id: e.id },
            body: { url: url.value, description: description.value || null, event_types: picker.value() },
          });
          return status("Saved.");
        }, { refresh: true }),
      },
      h("label", { for: url.id }, "URL", url),
      h("label", { for: description.id }, "Description", description),
      picker.element,
      h("button", { type: "submit" }, "Save"),
    ),
  );
}

/**
 * What an attempt sent (its headers, never the signature) and what came back (the first KiB).
 * @param {import("../../api/schemas.ts").AttemptAnswer} a
 */
function attemptDetails(a) {
  const headers = Object.entries(a.request_headers ?? {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  return h(
    "details",
    {},
    h("summary", {}, "Show"),
    h("p", {}, "Headers sent"),
    h("pre", {}, headers || "(not recorded)"),
    h("p", {}, "Answer (first KiB)"),
    h("pre", {}, a.response_body || "(empty)"),
  );
}
