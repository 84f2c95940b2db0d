// @ts-check
/// <reference lib="dom" />
/**
 * The Clients screen and one client's Overview: health at a glance, the webhook URL and secret for
 * Cal.com, connecting it to Cal.com in one step, secrets, Cal.com API access, settings.
 */
import { call, meta } from "./api.js";
import {
  action,
  ago,
  badge,
  copyButton,
  enc,
  fields,
  h,
  link,
  page,
  plural,
  shownOnce,
  status,
  table,
  when,
} from "./dom.js";

/**
 * The answers' types, from the schemas the service validates them with (`lib/admin/schemas.ts`).
 * @typedef {import("../../admin/schemas.ts").ClientAnswer} Client
 * @typedef {Client["problems"][number]} Problem
 * @typedef {NonNullable<Client["calcom_webhook"]>} CalcomWebhook
 * @typedef {import("../../admin/schemas.ts").OverviewAnswer} Overview
 * @typedef {Client["activity"]} Activity what the Clients list and the Overview both show
 * @typedef {import("../../admin/schemas.ts").IssuedSecretAnswer} IssuedSecret
 */

/**
 * Where Cal.com should deliver: PUBLIC_URL's when the service has one, else this page's address.
 * @param {Client} client
 */
export const webhookUrl = (client) => client.webhook_url ?? location.origin + client.webhook_path;

/**
 * Badges for everything that needs the operator's attention, or "healthy".
 * @param {Client} client
 * @param {Activity | null} overview
 */
export function health(client, overview) {
  const out = [];
  for (const p of client.problems) out.push(badge(p.code.replaceAll("_", " "), "bad"));
  if (overview?.silent) out.push(badge(`silent since ${ago(overview.last_delivery_at)}`, "warn"));
  if (overview?.signature_failures) {
    out.push(badge(`${overview.signature_failures} signature failures`, "warn"));
  }
  const quarantined = overview?.submissions_by_status?.quarantined ?? 0;
  if (quarantined) out.push(badge(`${quarantined} quarantined`, "warn"));
  const failed = overview?.submissions_by_status?.failed ?? 0;
  if (failed) out.push(badge(`${failed} failed`, "bad"));
  if (client.reconciliation.missed_webhooks) {
    out.push(badge(`${client.reconciliation.missed_webhooks} missed webhooks`, "warn"));
  }
  if (client.has_api_key) {
    const state = client.reconciliation.api_key_state ?? "unchecked";
    out.push(badge(`API key ${state}`, state === "rejected" ? "bad" : ""));
  }
  // Healthy means "working": a client that has never heard from Cal.com has not shown that yet.
  const heard = overview?.last_delivery_at || client.last_ping;
  if (!heard && !client.calcom_webhook?.connected_at) out.push(badge("not set up: no delivery yet", "warn"));
  else if (!heard) out.push(badge("connected, no delivery yet"));
  if (out.length === 0) out.push(badge("healthy", "good"));
  return out;
}

/** A note where the service cannot know the public https URL Cal.com needs. */
function urlNote() {
  return meta.webhook_url_problem
    ? h("p", { class: "panel important", id: "url-note" }, meta.webhook_url_problem)
    : null;
}

/**
 * A trigger as Cal.com's webhook form names it ("BOOKING_NO_SHOW_UPDATED" → "Booking No-Show Updated").
 * @param {string} trigger
 */
const triggerLabel = (trigger) =>
  trigger.replace("NO_SHOW", "NO-SHOW").toLowerCase().split("_")
    .map((w) => w.split("-").map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join("-")).join(" ");

/**
 * What to do in Cal.com with a client's URL and a new secret (shown once).
 * @param {Client} client
 * @param {IssuedSecret} secret
 */
export function calcomSteps(client, secret) {
  return h(
    "div",
    { class: "panel important", id: "new-secret" },
    h("h2", {}, "Set up the webhook in Cal.com"),
    h(
      "p",
      {},
      h("strong", {}, "The secret is shown only now."),
      " Copy it into Cal.com before leaving this page.",
    ),
    urlNote(),
    fields([
      ["Subscriber URL", [
        h("code", {}, webhookUrl(client)),
        " ",
        copyButton(webhookUrl(client), "Copy the URL"),
      ]],
      ["Secret", [
        h("code", { id: "secret-value" }, secret.secret),
        " ",
        copyButton(secret.secret, "Copy the secret"),
      ]],
    ]),
    h(
      "ol",
      {},
      h("li", {}, "In Cal.com open Settings → Developer → Webhooks → New."),
      h("li", {}, "Paste the Subscriber URL and the Secret above."),
      h("li", {}, "Leave “Custom payload template” empty (a template breaks every booking)."),
      h(
        "li",
        {},
        "Tick the event triggers (those your Cal.com offers): ",
        meta.vocabulary.triggers.map(triggerLabel).join(", "),
        ".",
      ),
      h("li", {}, "Save, then press “Ping test”: the client's last ping here turns verified."),
    ),
  );
}

