// @ts-check
/// <reference lib="dom" />
/**
 * The operator's dashboard: a small browser app over the admin API (the same operations as the API
 * and the CLI, reached through `api.js`). This module signs in and out and routes `#/…` addresses
 * to the screens of `clients.js`, `records.js` and `endpoints.js`.
 */
import { call, TOKEN_KEY, whenRefused } from "./api.js";
import { clientOverview, renderClient, renderClients } from "./clients.js";
import { alertBox, byId, h, link, onRedraw, page } from "./dom.js";
import {
  clientChanges,
  clientContacts,
  clientJobs,
  clientMissed,
  clientSubmissions,
  renderJob,
  renderSubmission,
} from "./records.js";
import { clientEndpoints } from "./endpoints.js";

/** The tabs of a client's page. */
const CLIENT_VIEWS = {
  overview: clientOverview,
  jobs: clientJobs,
  contacts: clientContacts,
  submissions: clientSubmissions,
  changes: clientChanges,
  endpoints: clientEndpoints,
  missed: clientMissed,
};

/** @param {string} [message] */
function renderSignIn(message) {
  byId("nav").replaceChildren();
  const input = /** @type {HTMLInputElement} */ (h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
  }));
  const error = h("div", { id: "sign-in-error" }, message ? alertBox(message) : null);
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: async (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value);
        try {
          await call("listClients");
          await route();
        } catch (e) {
          const text = e instanceof Error ? e.message : String(e);
          if (text !== "unauthorized") error.replaceChildren(alertBox(text));
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

/** @param {string} message */
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (location.hash !== "" && location.hash !== "#/") history.replaceState(null, "", "#/");
  renderSignIn(message);
}

function renderNav() {
  byId("nav").replaceChildren(
    link("/", "Clients"),
    " ",
    h("button", { type: "button", class: "secondary", onclick: () => signOut("Signed out.") }, "Sign out"),
  );
}

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
      await renderClient(parts[1], parts[2] ?? "overview", params, CLIENT_VIEWS);
    } else await renderClients();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (text !== "unauthorized") page("Something went wrong", alertBox(text), link("/", "Back to clients"));
  }
}

whenRefused(signOut);
onRedraw(route);
addEventListener("hashchange", route);
route();
