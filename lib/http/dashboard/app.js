// The operator's dashboard: a small browser app over the admin JSON API (the same operations as
// the API and the CLI). The admin token lives in sessionStorage only (this tab, until sign-out).
// Every value is put into the page as DOM text nodes (createElement and text nodes, never parsed
// as markup), so what a booker typed is shown, never run.

const TOKEN_KEY = "calcom-intake-admin-token";
const JOB_STATUSES = ["requested", "scheduled", "reschedule_requested", "cancelled", "rejected", "completed"];
const SUBMISSION_STATUSES = ["pending", "processed", "ignored", "failed", "quarantined"];
const TRIGGERS_TO_TICK = [
  "Booking Created",
  "Booking Rescheduled",
  "Booking Cancelled",
  "Booking Requested",
  "Booking Rejected",
  "Booking Payment Initiated",
  "Booking Paid",
  "Booking No-Show Updated",
  "Meeting Started",
  "Meeting Ended",
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
// PUBLIC_URL when the service has one (behind a proxy), else the address this page was opened at.
const webhookBase = document.querySelector('meta[name="webhook-base"]')?.content || location.origin;

/** An element with attributes (`on…` are listeners) and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  el.append(...nodes(children));
  return el;
}

/**
 * Children as DOM nodes: nested lists flattened, null/undefined/false left out, everything else
 * as text. Every place that puts children into the page goes through here (`replaceChildren`
 * given an array or null would print "[object …]" or "null").
 */
function nodes(children) {
  return children.flat(Infinity)
    .filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

const link = (path, ...text) => h("a", { href: "#" + path }, ...text);
const enc = encodeURIComponent;

class ApiError extends Error {}

/** A call to the admin API with the token; a refused token signs out, another error throws its message. */
async function request(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ""}`,
      // Audit lines then say the change came from the dashboard.
      "x-calcom-intake-client": "dashboard",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    await res.body?.cancel();
    signOut("The admin token was refused. Sign in again.");
    throw new ApiError("unauthorized");
  }
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw new ApiError(data?.error?.message ?? `HTTP ${res.status}`);
  }
  return res;
}

async function api(method, path, body) {
  const res = await request(method, path, body);
  return (res.headers.get("content-type") ?? "").includes("json") ? await res.json() : await res.text();
}

function when(iso, timeZone) {
  if (!iso) return "—";
  try {
    return new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZone: timeZone || "UTC",
      timeZoneName: "short",
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

function ago(iso) {
  if (!iso) return "never";
  const minutes = Math.round((Date.now() - Date.parse(iso)) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} days ago`;
}

const badge = (text, tone = "") => h("span", { class: `badge ${tone}` }, text);

function table(headers, rows, caption) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h(
        "tbody",
        {},
        rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))) : h(
          "tr",
          {},
          h("td", { colspan: headers.length, class: "muted" }, "Nothing yet."),
        ),
      ),
    ),
  );
}

function fields(entries) {
  return h("dl", { class: "fields" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]));
}

/** Shows a page: its heading gets the focus, so keyboard and screen-reader users land on it. */
function page(title, ...content) {
  document.title = `${title} · calcom-intake`;
  main.replaceChildren(h("h1", { tabindex: "-1", id: "page-title" }, title), ...nodes(content));
  document.getElementById("page-title").focus();
}

function alertBox(message) {
  return h("p", { role: "alert" }, message);
}

function status(message) {
  return h("p", { role: "status" }, message);
}

/** Runs an action from a button or form; its error shows next to it. */
function action(target, run) {
  return async (event) => {
    event?.preventDefault();
    const out = target();
    out.replaceChildren(status("Working…"));
    try {
      out.replaceChildren(...nodes([await run()]));
    } catch (error) {
      if (error.message !== "unauthorized") out.replaceChildren(alertBox(error.message));
    }
  };
}

// ---- sign in / out -------------------------------------------------------------------------