export async function renderClients() {
  /** @type {{ items: Client[] }} */
  const { items } = await call("listClients");
  const rows = items.map((c) => {
    // The list carries each client's numbers: no call per client.
    const o = c.activity;
    const jobs = Object.values(o.jobs_by_status).reduce((a, b) => a + b, 0);
    return [
      [link(`/clients/${enc(c.slug)}`, c.slug), c.name ? h("div", { class: "muted" }, c.name) : null],
      [h("code", {}, webhookUrl(c)), " ", copyButton(webhookUrl(c), `Copy the webhook URL of ${c.slug}`)],
      [`${c.secrets.length}`, c.secrets.some((s) => s.weak) ? badge("weak", "warn") : null],
      ago(o.last_delivery_at),
      c.last_ping
        ? [
          ago(c.last_ping.at),
          " ",
          c.last_ping.signature_valid ? badge("verified", "good") : badge("unverified", "warn"),
        ]
        : "never",
      plural(jobs, "job"),
      health(c, o),
    ];
  });
  const result = h("div", { id: "add-result" });
  const slug = /** @type {HTMLInputElement} */ (h("input", {
    id: "new-slug",
    name: "slug",
    required: true,
    pattern: "[a-z0-9][a-z0-9\\-]{0,62}",
    "aria-describedby": "slug-help",
  }));
  const name = /** @type {HTMLInputElement} */ (h("input", { id: "new-name", name: "name" }));
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: action(() => result, async () => {
        const answer = await call("createClient", {
          body: { slug: slug.value, name: name.value || undefined },
        });
        return calcomSteps(answer.client, answer.secret);
      }, { refresh: true }),
    },
    h("label", { for: "new-slug" }, "Slug", slug),
    h("label", { for: "new-name" }, "Business name", name),
    h("button", { type: "submit" }, "Add client"),
  );
  page(
    "Clients",
    urlNote(),
    table(["Client", "Webhook URL", "Secrets", "Last delivery", "Last ping", "Jobs", "Health"], rows),
    h("h2", {}, "Add a client"),
    h(
      "p",
      { id: "slug-help", class: "muted" },
      "Slug: lowercase letters, digits and “-”; it becomes part of the webhook URL.",
    ),
    form,
    result,
  );
}

/**
 * The client's webhook in Cal.com: its state as last checked, and connect (create or repair),
 * check now, disconnect. Without an API key, what to do instead.
 * @param {Client} client
 */
function calcomWebhookSection(client) {
  const out = h("div", { id: "calcom-webhook-result", role: "status" });
  const params = { slug: client.slug };
  const hook = client.calcom_webhook;
  if (!client.has_api_key || !hook) {
    return [
      h("h2", {}, "Webhook in Cal.com"),
      h(
        "p",
        {},
        "Set the client's Cal.com API key below, then connect here in one step; or add the webhook in Cal.com by hand with the URL above and a secret (Rotate shows the steps).",
      ),
    ];
  }
  const state = hook.state === "ok"
    ? badge("ok", "good")
    : badge(hook.state.replaceAll("_", " "), hook.state === "unchecked" ? "warn" : "bad");
  /** @param {string} name @param {string} label @param {string} [cls] */
  const button = (name, label, cls) =>
    h("button", {
      type: "button",
      ...(cls ? { class: cls } : {}),
      onclick: action(() => out, async () => {
        if (name === "disconnectCalcom" && !confirm("Remove the client's webhook from Cal.com?")) return "";
        const r = await call(name, { params });
        if (name === "connectCalcom") return status(r.message);
        if (name === "checkCalcom") {
          return status(
            r.state === "ok" ? "The webhook in Cal.com is as it should be." : r.problems[0]?.message,
          );
        }
        return status(`Webhook ${r.deleted} removed from Cal.com.`);
      }, { refresh: true }),
    }, label);
  return [
    h("h2", {}, "Webhook in Cal.com"),
    fields([
      ["State", state],
      ["Webhook id", hook.webhook_id ? h("code", {}, hook.webhook_id) : "none known"],
      ["Last checked", hook.checked_at ? ago(hook.checked_at) : "never"],
      ["Connected", hook.connected_at ? ago(hook.connected_at) : "never"],
      ["Missing triggers", hook.missing_triggers.length ? hook.missing_triggers.join(", ") : "none"],
      ["Last check error", hook.error ?? "none"],
    ]),
    h(
      "div",
      { class: "inline" },
      button("connectCalcom", hook.state === "ok" ? "Connect again" : "Connect to Cal.com"),
      " ",
      button("checkCalcom", "Check now", "secondary"),
      " ",
      button("disconnectCalcom", "Disconnect", "secondary"),
    ),
    out,
  ];
}

