// @ts-check
/// <reference lib="dom" />
/**
 * Building the page: elements whose values are always DOM text (never parsed as markup, so what a
 * booker typed is shown, never run), and the small pieces every screen is made of.
 */

/** A child of an element: a node, a value shown as text, nothing, or a (nested) list of them. */
/** @typedef {Node | string | number | boolean | null | undefined | unknown[]} Child */
/** @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => unknown)>} Attrs */

/**
 * Children as DOM nodes: nested lists flattened, null/undefined/false left out, everything else as
 * text. Everything put into the page goes through here (`replaceChildren` given an array or null
 * would print "[object …]" or "null").
 * @param {Child[]} children
 * @returns {Node[]}
 */
export function nodes(children) {
  return /** @type {unknown[]} */ (children.flat(Infinity))
    .filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
}

/**
 * An element with attributes (`on…` functions are listeners) and children.
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {Child[]} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  el.append(...nodes(children));
  return el;
}

/** @param {string} path @param {Child[]} text */
export const link = (path, ...text) => h("a", { href: "#" + path }, ...text);
export const enc = encodeURIComponent;

/** @param {string} text @param {string} [tone] */
export const badge = (text, tone = "") => h("span", { class: `badge ${tone}`.trim() }, text);

/** @param {string} message */
export const alertBox = (message) => h("p", { role: "alert" }, message);
/** @param {string} message */
export const status = (message) => h("p", { role: "status" }, message);

/**
 * "1 job", "2 jobs".
 * @param {number} n @param {string} one @param {string} [many]
 */
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * A table; an empty one says so. Each cell carries its column's name, so on a phone's width the
 * rows stack as cards with every column labelled instead of scrolling the key ones out of sight.
 * @param {string[]} headers
 * @param {Child[][]} rows
 * @param {string} [caption]
 * @param {string} [empty] what an empty table says (best: what to do to fill it)
 */
export function table(headers, rows, caption, empty = "Nothing yet.") {
  // A table wider than the screen scrolls inside its wrapper, which keyboard users must reach too.
  return h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption ?? headers.join(", ") },
    h(
      "table",
      {},
      caption ? h("caption", { class: "muted" }, caption) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h(
        "tbody",
        {},
        rows.length
          ? rows.map((r) => h("tr", {}, r.map((c, i) => h("td", { "data-label": headers[i] }, c))))
          : h(
            "tr",
            {},
            h("td", { colspan: headers.length, class: "muted" }, empty),
          ),
      ),
    ),
  );
}

/**
 * A list of labelled values; a missing value shows as "—".
 * @param {[string, Child][]} entries
 */
export function fields(entries) {
  return h(
    "dl",
    { class: "fields" },
    entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, isEmpty(v) ? "—" : v)]),
  );
}

/** @param {Child} v */
const isEmpty = (v) => v === null || v === undefined || v === "" || (Array.isArray(v) && v.length === 0);

/**
 * Shows a page in `main`: its heading gets the focus, so keyboard and screen-reader users land on it.
 * @param {string} title
 * @param {Child[]} content
 */
export function page(title, ...content) {
  document.title = `${title} · calcom-intake`;
  const heading = h("h1", { tabindex: "-1", id: "page-title" }, title);
  byId("main").replaceChildren(heading, ...nodes(content));
  heading.focus();
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`The page has no #${id}.`);
  return el;
}

/** How the current screen is drawn again (set by app.js to its router). */
let redraw = async () => {};
/** @param {() => Promise<void>} fn */
export function onRedraw(fn) {
  redraw = fn;
}

/**
 * Runs an action from a button or form; what it returns (or its error) shows in `target()`. With
 * `refresh`, a success draws the screen again first (lists show what changed, forms start empty,
 * so nothing is added twice by accident), and the answer shows in the new screen's element of the
 * same id.
 * @param {() => HTMLElement} target
 * @param {() => Promise<Child>} run
 * @param {{ refresh?: boolean }} [options]
 * @returns {(event?: Event) => Promise<void>}
 */
export function action(target, run, options = {}) {
  return async (event) => {
    event?.preventDefault();
    const out = target();
    out.replaceChildren(status("Working…"));
    let answer;
    try {
      answer = await run();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== "unauthorized") out.replaceChildren(alertBox(message));
      return;
    }
    if (options.refresh && out.id) {
      await redraw();
      const again = document.getElementById(out.id);
      again?.replaceChildren(...nodes([answer]));
      again?.scrollIntoView({ block: "nearest" });
    } else out.replaceChildren(...nodes([answer]));
  };
}

/** @param {string} text @param {string} label */
export function copyButton(text, label) {
  return h("button", {
    type: "button",
    class: "secondary",
    "aria-label": label,
    onclick: async (event) => {
      await navigator.clipboard?.writeText(text).catch(() => {});
      if (event.target instanceof HTMLElement) event.target.textContent = "Copied";
    },
  }, "Copy");
}

/**
 * A value shown once (a new token or signing secret): what it is, a copy button, and what to do.
 * @param {{ id: string, valueId: string, lead: string, label: string, value: string, more?: [string, Child][] }} shown
 */
export function shownOnce(shown) {
  return h(
    "div",
    { class: "panel important", id: shown.id },
    h("p", {}, h("strong", {}, `The ${shown.label.toLowerCase()} is shown only now.`), " ", shown.lead),
    fields([
      [shown.label, [
        h("code", { id: shown.valueId }, shown.value),
        " ",
        copyButton(shown.value, `Copy the ${shown.label.toLowerCase()}`),
      ]],
      ...(shown.more ?? []),
    ]),
  );
}

/**
 * A time in a time zone (UTC when none), or "—".
 * @param {string | null | undefined} iso
 * @param {string | null} [timeZone]
 */
export function when(iso, timeZone) {
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

/** An ISO 8601 time as the service writes them (what a change from or to a time holds). */
export const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Field names of Jobs as a person says them; others lose their underscores. */
const FIELD_NAMES = /** @type {Record<string, string>} */ ({
  start_time: "Start",
  end_time: "End",
  calcom_event_id: "Booking uid",
  previous_event_ids: "Earlier booking uids",
  booker_email: "Booker's email",
  booker_time_zone: "Booker's time zone",
  organizer_email: "Organizer",
  cancellation_reason: "Cancellation reason",
  rejection_reason: "Rejection reason",
  payment_status: "Payment",
  no_show_host: "Host no-show",
  event_type_id: "Event type",
});

/** @param {string} field */
export function fieldName(field) {
  const words = FIELD_NAMES[field] ?? field.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** @param {string | null | undefined} iso */
export function ago(iso) {
  if (!iso) return "never";
  const minutes = Math.round((Date.now() - Date.parse(iso)) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} days ago`;
}