function renderSignIn(message) {
  nav.replaceChildren();
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const error = h("div", { id: "sign-in-error" }, message ? alertBox(message) : null);
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value);
        try {
          await api("GET", "/admin/clients");
          route();
        } catch (e) {
          if (e.message !== "unauthorized") error.replaceChildren(alertBox(e.message));
        }
      },
    },
    h("label", { for: "token" }, "Admin token", input),
    h("button", { type: "submit" }, "Sign in"),
  );
  page(
    "Sign in",
    h("p", {}, "Enter the service's ADMIN_TOKEN. It is kept for this browser tab only, until you sign out."),
    form,
    error,
  );
  input.focus();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (location.hash !== "" && location.hash !== "#/") history.replaceState(null, "", "#/");
  renderSignIn(message);
}

function renderNav() {
  nav.replaceChildren(
    link("/", "Clients"),
    " ",
    h("button", { type: "button", class: "secondary", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
}

// ---- clients -------------------------------------------------------------------------------

function health(client, overview) {
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
    out.push(
      badge(
        `API key ${client.reconciliation.api_key_state}`,
        client.reconciliation.api_key_state === "rejected" ? "bad" : "",
      ),
    );
  }
  if (out.length === 0) out.push(badge("healthy", "good"));
  return out;
}

const webhookUrl = (client) => webhookBase.replace(/\/$/, "") + client.webhook_path;

function copyButton(text, label) {
  return h("button", {
    type: "button",
    class: "secondary",
    "aria-label": label,
    onclick: async (event) => {
      await navigator.clipboard?.writeText(text).catch(() => {});
      event.target.textContent = "Copied";
    },
  }, "Copy");
}

/** What to do in Cal.com with a new client's URL and secret (shown once). */
function calcomSteps(client, secret) {
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
      h("li", {}, "Tick the event triggers: ", TRIGGERS_TO_TICK.join(", "), "."),
      h("li", {}, "Save, then press “Ping test”: the client's last ping here turns verified."),
    ),
  );
}