/**
 * One client's overview: health, numbers, secrets, Cal.com API access, settings.
 * @param {Client} client
 * @returns {Promise<import("./dom.js").Child[]>}
 */
export async function clientOverview(client) {
  const params = { slug: client.slug };
  /** @type {Overview} */
  const o = await call("clientOverview", { params });
  const secretsOut = h("div", { id: "secrets-result" });
  const keyOut = h("div", { id: "api-key-result" });
  const settingsOut = h("div", { id: "settings-result" });
  const reconcileOut = h("div", { id: "reconcile-result" });
  const input = (
    /** @type {import("./dom.js").Attrs} */ attrs,
  ) => /** @type {HTMLInputElement} */ (h("input", attrs));
  const apiKey = input({ id: "api-key", type: "password", autocomplete: "off" });
  const apiUrl = input({ id: "api-url", value: client.calcom_api_url, size: 32 });
  const tz = input({ id: "client-tz", value: client.time_zone ?? "", placeholder: "Europe/Berlin" });
  const days = input({
    id: "silence-days",
    type: "number",
    min: 1,
    max: 365,
    value: client.silence_days ?? "",
  });
  const writeBack = input({ id: "write-back", type: "checkbox", checked: client.write_back === true });
  const secretRows = client.secrets.map((s) => [
    h("code", {}, s.id),
    ago(s.created_at),
    s.weak ? badge("weak", "warn") : badge("ok", "good"),
    h("button", {
      type: "button",
      class: "secondary",
      onclick: action(() => secretsOut, async () => {
        await call("removeSecret", { params: { slug: client.slug, secretId: s.id } });
        return status(`Secret ${s.id} retired.`);
      }, { refresh: true }),
    }, "Retire"),
  ]);
  /** @param {Record<string, number>} by */
  const counts = (
    by,
  ) => (Object.keys(by).length
    ? Object.entries(by).map(([k, v]) => badge(`${k.replaceAll("_", " ")}: ${v}`))
    : "none");
  const lastPass = client.reconciliation.last_pass;
  return [
    h("h2", {}, "Health"),
    h("div", {}, health(client, o)),
    client.problems.map((p) =>
      h("p", { class: "panel important" }, h("strong", {}, p.code.replaceAll("_", " "), ": "), p.message)
    ),
    urlNote(),
    fields([
      ["Webhook URL", [
        h("code", {}, webhookUrl(client)),
        " ",
        copyButton(webhookUrl(client), "Copy the webhook URL"),
      ]],
      [
        "Last delivery",
        o.last_delivery_at
          ? `${when(o.last_delivery_at, client.time_zone)} (${ago(o.last_delivery_at)})`
          : "never",
      ],
      [
        "Usual gap",
        o.usual_gap_ms ? `${Math.round(o.usual_gap_ms / 60000)} min` : "not enough deliveries yet",
      ],
      [
        "Last ping",
        client.last_ping
          ? `${ago(client.last_ping.at)}, ${
            client.last_ping.signature_valid ? "verified" : "signature not verified"
          }`
          : "never",
      ],
      ["Webhook version", client.webhook_version],
      ["Jobs", counts(o.jobs_by_status)],
      ["Contacts", String(o.contacts)],
      ["Submissions", counts(o.submissions_by_status)],
      ["Signature failures", String(o.signature_failures)],
      ["Missed webhooks", String(client.reconciliation.missed_webhooks)],
      [
        "Last reconciliation",
        lastPass ? `${ago(lastPass.finished_at)}: ${lastPass.ok ? "ok" : "failed"}` : "never",
      ],
    ]),
    calcomWebhookSection(client),
    h("h2", {}, "Secrets"),
    table(["Id", "Added", "Strength", "Retire"], secretRows),
    h("button", {
      type: "button",
      onclick: action(() => secretsOut, async () => {
        const { secret } = await call("addSecret", { params, body: {} });
        return calcomSteps(client, secret);
      }, { refresh: true }),
    }, "Rotate: add a new secret"),
    secretsOut,
    h("h2", {}, "Cal.com API (reconciliation)"),
    h(
      "p",
      {},
      client.has_api_key
        ? "An API key is set (it is never shown)."
        : "No API key: bookings Cal.com never delivered cannot be fetched.",
    ),
    h(
      "form",
      {
        class: "inline",
        onsubmit: action(() => keyOut, async () => {
          /** @type {Record<string, unknown>} */
          const body = { calcom_api_url: apiUrl.value || null };
          if (apiKey.value) body.calcom_api_key = apiKey.value;
          await call("updateClient", { params, body });
          return status("API access saved.");
        }, { refresh: true }),
      },
      h("label", { for: "api-key" }, "API key (cal_live_…)", apiKey),
      h("label", { for: "api-url" }, "API URL", apiUrl),
      h("button", { type: "submit" }, "Save API access"),
    ),
    keyOut,
    h("button", {
      type: "button",
      onclick: action(() => reconcileOut, async () => {
        const r = await call("reconcile", { params });
        return status(
          `Reconciled: ${r.fetched} fetched, ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.missed_webhooks} missed webhooks.`,
        );
      }),
    }, "Run reconciliation now"),
    reconcileOut,
    await tokensSection(client),
    await portalSection(client),
    h("h2", {}, "Settings"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: action(() => settingsOut, async () => {
          await call("updateClient", {
            params,
            body: {
              time_zone: tz.value || null,
              silence_days: days.value || null,
              write_back: writeBack.checked,
            },
          });
          return status("Settings saved.");
        }, { refresh: true }),
      },
      h("label", { for: "client-tz" }, "Business time zone", tz),
      h("label", { for: "silence-days" }, "Alarm after days without a delivery", days),
      h(
        "label",
        { for: "write-back" },
        writeBack,
        " Write-back: the client's systems may cancel and move its Jobs in Cal.com",
      ),
      h("button", { type: "submit" }, "Save settings"),
    ),
    settingsOut,
  ];
}

