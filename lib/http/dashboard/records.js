// @ts-check
/// <reference lib="dom" />
/**
 * A client's records: Jobs (filter, search, CSV), Contacts, Submissions by status, missed webhooks,
 * the change log, and the screens of one Job (its timeline) and one submission (its raw body, replay).
 */
import { call, download, meta, pathOf } from "./api.js";
import { jobActions } from "./job_actions.js";
import {
  action,
  ago,
  badge,
  enc,
  fieldName,
  fields,
  h,
  ISO_TIME,
  link,
  page,
  plural,
  status,
  table,
  when,
} from "./dom.js";

/**
 * @typedef {import("./clients.js").Client} Client
 * @typedef {import("./dom.js").Child} Child
 * @typedef {import("../../api/schemas.ts").JobAnswer} Job
 * @typedef {Job["attendees"][number]} Attendee
 */

/** @param {string} s */
const label = (s) => s.replaceAll("_", " ");
/** @param {string} s */
const bad = (s) => (s === "failed" || s === "quarantined" ? "bad" : "");

/**
 * @param {Client} client
 * @param {URLSearchParams} params
 * @returns {Promise<Child[]>}
 */
export async function clientJobs(client, params) {
  const slug = enc(client.slug);
  const statusSelect = /** @type {HTMLSelectElement} */ (h(
    "select",
    { id: "job-status", name: "status" },
    h("option", { value: "" }, "any status"),
    meta.vocabulary.job_statuses.map((s) =>
      h("option", { value: s, ...(params.get("status") === s ? { selected: true } : {}) }, s)
    ),
  ));
  const search = /** @type {HTMLInputElement} */ (h("input", {
    id: "job-search",
    name: "q",
    value: params.get("q") ?? "",
    placeholder: "email or booking uid",
  }));
  const q = params.get("q")?.trim() ?? "";
  /** @type {{ items: Job[] }} */
  const { items } = await call("listJobs", {
    params: { slug: client.slug },
    query: {
      limit: "200",
      status: params.get("status"),
      email: q.includes("@") ? q : undefined,
      calcom_event_id: q && !q.includes("@") ? q : undefined,
    },
  });
  const rows = items.map((j) => [
    badge(label(j.status)),
    when(j.start_time, client.time_zone),
    j.booker_time_zone ? when(j.start_time, j.booker_time_zone) : "—",
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
        href: pathOf("exportJobs", { slug: client.slug }),
        onclick: download("exportJobs", { params: { slug: client.slug } }, `${client.slug}-jobs.csv`),
      }, "Export CSV"),
    ),
    table(
      ["Status", `Start (${client.time_zone ?? "UTC"})`, "Start (attendee's time)", "Contact", "Title"],
      rows,
      plural(items.length, "job"),
    ),
  ];
}

/**
 * @param {Client} client
 * @returns {Promise<Child[]>}
 */