async function renderClients() {
  const { items } = await api("GET", "/admin/clients");
  const overviews = await Promise.all(
    items.map((c) => api("GET", `/admin/clients/${enc(c.slug)}/overview`).catch(() => null)),
  );
  const rows = items.map((c, i) => {
    const o = overviews[i];
    const jobs = o ? Object.values(o.jobs_by_status).reduce((a, b) => a + b, 0) : "—";
    return [
      [link(`/clients/${enc(c.slug)}`, c.slug), c.name ? h("div", { class: "muted" }, c.name) : null],
      [h("code", {}, webhookUrl(c)), " ", copyButton(webhookUrl(c), `Copy the webhook URL of ${c.slug}`)],
      [`${c.secrets.length}`, c.secrets.some((s) => s.weak) ? badge("weak", "warn") : null],
      o ? ago(o.last_delivery_at) : "—",
      c.last_ping
        ? [
          ago(c.last_ping.at),
          " ",
          c.last_ping.signature_valid ? badge("verified", "good") : badge("unverified", "warn"),
        ]
        : "never",
      String(jobs),
      health(c, o),
    ];
  });
  const result = h("div", { id: "add-result" });
  const slug = h("input", {
    id: "new-slug",
    name: "slug",
    required: true,
    pattern: "[a-z0-9][a-z0-9\\-]{0,62}",
    "aria-describedby": "slug-help",
  });
  const name = h("input", { id: "new-name", name: "name" });
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: action(() => result, async () => {
        const body = { name: name.value || undefined };
        const answer = await api("PUT", `/admin/clients/${enc(slug.value)}`, body);
        if (!answer.secret) return status(`Client ${slug.value} already exists; its name was updated.`);
        return calcomSteps(answer.client, answer.secret);
      }),
    },
    h("label", { for: "new-slug" }, "Slug", slug),
    h("label", { for: "new-name" }, "Business name", name),
    h("button", { type: "submit" }, "Add client"),
  );
  page(
    "Clients",
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

// ---- one client ----------------------------------------------------------------------------

const TABS = [
  ["overview", "Overview"],
  ["jobs", "Jobs"],
  ["contacts", "Contacts"],
  ["submissions", "Submissions"],
  ["missed", "Missed webhooks"],
];

function tabs(slug, current) {
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

async function renderClient(slug, tab, params) {
  const client = await api("GET", `/admin/clients/${enc(slug)}`);
  const views = {
    overview: clientOverview,
    jobs: clientJobs,
    contacts: clientContacts,
    submissions: clientSubmissions,
    missed: clientMissed,
  };
  const content = await (views[tab] ?? clientOverview)(client, params);
  page(client.name ? `${client.name} (${client.slug})` : client.slug, tabs(slug, tab), ...content);
}

async function clientOverview(client) {
  const slug = enc(client.slug);
  const o = await api("GET", `/admin/clients/${slug}/overview`);
  const secretsOut = h("div", { id: "secrets-result" });
  const keyOut = h("div", { id: "api-key-result" });
  const reconcileOut = h("div", { id: "reconcile-result" });
  const apiKey = h("input", { id: "api-key", type: "password", autocomplete: "off" });
  const apiUrl = h("input", { id: "api-url", value: client.calcom_api_url, size: 32 });
  const tz = h("input", { id: "client-tz", value: client.time_zone ?? "", placeholder: "Europe/Berlin" });
  const days = h("input", {
    id: "silence-days",
    type: "number",
    min: 1,
    max: 365,
    value: client.silence_days ?? "",
  });
  const secretRows = client.secrets.map((s) => [
    h("code", {}, s.id),
    ago(s.created_at),
    s.weak ? badge("weak", "warn") : badge("ok", "good"),
    h("button", {
      type: "button",
      class: "secondary",
      onclick: action(() => secretsOut, async () => {
        await api("DELETE", `/admin/clients/${slug}/secrets/${enc(s.id)}`);
        return status(`Secret ${s.id} retired. Reload to see the list.`);
      }),
    }, "Retire"),
  ]);
  const counts = (by) =>
    Object.entries(by).map(([k, v]) => badge(`${k}: ${v}`)).concat(Object.keys(by).length ? [] : ["none"]);
  return [
    h("h2", {}, "Health"),
    h("div", {}, health(client, o)),
    client.problems.map((p) =>
      h("p", { class: "panel important" }, h("strong", {}, p.code, ": "), p.message)
    ),
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
      ["Webhook version", client.webhook_version ?? "—"],
      ["Jobs", counts(o.jobs_by_status)],
      ["Contacts", String(o.contacts)],
      ["Submissions", counts(o.submissions_by_status)],
      ["Signature failures", String(o.signature_failures)],
      ["Missed webhooks", String(client.reconciliation.missed_webhooks)],
      [
        "Last reconciliation",
        client.reconciliation.last_pass
          ? `${ago(client.reconciliation.last_pass.finished_at)}: ${
            client.reconciliation.last_pass.ok ? "ok" : "failed"
          }`
          : "never",
      ],
    ]),
    h("h2", {}, "Secrets"),
    table(["Id", "Added", "Strength", ""], secretRows),
    h("button", {
      type: "button",
      onclick: action(() => secretsOut, async () => {
        const { secret } = await api("POST", `/admin/clients/${slug}/secrets`, {});
        return calcomSteps(client, secret);
      }),
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
          const body = { calcom_api_url: apiUrl.value || null };
          if (apiKey.value) body.calcom_api_key = apiKey.value;
          await api("PUT", `/admin/clients/${slug}`, body);
          apiKey.value = "";
          return status("Saved.");
        }),
      },
      h("label", { for: "api-key" }, "API key (cal_live_…)", apiKey),
      h("label", { for: "api-url" }, "API URL", apiUrl),
      h("button", { type: "submit" }, "Save API access"),
    ),
    keyOut,
    h("button", {
      type: "button",
      onclick: action(() => reconcileOut, async () => {
        const r = await api("POST", `/admin/clients/${slug}/reconcile`);
        return status(
          `Reconciled: ${r.fetched} fetched, ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged, ${r.missed_webhooks} missed webhooks.`,
        );
      }),
    }, "Run reconciliation now"),
    reconcileOut,
    h("h2", {}, "Settings"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: action(() => keyOut, async () => {
          await api("PUT", `/admin/clients/${slug}`, {
            time_zone: tz.value || null,
            silence_days: days.value || null,
          });
          return status("Saved.");
        }),
      },
      h("label", { for: "client-tz" }, "Business time zone", tz),
      h("label", { for: "silence-days" }, "Alarm after days without a delivery", days),
      h("button", { type: "submit" }, "Save settings"),
    ),
  ];
}

