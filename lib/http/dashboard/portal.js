// @ts-check
/// <reference lib="dom" />
/**
 * The client portal: a business's own screens over the client API, opened by a single-use link.
 * The link's key is read from the URL's fragment, taken out of the address bar and history at once,
 * and exchanged (in a request body) for a session token kept in this tab's sessionStorage only;
 * every call sends it as a bearer header, never in a URL. What the session may do (its
 * capabilities) decides which screens and buttons are offered; the service checks it on every call.
 */
import { ApiError, call, can, CAPABILITIES_KEY, meta, TOKEN_KEY, whenRefused } from "./api.js";
import {
  action,
  alertBox,
  badge,
  byId,
  fields,
  h,
  link,
  onRedraw,
  page,
  shownOnce,
  status,
  table,
  when,
} from "./dom.js";
import { clientEndpoints } from "./endpoints.js";
import { jobActions } from "./job_actions.js";

/** What the tab keeps of its session besides the token: the client it belongs to. */
const SESSION_KEY = `${TOKEN_KEY}:session`;

/**
 * @typedef {{ slug: string, client_name: string | null, time_zone: string | null, capabilities: string[], token_scopes: string[], expires_at: string }} Session
 */

/** @returns {Session | null} */
function session() {
  const raw = sessionStorage.getItem(SESSION_KEY);
  return raw && sessionStorage.getItem(TOKEN_KEY) ? JSON.parse(raw) : null;
}

/** Exchanges the link's key for a session; the key leaves the address bar first. */
async function openLink() {
  const key = new URLSearchParams(location.hash.slice(1)).get("key");
  history.replaceState(null, "", location.pathname + location.search);
  if (!key) return;
  sessionStorage.removeItem(TOKEN_KEY);
  try {
    const opened = await call("openPortalSession", { body: { key } });
    const { token, ...rest } = opened;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(CAPABILITIES_KEY, JSON.stringify(rest.capabilities));
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(rest));
    history.replaceState(null, "", "#/jobs");
  } catch (error) {
    const text = error instanceof ApiError ? error.message : String(error);
    ended("This link cannot be opened", text);
    throw new ApiError("shown");
  }
}

/** @param {string} title @param {string} message */
function ended(title, message) {
  byId("nav").replaceChildren();
  page(
    title,
    alertBox(message),
    h(
      "p",
      {},
      "Portal links open once, so nobody else can use one you were sent. Ask the person who runs this service for you to send a new link.",
    ),
  );
}

/** @param {string} message */
function signedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(CAPABILITIES_KEY);
  sessionStorage.removeItem(SESSION_KEY);
  ended("Signed out", message);
}

/** @param {Session} s @param {string} current */
function renderNav(s, current) {
  byId("brand").textContent = s.client_name ? `${s.client_name} · client portal` : "Client portal";
  const tab = (/** @type {string} */ path, /** @type {string} */ label) => {
    const a = link(path, label);
    if (current === path.split("/")[1]) a.setAttribute("aria-current", "page");
    return a;
  };
  byId("nav").replaceChildren(
    h(
      "span",
      { class: "tabs" },
      tab("/jobs", "Jobs"),
      " ",
      tab("/contacts", "Contacts"),
      " ",
      tab("/changes", "Changes"),
      " ",
      tab("/endpoints", "Webhooks"),
      " ",
      can("listTokens") ? [tab("/tokens", "API tokens"), " "] : null,
      tab("/connection", "Cal.com connection"),
    ),
    " ",
    h("button", {
      type: "button",
      class: "secondary",
      onclick: async () => {
        await call("endPortalSession", { params: { slug: s.slug } }).catch(() => {});
        signedOut("You are signed out of the portal; this tab's session has ended.");
      },
    }, "Sign out"),
  );
}

/**
 * The pager of a listing: a link to the next page, keeping the filters.
 * @param {string} path @param {URLSearchParams} params @param {string | null} cursor
 */
function nextPage(path, params, cursor) {
  if (!cursor) return null;
  const next = new URLSearchParams(params);
  next.set("cursor", cursor);
  return h("p", {}, link(`${path}?${next}`, "Next page"));
}