export async function clientContacts(client) {
  const slug = enc(client.slug);
  /** @type {{ items: { email: string, email_as_sent?: string, name: string | null, phone: string | null, time_zone: string | null }[] }} */
  const { items } = await call("listContacts", { params: { slug: client.slug }, query: { limit: "500" } });
  return [
    h(
      "p",
      {},
      h("a", {
        href: pathOf("exportContacts", { slug: client.slug }),
        onclick: download("exportContacts", { params: { slug: client.slug } }, `${client.slug}-contacts.csv`),
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

/**
 * @param {Client} client
 * @param {URLSearchParams} params
 * @returns {Promise<Child[]>}
 */
export async function clientSubmissions(client, params) {
  const slug = enc(client.slug);
  const wanted = params.get("status") ?? "";
  /** @type {{ items: { id: string, received_at: string, event_type: string, status: string, booking_uid: string | null, error: string | null }[] }} */
  const { items } = await call("listSubmissions", {
    params: { slug: client.slug },
    query: { limit: "200", status: wanted },
  });
  const filter = h(
    "nav",
    { class: "tabs", "aria-label": "Submission status" },
    ["", ...meta.vocabulary.submission_statuses].map((s) =>
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
        badge(s.status, bad(s.status)),
        s.booking_uid ?? "—",
        s.error ? h("span", { class: "muted" }, s.error.slice(0, 160)) : "",
      ]),
    ),
  ];
}

/**
 * @param {Client} client
 * @returns {Promise<Child[]>}
 */
export async function clientMissed(client) {
  /** @type {{ items: { uid: string, job_id: string | null, booking_status: string | null, booking_updated_at: string | null, found_at: string }[] }} */
  const { items } = await call("missedWebhooks", { params: { slug: client.slug }, query: { limit: "500" } });
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

/**
 * The client's change log, newest first: each entry's type, Job, version and what it changed.
 * @param {Client} client
 * @returns {Promise<Child[]>}
 */
export async function clientChanges(client) {
  const slug = enc(client.slug);
  const tz = client.time_zone ?? null;
  /** @type {{ items: { id: string, type: string, job_id: string, job_version: number, occurred_at: string, data: { changes: Record<string, [unknown, unknown]>, merged_into?: string } }[] }} */
  const { items } = await call("recentChanges", { params: { slug: client.slug }, query: { limit: "200" } });
  return [
    h("p", {}, "What the business's systems see in their change feed, newest first (the last 200)."),
    table(
      ["Committed", "Type", "Job", "Version", "Changes"],
      items.map((e) => [
        when(e.occurred_at, client.time_zone),
        badge(e.type),
        link(`/clients/${slug}/jobs/${enc(e.data.merged_into ?? e.job_id)}`, e.job_id),
        String(e.job_version),
        e.type === "job.created"
          ? `new: ${changeText("title", e.data.changes.title?.[1], tz)}, ${
            changeText("status", e.data.changes.status?.[1], tz)
          }, ${changeText("start_time", e.data.changes.start_time?.[1], tz)}`
          : Object.keys(e.data.changes).length
          ? changeList(e.data.changes, tz, "changes")
          : e.data.merged_into
          ? `merged into ${e.data.merged_into}`
          : h("span", { class: "muted" }, "a new event, no visible field changed"),
      ]),
    ),
  ];
}

/**
 * What changed, one line a field: its name in words, the value before and after (times in the
 * business's time zone).
 * @param {Record<string, [unknown, unknown]>} changes @param {string | null} tz @param {string} [cls]
 */
function changeList(changes, tz, cls) {
  return h(
    "ul",
    cls ? { class: cls } : {},
    Object.entries(changes).map(([field, [was, now]]) =>
      h("li", {}, `${fieldName(field)}: ${changeText(field, was, tz)} → ${changeText(field, now, tz)}`)
    ),
  );
}

/**
 * A field's value before or after a change, as text: a status in words, a time in `tz`; anything
 * else as it was (an email or a title keeps its underscores).
 * @param {string} field @param {unknown} value @param {string | null} tz
 */
function changeText(field, value, tz) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) {
    return value.map((v) => (typeof v === "object" && v ? summary(v) : String(v))).join(", ") || "—";
  }
  if (typeof value === "string" && ISO_TIME.test(value)) return when(value, tz);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (field === "status" && typeof value === "string") return label(value);
  return typeof value === "object" ? summary(value) : String(value);
}

/**
 * An object in one line of text (never "[object Object]"): its email, name or id, else its fields.
 * @param {object} value
 */
function summary(value) {
  const v = /** @type {Record<string, unknown>} */ (value);
  // A pending write-back shows what it asks (cancel, reschedule, …) before the booking it is for.
  for (const key of ["email", "name", "action", "id", "uid"]) {
    if (typeof v[key] === "string") return String(v[key]);
  }
  if (v.trimmed) return typeof v.items === "number" ? `${v.items} items` : "(long)";
  return JSON.stringify(value);
}

/** @param {string} slug @param {string} id */
export async function renderJob(slug, id) {
  const [timeline, connection] = await Promise.all([
    call("jobTimeline", { params: { slug, id } }),
    call("apiConnection", { params: { slug } }),
  ]);
  /** @type {{ job: Job, client_time_zone: string | null, booker_time_zone: string | null, timeline: { kind: string, source: string, at: string, uid: string, submission_id: string, changes: Record<string, [unknown, unknown]> }[] }} */
  const t = timeline;
  const j = t.job;
  page(
    j.title ?? j.calcom_event_id,
    h("p", {}, link(`/clients/${enc(slug)}/jobs`, `← Jobs of ${slug}`)),
    fields([
      ["Status", badge(label(j.status))],
      [`Start (business, ${t.client_time_zone ?? "UTC"})`, when(j.start_time, t.client_time_zone)],
      [`Start (attendee, ${t.booker_time_zone ?? "unknown"})`, when(j.start_time, t.booker_time_zone)],
      ["End", when(j.end_time, t.client_time_zone)],
      ["Booking uid", h("code", {}, j.calcom_event_id)],
      ["Earlier uids", j.previous_event_ids.join(", ")],
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
    jobActions(slug, j, t.client_time_zone, connection.write_back),
    h("h2", { id: "timeline" }, "Timeline"),
    h(
      "ol",
      { class: "timeline", "aria-labelledby": "timeline" },
      t.timeline.map((e) =>
        h(
          "li",
          {},
          h("strong", {}, label(e.kind)),
          " ",
          badge(e.source === "api" ? "API snapshot" : "webhook"),
          " ",
          h("span", { class: "muted" }, when(e.at, t.client_time_zone), " · ", e.uid),
          " ",
          link(`/clients/${enc(slug)}/submissions/${enc(e.submission_id)}`, "body"),
          Object.keys(e.changes).length
            ? changeList(e.changes, t.client_time_zone)
            : h("p", { class: "muted" }, "no visible change"),
        )
      ),
    ),
  );
}

/** @param {string} slug @param {string} id */
export async function renderSubmission(slug, id) {
  /** @type {{ submission: Record<string, any>, body: unknown, replayable: boolean, client_time_zone: string | null }} */
  const d = await call("submissionDetail", { params: { slug, id } });
  const s = d.submission;
  const out = h("div", { id: "replay-result" });
  const canReplay = d.replayable && (s.status === "failed" || s.status === "quarantined");
  page(
    `Submission ${s.event_type || ""}`.trim(),
    h("p", {}, link(`/clients/${enc(slug)}/submissions`, `← Submissions of ${slug}`)),
    fields([
      ["Id", h("code", {}, s.id)],
      ["Status", badge(s.status, bad(s.status))],
      ["Problem", s.error],
      ["Channel", s.channel === "calcom_api" ? "Cal.com API (reconciliation)" : "webhook"],
      ["Received", when(s.received_at, d.client_time_zone)],
      ["Trigger", s.event_type],
      ["Booking uid", s.booking_uid],
      ["Title", s.title],
      ["Start", s.start_time ? when(s.start_time, d.client_time_zone) : null],
      ["Attendee", [s.attendee_name, s.attendee_email].filter(Boolean).join(" ")],
      ["Attendee time zone", s.attendee_time_zone],
      ["Organizer", s.organizer_email],
      ["Rescheduled from", s.rescheduled_from_uid],
      [
        "Jobs",
        /** @type {string[]} */ (s.job_ids).map((jid) => link(`/clients/${enc(slug)}/jobs/${enc(jid)}`, jid)),
      ],
    ]),
    canReplay
      ? h("button", {
        type: "button",
        onclick: action(() => out, async () => {
          const after = await call("replayOne", { params: { slug, id } });
          return status(`Replayed: now ${after.status}${after.error ? ` (${after.error})` : ""}.`);
        }),
      }, "Replay")
      : null,
    out,
    h("h2", {}, "Raw body"),
    d.body === null ? h("p", { class: "muted" }, "The raw body was dropped (RAW_BODY_RETENTION_DAYS).") : h(
      "pre",
      { "aria-label": "Raw body, secrets redacted", tabindex: "0" },
      typeof d.body === "string" ? d.body : JSON.stringify(d.body, null, 2),
    ),
    s.body_scrubbed_at
      ? h("p", { class: "muted" }, "A person was erased from this body: it can no longer be replayed.")
      : null,
  );
}