/** What each portal capability lets the business do, as the form offers it. */
const CAPABILITY_WORDS = /** @type {Record<string, string>} */ ({
  endpoints: "manage its webhook endpoints",
  secrets: "see and rotate endpoint secrets",
  replay: "resend and recover deliveries",
  tokens: "make API tokens for its developers",
  jobs: "cancel, reschedule, confirm or decline Jobs in Cal.com (when write-back is on)",
});

/**
 * The client portal: a single-use link for the business (its URL shown once), the sessions open
 * now, and "end all".
 * @param {Client} client
 */
async function portalSection(client) {
  const params = { slug: client.slug };
  const out = h("div", { id: "portal-result" });
  const { sessions, links } = await call("listPortalSessions", { params });
  const boxes = Object.keys(CAPABILITY_WORDS).map((
    c,
  ) => /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `cap-${c}`, value: c })));
  const length = /** @type {HTMLSelectElement} */ (h(
    "select",
    { id: "portal-length" },
    h("option", { value: "3600" }, "1 hour"),
    h("option", { value: "86400", selected: true }, "24 hours"),
    h("option", { value: "604800" }, "7 days"),
  ));
  return [
    h("h2", {}, "Client portal"),
    h(
      "p",
      {},
      "Send the business a link to its own portal: its Jobs, Contacts and changes, and what you allow below. The link opens once, within 24 h.",
    ),
    h(
      "form",
      {
        class: "stacked",
        onsubmit: action(() => out, async () => {
          const capabilities = boxes.filter((b) => b.checked).map((b) => b.value);
          const made = await call("createPortalLink", {
            params,
            body: { capabilities, expires_in: Number(length.value) },
          });
          return shownOnce({
            id: "portal-link",
            valueId: "portal-url",
            label: "Portal link",
            value: made.url ?? location.origin + made.path,
            lead: "Send it to the business; it opens once.",
          });
        }, { refresh: true }),
      },
      h(
        "fieldset",
        {},
        h("legend", {}, "Besides viewing, the business may"),
        boxes.map((b) => h("label", { for: b.id }, b, " ", CAPABILITY_WORDS[b.value])),
      ),
      h("label", { for: length.id }, "The session lasts", length),
      h("button", { type: "submit" }, "Make portal link"),
    ),
    out,
    table(
      ["Opened", "Until", "May"],
      sessions.map((/** @type {any} */ x) => [
        when(x.opened_at, client.time_zone),
        when(x.expires_at, client.time_zone),
        x.capabilities.join(", "),
      ]),
      `Open portal sessions (${links.length} link${links.length === 1 ? "" : "s"} not yet opened)`,
      "No open portal sessions.",
    ),
    sessions.length || links.length
      ? h("button", {
        type: "button",
        class: "secondary",
        onclick: action(() => out, async () => {
          const r = await call("endPortalSessions", { params });
          return status(
            `Ended ${r.ended_sessions} session(s) and voided ${r.voided_links} unopened link(s).`,
          );
        }, { refresh: true }),
      }, "End all portal sessions")
      : null,
  ];
}