/** @param {Session} s @param {URLSearchParams} params */
async function jobsScreen(s, params) {
  const email = /** @type {HTMLInputElement} */ (h("input", {
    id: "f-email",
    type: "email",
    value: params.get("email") ?? "",
    placeholder: "person@example.com",
  }));
  const from = /** @type {HTMLInputElement} */ (h("input", {
    id: "f-from",
    type: "date",
    value: params.get("from") ?? "",
  }));
  const before = /** @type {HTMLInputElement} */ (h("input", {
    id: "f-before",
    type: "date",
    value: params.get("before") ?? "",
  }));
  const statusSelect = /** @type {HTMLSelectElement} */ (h(
    "select",
    { id: "f-status" },
    h("option", { value: "" }, "any"),
    meta.vocabulary.job_statuses.map((st) =>
      h("option", { value: st, selected: params.get("status") === st }, st)
    ),
  ));
  const day = (/** @type {string | null} */ d) => (d ? new Date(`${d}T00:00:00Z`).toISOString() : undefined);
  const answer = await call("listJobs", {
    params: { slug: s.slug },
    query: {
      email: params.get("email"),
      status: params.get("status"),
      start_from: day(params.get("from")),
      start_before: day(params.get("before")),
      cursor: params.get("cursor"),
      limit: "25",
    },
  });
  page(
    "Jobs",
    h(
      "form",
      {
        class: "inline",
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          const q = new URLSearchParams();
          if (email.value) q.set("email", email.value.trim());
          if (statusSelect.value) q.set("status", statusSelect.value);
          if (from.value) q.set("from", from.value);
          if (before.value) q.set("before", before.value);
          location.hash = `#/jobs?${q}`;
        },
      },
      h("label", { for: email.id }, "Attendee email", email),
      h("label", { for: from.id }, "Starts on or after", from),
      h("label", { for: before.id }, "Starts before", before),
      h("label", { for: statusSelect.id }, "Status", statusSelect),
      h("button", { type: "submit" }, "Search"),
    ),
    table(
      ["Start", "Title", "Status", "Attendees"],
      answer.items.map((/** @type {any} */ j) => [
        link(`/jobs/${encodeURIComponent(j.id)}`, when(j.start_time, s.time_zone)),
        j.title ?? "(untitled)",
        badge(j.status, j.status === "cancelled" || j.status === "rejected" ? "bad" : ""),
        j.attendees.map((/** @type {any} */ a) => a.name ?? a.email).join(", ") || "—",
      ]),
      "Jobs, newest first",
      params.size
        ? "No Job matches this search. Clear a filter to see more."
        : "No Jobs yet. Each booking made in Cal.com shows up here as a Job within seconds.",
    ),
    nextPage("/jobs", params, answer.cursor),
  );
}

/** @param {Session} s @param {string} id */
async function jobScreen(s, id) {
  const [j, connection] = await Promise.all([
    call("getJob", { params: { slug: s.slug, id } }),
    call("connection", { params: { slug: s.slug } }),
  ]);
  page(
    j.title ?? "Job",
    fields([
      ["Status", badge(j.status)],
      ["Start", when(j.start_time, s.time_zone)],
      ["End", when(j.end_time, s.time_zone)],
      ["Location", j.location],
      ["Booker", j.booker_email],
      [
        "Attendees",
        j.attendees.map((/** @type {any} */ a) => `${a.name ?? ""} <${a.email}>`.trim()).join(", "),
      ],
      ["Cancellation reason", j.cancellation_reason],
      ["Booking uid", h("code", {}, j.calcom_event_id)],
    ]),
    jobActions(s.slug, j, s.time_zone, connection.write_back),
    h("h2", {}, "Timeline"),
    table(
      ["When", "What", "From"],
      j.events.map((
        /** @type {any} */ e,
      ) => [when(e.at, s.time_zone), e.kind, e.source === "api" ? "Cal.com's API" : "webhook"]),
      "What Cal.com told about this Job, oldest first",
    ),
    h("p", {}, link("/jobs", "Back to Jobs")),
  );
}

/** @param {Session} s @param {URLSearchParams} params */
async function contactsScreen(s, params) {
  const answer = await call("listContacts", {
    params: { slug: s.slug },
    query: { cursor: params.get("cursor"), limit: "50" },
  });
  page(
    "Contacts",
    table(
      ["Email", "Name", "Phone", "Time zone"],
      answer.items.map((
        /** @type {any} */ c,
      ) => [c.email, c.name ?? "—", c.phone ?? "—", c.time_zone ?? "—"]),
      "One per person, by email",
      "No Contacts yet. Everyone who books becomes one.",
    ),
    nextPage("/contacts", params, answer.cursor),
  );
}

/** @param {Session} s @param {URLSearchParams} params */
async function changesScreen(s, params) {
  const answer = await call("changes", {
    params: { slug: s.slug },
    query: { cursor: params.get("cursor"), limit: "50" },
  });
  page(
    "Changes",
    h(
      "p",
      {},
      "Every change of every Job, oldest first: what the webhooks deliver and the change feed answers.",
    ),
    table(
      ["When", "Change", "Job", "Version"],
      answer.items.map((/** @type {any} */ c) => [
        when(c.occurred_at, s.time_zone),
        c.type,
        link(`/jobs/${encodeURIComponent(c.job_id)}`, c.job_id),
        String(c.job_version),
      ]),
      "The change log",
      "No changes yet. A booking, reschedule or cancellation adds one.",
    ),
    answer.has_more ? nextPage("/changes", params, answer.next_cursor) : null,
  );
}

/** @param {Session} s */
async function endpointsScreen(s) {
  const content = await clientEndpoints({ slug: s.slug, time_zone: s.time_zone });
  page("Webhooks", content);
}