async function clientJobs(client, params) {
  const slug = enc(client.slug);
  const statusSelect = h(
    "select",
    { id: "job-status", name: "status" },
    h("option", { value: "" }, "any status"),
    JOB_STATUSES.map((s) =>
      h("option", { value: s, ...(params.get("status") === s ? { selected: true } : {}) }, s)
    ),
  );
  const search = h("input", {
    id: "job-search",
    name: "q",
    value: params.get("q") ?? "",
    placeholder: "email or booking uid",
  });
  const q = params.get("q")?.trim() ?? "";
  const query = new URLSearchParams({ limit: "200" });
  if (params.get("status")) query.set("status", params.get("status"));
  if (q.includes("@")) query.set("email", q);
  else if (q) query.set("calcom_event_id", q);
  const { items } = await api("GET", `/admin/clients/${slug}/jobs?${query}`);
  const rows = items.map((j) => [
    badge(j.status.replaceAll("_", " ")),
    when(j.start_time, client.time_zone),
    j.booker_time_zone ? `${when(j.start_time, j.booker_time_zone)}` : "—",
    j.booker_email
      ? [j.attendees[0]?.name ? `${j.attendees[0].name} ` : "", h("span", { class: "muted" }, j.booker_email)]
      : "—",
    link(`/clients/${slug}/jobs/${enc(j.id)}`, j.title ?? j.calcom_event_id),
  ]);
  return [
    h(
      "form",
      {
        class: "inline",
        role: "search",
        onsubmit: (event) => {
          event.preventDefault();
          const next = new URLSearchParams();
          if (statusSelect.value) next.set("status", statusSelect.value);
          if (search.value.trim()) next.set("q", search.value.trim());
          location.hash = `#/clients/${slug}/jobs?${next}`;
        },
      },
      h("label", { for: "job-status" }, "Status", statusSelect),
      h("label", { for: "job-search" }, "Search", search),
      h("button", { type: "submit" }, "Filter"),
      h("a", {
        href: `/admin/clients/${slug}/jobs.csv`,
        onclick: download(`/admin/clients/${slug}/jobs.csv`, `${client.slug}-jobs.csv`),
      }, "Export CSV"),
    ),
    table(
      ["Status", `Start (${client.time_zone ?? "UTC"})`, "Start (attendee's time)", "Contact", "Title"],
      rows,
      `${items.length} jobs`,
    ),
  ];
}