/**
 * The client's tokens for its own systems (the client API): who has one, with which scopes, when it
 * was last used; create one (its value shown once) or revoke one at once.
 * @param {Client} client
 */
async function tokensSection(client) {
  const params = { slug: client.slug };
  /** @type {{ items: { id: string, name: string, scopes: string[], created_at: string, expires_at: string | null, last_used_at: string | null }[] }} */
  const { items } = await call("listTokens", { params });
  const out = h("div", { id: "tokens-result" });
  const name = /** @type {HTMLInputElement} */ (h("input", {
    id: "token-name",
    required: true,
    placeholder: "dispatch system",
  }));
  const expires = /** @type {HTMLInputElement} */ (h("input", { id: "token-expires", type: "date" }));
  const boxes = meta.vocabulary.token_scopes.map((scope) => ({
    scope,
    box: /** @type {HTMLInputElement} */ (h("input", {
      type: "checkbox",
      id: `scope-${scope}`,
      value: scope,
      // Reading is the usual need; a scope that changes anything is ticked on purpose.
      checked: scope.endsWith(":read"),
    })),
  }));
  const rows = items.map((t) => [
    t.name,
    t.scopes.join(", "),
    ago(t.created_at),
    t.expires_at ? when(t.expires_at) : "never",
    t.last_used_at ? ago(t.last_used_at) : "never",
    h("button", {
      type: "button",
      class: "secondary",
      "aria-label": `Revoke the token ${t.name}`,
      onclick: action(() => out, async () => {
        await call("revokeToken", { params: { slug: client.slug, tokenId: t.id } });
        return status(`Token ${t.name} revoked: its next request is refused.`);
      }, { refresh: true }),
    }, "Revoke"),
  ]);
  return [
    h("h2", {}, "Tokens (the client API)"),
    h(
      "p",
      { class: "muted" },
      `Tokens let the business's own systems read its Jobs and follow its change feed at /api/v1/clients/${client.slug}/…`,
    ),
    table(["Name", "Scopes", "Created", "Expires", "Last used", "Revoke"], rows),
    h(
      "form",
      {
        class: "inline",
        onsubmit: action(() => out, async () => {
          const scopes = boxes.filter((b) => b.box.checked).map((b) => b.scope);
          const body = {
            name: name.value,
            scopes,
            expires_at: expires.value ? `${expires.value}T00:00:00Z` : undefined,
          };
          const made = await call("createToken", { params, body });
          return shownOnce({
            id: "new-token",
            valueId: "token-value",
            label: "Token",
            value: made.token,
            lead: "Give it to whoever runs that system.",
            more: [["Scopes", made.scopes.join(", ")]],
          });
        }, { refresh: true }),
      },
      h("label", { for: "token-name" }, "Name", name),
      h(
        "fieldset",
        {},
        h("legend", {}, "Scopes"),
        boxes.map((b) => h("label", { for: b.box.id }, b.box, b.scope)),
      ),
      h("label", { for: "token-expires" }, "Expires (optional)", expires),
      h("button", { type: "submit" }, "Create token"),
    ),
    out,
  ];
}

/** The tabs of one client's page. */
const TABS = [
  ["overview", "Overview"],
  ["jobs", "Jobs"],
  ["contacts", "Contacts"],
  ["submissions", "Submissions"],
  ["changes", "Change log"],
  ["endpoints", "Endpoints"],
  ["missed", "Missed webhooks"],
];

/** @param {string} slug @param {string} current */
export function tabs(slug, current) {
  return h(
    "nav",
    { class: "tabs", "aria-label": "Client" },
    TABS.map(([id, label]) =>
      h(
        "a",
        { href: `#/clients/${enc(slug)}/${id}`, ...(id === current ? { "aria-current": "page" } : {}) },
        label,
      )
    ),
  );
}

/**
 * One client's page with one of its tabs.
 * @param {string} slug
 * @param {string} tab
 * @param {URLSearchParams} params
 * @param {Record<string, (client: Client, params: URLSearchParams) => Promise<import("./dom.js").Child[]>>} views
 */
export async function renderClient(slug, tab, params, views) {
  /** @type {Client} */
  const client = await call("showClient", { params: { slug } });
  const view = views[tab] ?? clientOverview;
  const content = await view(client, params);
  page(client.name ? `${client.name} (${client.slug})` : client.slug, tabs(slug, tab), content);
}