/** @param {Session} s */
async function tokensScreen(s) {
  const { items } = await call("listTokens", { params: { slug: s.slug } });
  const out = h("div", { id: "token-result" });
  const name = /** @type {HTMLInputElement} */ (h("input", {
    id: "token-name",
    type: "text",
    required: true,
    maxlength: 200,
  }));
  const boxes = s.token_scopes.map((
    scope,
    i,
  ) => /** @type {HTMLInputElement} */ (h("input", { type: "checkbox", id: `scope-${i}`, value: scope })));
  page(
    "API tokens",
    h(
      "p",
      {},
      "Tokens let your own systems read your Jobs and changes through the API. Each is shown once, when made.",
    ),
    table(
      ["Name", "Scopes", "Made", "Expires", "Last used", "Revoke"],
      items.map((/** @type {any} */ t) => [
        t.name,
        t.scopes.join(", "),
        when(t.created_at, s.time_zone),
        t.expires_at ? when(t.expires_at, s.time_zone) : "never",
        t.last_used_at ? when(t.last_used_at, s.time_zone) : "never",
        h("button", {
          type: "button",
          class: "secondary",
          "aria-label": `Revoke ${t.name}`,
          onclick: action(() => out, async () => {
            await call("revokeToken", { params: { slug: s.slug, tokenId: t.id } });
            return status(`Revoked ${t.name}: its next request is refused.`);
          }, { refresh: true }),
        }, "Revoke"),
      ]),
      "Your tokens",
      "No tokens yet. Make one below for each system or developer that calls the API.",
    ),
    h("h2", {}, "Make a token"),
    h(
      "form",
      {
        class: "stacked",
        onsubmit: action(() => out, async () => {
          const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
          if (scopes.length === 0) return alertBox("Tick at least one scope: what the token may do.");
          const made = await call("createToken", {
            params: { slug: s.slug },
            body: { name: name.value, scopes },
          });
          return shownOnce({
            id: "new-token-shown",
            valueId: "new-token",
            label: "Token",
            value: made.token,
            lead: "Give it to whoever calls the API; it works until you revoke it.",
          });
        }, { refresh: true }),
      },
      h("label", { for: name.id }, "Who uses it", name),
      h(
        "fieldset",
        {},
        h("legend", {}, "Scopes"),
        boxes.map((b) => h("label", { for: b.id }, b, " ", b.value)),
      ),
      h("button", { type: "submit" }, "Make token"),
    ),
    out,
  );
}

/** @param {Session} s */
async function connectionScreen(s) {
  const c = await call("connection", { params: { slug: s.slug } });
  const hook = c.calcom_webhook;
  const d = c.deliveries;
  page(
    "Cal.com connection",
    h("p", {}, "How your bookings reach this service. Only the operator can change it."),
    fields([
      [
        "Cal.com webhook",
        hook
          ? badge(hook.state.replaceAll("_", " "), hook.state === "ok" ? "good" : "bad")
          : "not checked (no API key given)",
      ],
      ["Last checked", hook ? when(hook.checked_at, s.time_zone) : "—"],
      ["Last delivery", d.last_delivery_at ? when(d.last_delivery_at, s.time_zone) : "none yet"],
      [
        "Silence",
        d.silent
          ? badge("unusually long: Cal.com may have stopped sending", "bad")
          : badge("as usual", "good"),
      ],
      ["Last ping test", c.last_ping_at ? when(c.last_ping_at, s.time_zone) : "none"],
      [
        "Reading Cal.com's bookings",
        c.reconciliation
          ? `${c.reconciliation.last_pass_ok === false ? "failing" : "on"}; last ${
            when(c.reconciliation.last_pass_at, s.time_zone)
          }`
          : "off (no API key given)",
      ],
      [
        "Bookings found that no webhook delivered",
        c.reconciliation ? String(c.reconciliation.missed_webhooks) : "—",
      ],
    ]),
    d.silent
      ? alertBox("No booking has arrived for longer than usual. If bookings were made, tell the operator.")
      : null,
  );
}

const SCREENS =
  /** @type {Record<string, (s: Session, rest: string[], params: URLSearchParams) => Promise<void>>} */ ({
    jobs: (s, rest, params) => (rest[0] ? jobScreen(s, rest[0]) : jobsScreen(s, params)),
    contacts: (s, _rest, params) => contactsScreen(s, params),
    changes: (s, _rest, params) => changesScreen(s, params),
    endpoints: (s) => endpointsScreen(s),
    tokens: (s) => tokensScreen(s),
    connection: (s) => connectionScreen(s),
  });

async function route() {
  const s = session();
  if (!s) {
    return ended(
      "Open your portal link",
      "This tab has no portal session. Open the link you were sent (it works once), or ask for a new one.",
    );
  }
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const screen = Object.hasOwn(SCREENS, parts[0] ?? "") ? parts[0] : "jobs";
  renderNav(s, screen);
  try {
    await SCREENS[screen](s, parts.slice(1), new URLSearchParams(query));
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (text !== "unauthorized") page("Something went wrong", alertBox(text), link("/jobs", "Back to Jobs"));
  }
}

whenRefused(signedOut);
onRedraw(route);
try {
  if (location.hash.startsWith("#key=") || location.hash.includes("key=")) await openLink();
  addEventListener("hashchange", route);
  await route();
} catch (error) {
  if (!(error instanceof ApiError && error.message === "shown")) throw error;
}
