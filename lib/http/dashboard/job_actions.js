// @ts-check
/// <reference lib="dom" />
/**
 * Write-back on a Job's page, shared by the dashboard and the portal: what is pending in Cal.com,
 * and the actions the Job's status allows (cancel, reschedule, mark no-shows, confirm, decline),
 * each one request with its own Idempotency-Key (`api.js`). Offered only where the tab may call
 * them (`can`); the service refuses them for a client whose operator has not turned write-back on.
 */
import { call, can } from "./api.js";
import { action, alertBox, h, status, when } from "./dom.js";

/**
 * @typedef {import("../../api/schemas.ts").JobAnswer} JobView
 * @typedef {import("./dom.js").Child} Child
 */

/** What a pending action says, in words. */
const PENDING_WORDS = /** @type {Record<string, string>} */ ({
  cancel: "cancelling",
  reschedule: "moving",
  no_show: "marking no-shows",
  confirm: "confirming",
  decline: "declining",
});

/**
 * @param {string} slug
 * @param {JobView} j
 * @param {string | null | undefined} timeZone
 * @param {boolean} enabled whether write-back is on for the client (off: only what is pending shows)
 * @returns {Child[]}
 */
export function jobActions(slug, j, timeZone, enabled) {
  const out = h("div", { id: "job-action-result" });
  const pending = j.pending_action
    ? h(
      "p",
      { class: "panel important", role: "status" },
      `Cal.com accepted ${PENDING_WORDS[j.pending_action.action]} this booking at ${
        when(j.pending_action.requested_at, timeZone)
      }; the Job changes when Cal.com confirms it.`,
    )
    : null;
  const params = { slug, id: j.id };
  /** @param {string} name @param {Record<string, unknown>} body @param {string} done */
  const send = (name, body, done) =>
    action(() => out, async () => {
      await call(name, { params, body });
      return status(done);
    }, { refresh: true });
  const open = enabled &&
    (j.status === "scheduled" || j.status === "requested" || j.status === "reschedule_requested");
  const forms = [];
  if (open && can("cancelJob")) {
    const reason =
      /** @type {HTMLInputElement} */ (h("input", { id: "cancel-reason", type: "text", maxlength: 500 }));
    forms.push(h(
      "form",
      {
        class: "inline",
        onsubmit: (/** @type {Event} */ event) => {
          event.preventDefault();
          if (!confirm("Cancel this booking in Cal.com? The attendees are told.")) return;
          return send("cancelJob", { reason: reason.value || undefined }, "Sent to Cal.com: cancelling.")(
            event,
          );
        },
      },
      h("label", { for: reason.id }, "Reason", reason),
      h("button", { type: "submit", class: "danger" }, "Cancel booking"),
    ));
  }
  if (enabled && j.status === "scheduled" && can("rescheduleJob")) {
    const start = /** @type {HTMLInputElement} */ (h("input", {
      id: "new-start",
      type: "datetime-local",
      required: true,
    }));
    forms.push(h(
      "form",
      {
        class: "inline",
        onsubmit: action(() => out, async () => {
          const at = new Date(start.value);
          if (Number.isNaN(at.getTime())) return alertBox("Choose the new start (in this browser's time).");
          await call("rescheduleJob", { params, body: { start: at.toISOString() } });
          return status(`Sent to Cal.com: moving to ${when(at.toISOString(), timeZone)}.`);
        }, { refresh: true }),
      },
      h("label", { for: start.id }, "New start", start),
      h("button", { type: "submit", class: "secondary" }, "Reschedule"),
    ));
  }
  if (enabled && j.status === "requested" && can("confirmJob")) {
    forms.push(
      h(
        "p",
        {},
        h(
          "button",
          { type: "button", onclick: send("confirmJob", {}, "Sent to Cal.com: confirming.") },
          "Confirm booking",
        ),
        " ",
        h("button", {
          type: "button",
          class: "secondary",
          onclick: send("declineJob", {}, "Sent to Cal.com: declining."),
        }, "Decline booking"),
      ),
    );
  }
  if (
    enabled && (j.status === "scheduled" || j.status === "completed") && can("noShowJob") &&
    j.attendees.length
  ) {
    forms.push(h(
      "p",
      {},
      j.attendees.filter((a) => !a.no_show).map((a) =>
        h("button", {
          type: "button",
          class: "secondary",
          onclick: send("noShowJob", { attendees: [a.email] }, `Sent to Cal.com: ${a.email} did not show.`),
        }, `Mark ${a.name ?? a.email} as no-show`)
      ),
    ));
  }
  // The answer's place stays when nothing is left to do (the action's own answer shows there).
  if (!pending && forms.length === 0) return [out];
  return [h("h2", {}, "In Cal.com"), pending, forms, out];
}