/** Downloads an admin file with the token (a plain link could not send it). */
function download(path, filename) {
  return async (event) => {
    event.preventDefault();
    const url = URL.createObjectURL(await (await request("GET", path)).blob());
    const a = h("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    URL.revokeObjectURL(url);
  };
}

async function clientContacts(client) {
  const slug = enc(client.slug);
  const { items } = await api("GET", `/admin/clients/${slug}/contacts?limit=500`);
  return [
    h(
      "p",
      {},
      h("a", {
        href: `/admin/clients/${slug}/contacts.csv`,
        onclick: download(`/admin/clients/${slug}/contacts.csv`, `${client.slug}-contacts.csv`),
      }, "Export CSV"),
    ),
    table(
      ["Email", "Name", "Phone", "Time zone", "Jobs"],
      items.map((c) => [
        c.email_as_sent ?? c.email,
        c.name ?? "—",
        c.phone ?? "—",
        c.time_zone ?? "—",
        link(`/clients/${slug}/jobs?q=${enc(c.email)}`, "their jobs"),
      ]),
    ),
  ];
}

async function clientSubmissions(client, params) {
  const slug = enc(client.slug);
  const wanted = params.get("status") ?? "";
  const query = new URLSearchParams({ limit: "200" });
  if (wanted) query.set("status", wanted);
  const { items } = await api("GET", `/admin/clients/${slug}/submissions?${query}`);
  const filter = h(
    "nav",
    { class: "tabs", "aria-label": "Submission status" },
    ["", ...SUBMISSION_STATUSES].map((s) =>
      h("a", {
        href: `#/clients/${slug}/submissions${s ? `?status=${s}` : ""}`,
        ...(s === wanted ? { "aria-current": "page" } : {}),
      }, s || "all")
    ),
  );
  return [
    filter,
    table(
      ["Received", "Trigger", "Status", "Booking", "Problem"],
      items.map((s) => [
        link(`/clients/${slug}/submissions/${enc(s.id)}`, when(s.received_at, client.time_zone)),
        s.event_type || "—",
        badge(s.status, s.status === "failed" || s.status === "quarantined" ? "bad" : ""),
        s.booking_uid ?? "—",
        s.error ? h("span", { class: "muted" }, s.error.slice(0, 160)) : "",
      ]),
    ),
  ];
}

async function clientMissed(client) {
  const { items } = await api("GET", `/admin/clients/${enc(client.slug)}/missed_webhooks?limit=500`);
  return [
    h("p", {}, "Bookings Cal.com's API showed that no webhook ever delivered (found by reconciliation)."),
    table(
      ["Booking uid", "Status in Cal.com", "Changed in Cal.com", "Found"],
      items.map((m) => [
        m.job_id ? link(`/clients/${enc(client.slug)}/jobs/${enc(m.job_id)}`, m.uid) : m.uid,
        m.booking_status ?? "—",
        when(m.booking_updated_at, client.time_zone),
        ago(m.found_at),
      ]),
    ),
  ];
}

// ---- one job, one submission ---------------------------------------------------------------

function changeText(value) {
  if (value === null || value === undefined || value === "") return "—";
  return Array.isArray(value) ? value.join(", ") || "—" : String(value);
}

async function renderJob(slug, id) {
  const t = await api("GET", `/admin/clients/${enc(slug)}/jobs/${enc(id)}/timeline`);
  const j = t.job;
  page(
    j.title ?? j.calcom_event_id,
    h("p", {}, link(`/clients/${enc(slug)}/jobs`, `← Jobs of ${slug}`)),
    fields([
      ["Status", badge(j.status.replaceAll("_", " "))],
      [`Start (business, ${t.client_time_zone ?? "UTC"})`, when(j.start_time, t.client_time_zone)],
      [`Start (attendee, ${t.booker_time_zone ?? "unknown"})`, when(j.start_time, t.booker_time_zone)],
      ["End", when(j.end_time, t.client_time_zone)],
      ["Booking uid", h("code", {}, j.calcom_event_id)],
      ["Earlier uids", j.previous_event_ids.join(", ") || "—"],
      [
        "Attendees",
        j.attendees.map((a) => `${a.name ? a.name + " " : ""}<${a.email}>${a.no_show ? " (no-show)" : ""}`)
          .join("; "),
      ],
      ["Organizer", j.organizer_email],
      ["Location", j.location],
      ["Cancellation reason", j.cancellation_reason],
      ["Payment", j.payment_status],
    ]),
    h("h2", { id: "timeline" }, "Timeline"),
    h(
      "ol",
      { class: "timeline", "aria-labelledby": "timeline" },
      t.timeline.map((e) =>
        h(
          "li",
          {},
          h("strong", {}, e.kind.replaceAll("_", " ")),
          " ",
          badge(e.source === "api" ? "API snapshot" : "webhook"),
          " ",
          h("span", { class: "muted" }, when(e.at, t.client_time_zone), " · ", e.uid),
          " ",
          link(`/clients/${enc(slug)}/submissions/${enc(e.submission_id)}`, "body"),
          Object.keys(e.changes).length
            ? h(
              "ul",
              {},
              Object.entries(e.changes).map(([field, [was, now]]) =>
                h("li", {}, `${field}: ${changeText(was)} → ${changeText(now)}`)
              ),
            )
            : h("p", { class: "muted" }, "no visible change"),
        )
      ),
    ),
  );
}

async function renderSubmission(slug, id) {
  const d = await api("GET", `/admin/clients/${enc(slug)}/submissions/${enc(id)}/body`);
  const s = d.submission;
  const out = h("div", { id: "replay-result" });
  const canReplay = d.replayable && (s.status === "failed" || s.status === "quarantined");
  page(
    `Submission ${s.event_type || ""}`.trim(),
    h("p", {}, link(`/clients/${enc(slug)}/submissions`, `← Submissions of ${slug}`)),
    fields([
      ["Id", h("code", {}, s.id)],
      ["Status", badge(s.status, s.status === "failed" || s.status === "quarantined" ? "bad" : "")],
      ["Problem", s.error],
      ["Channel", s.channel === "calcom_api" ? "Cal.com API (reconciliation)" : "webhook"],
      ["Received", when(s.received_at)],
      ["Trigger", s.event_type],
      ["Booking uid", s.booking_uid],
      ["Title", s.title],
      ["Start", when(s.start_time)],
      ["Attendee", [s.attendee_name, s.attendee_email].filter(Boolean).join(" ")],
      ["Attendee time zone", s.attendee_time_zone],
      ["Organizer", s.organizer_email],
      ["Rescheduled from", s.rescheduled_from_uid],
      [
        "Jobs",
        s.job_ids.length ? s.job_ids.map((jid) => link(`/clients/${enc(slug)}/jobs/${enc(jid)}`, jid)) : "—",
      ],
    ]),
    canReplay
      ? h("button", {
        type: "button",
        onclick: action(() => out, async () => {
          const after = await api("POST", `/admin/clients/${enc(slug)}/submissions/${enc(id)}/replay`);
          return status(`Replayed: now ${after.status}${after.error ? ` (${after.error})` : ""}.`);
        }),
      }, "Replay")
      : null,
    out,
    h("h2", {}, "Raw body"),
    d.body === null ? h("p", { class: "muted" }, "The raw body was dropped (RAW_BODY_RETENTION_DAYS).") : h(
      "pre",
      { "aria-label": "Raw body, secrets redacted" },
      typeof d.body === "string" ? d.body : JSON.stringify(d.body, null, 2),
    ),
    s.body_scrubbed_at
      ? h("p", { class: "muted" }, "A person was erased from this body: it can no longer be replayed.")
      : null,
  );
}

// ---- routing -------------------------------------------------------------------------------

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return renderSignIn();
  renderNav();
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "clients" && parts[1] && parts[2] === "jobs" && parts[3]) {
      await renderJob(parts[1], parts[3]);
    } else if (parts[0] === "clients" && parts[1] && parts[2] === "submissions" && parts[3]) {
      await renderSubmission(parts[1], parts[3]);
    } else if (parts[0] === "clients" && parts[1]) {
      await renderClient(parts[1], parts[2] ?? "overview", params);
    } else await renderClients();
  } catch (error) {
    if (error.message !== "unauthorized") {
      page("Something went wrong", alertBox(error.message), link("/", "Back to clients"));
    }
  }
}

addEventListener("hashchange", route);
route();
