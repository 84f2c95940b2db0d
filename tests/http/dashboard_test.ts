/**
 * The dashboard in a real headless Chromium (found or fetched by `tests/_browser.ts`, driven by
 * playwright-core) against the service on a real port: sign in, add a client, send it a signed
 * webhook, see the Job and its timeline, replay a quarantined submission, sign out; a client in a
 * broken state. Every screen is read as a person sees it and audited for accessibility. It also
 * takes screenshots into tests/screenshots/ (ignored by git, so a run leaves the tree as it was);
 * docs/screenshots/ keeps copies of them for docs/operations.md.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { assertScreen, launchChromium } from "../_browser.ts";
import { FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";
import {
  addClient,
  ADMIN_TOKEN,
  bookingCreated,
  calcomBody,
  type ClientView,
  FIXTURE_SECRET,
  found,
  postSigned,
  type TestServer,
  waitFor,
  withServer,
} from "../_helpers.ts";

const SCREENSHOTS = new URL("../screenshots/", import.meta.url).pathname;
Deno.mkdirSync(SCREENSHOTS, { recursive: true });
const SCREENSHOT = `${SCREENSHOTS}dashboard.png`;
const SCREENSHOT_JOB = `${SCREENSHOTS}dashboard-job.png`;

/** `expected`: console errors the test provokes on purpose (a refused token's 401 by default). */
async function withBrowser(fn: (page: Page) => Promise<void>, expected = ["status of 401"]): Promise<void> {
  const browser: Browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    // Nothing may be fetched from anywhere but the service itself.
    await page.route("**/*", (route) => {
      const url = new URL(route.request().url());
      return url.hostname === "127.0.0.1" ? route.continue() : route.abort();
    });
    await fn(page);
    assert.deepEqual(problems.filter((p) => !expected.some((e) => p.includes(e))), [], "no script errors");
  } finally {
    await browser.close();
  }
}

/** Opens one of a client's tabs and waits until it is the one shown. */
async function openTab(page: Page, tab: string) {
  await page.getByRole("link", { name: tab, exact: true }).click();
  await page.locator('nav.tabs a[aria-current="page"]', { hasText: tab }).waitFor();
  await page.locator("table").first().waitFor();
}

async function signIn(page: Page, server: TestServer) {
  await page.goto(`${server.url}/admin`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Clients" }).waitFor();
  await assertScreen(page, "clients");
}

Deno.test("dashboard in headless Chromium: sign in, add a client, a webhook becomes a Job with its timeline, replay, sign out", async () => {
  let secretSeen = "never-shown";
  await withServer({ port: true, mode: "inline" }, async (server) => {
    await withBrowser(async (page) => {
      // Nothing is shown without the token: the page is only a sign-in form.
      await page.goto(`${server.url}/admin#/clients/acme`);
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.getByLabel("Admin token").fill("wrong-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: "refused" }).waitFor();
      await assertScreen(page, "sign in, token refused");

      await signIn(page, server);
      await page.getByLabel("Slug").fill("acme");
      await page.getByLabel("Business name").fill("Acme Plumbing");
      await page.getByRole("button", { name: "Add client" }).click();
      await page.getByRole("heading", { name: "Set up the webhook in Cal.com" }).waitFor();
      const secret = (await page.locator("#secret-value").textContent())!;
      secretSeen = secret;
      assert.match(secret, /^whsec_/);
      await assertScreen(page, "client added, Cal.com steps");
      assert.ok(
        (await page.locator("#new-secret").textContent())!.includes(`${server.url}/webhooks/calcom/acme`),
      );

      // A signed booking to the running server, and a body that is quarantined.
      const deliver = (body: string) => postSigned(server.url, "acme", body, secret);
      assert.equal(await deliver(BOOKING), 202);
      const broken = calcomBody("BOOKING_CREATED", "2026-11-02T10:00:00.000Z", {
        startTime: "2026-11-20T10:00:00Z",
      });
      assert.equal(await deliver(broken), 422);

      await page.goto(`${server.url}/admin#/`);
      await page.getByRole("link", { name: "acme" }).click();
      await page.getByRole("heading", { name: "Acme Plumbing (acme)" }).waitFor();
      await page.getByRole("heading", { name: "Health" }).waitFor();
      await assertScreen(page, "client overview");
      await page.getByRole("link", { name: "Jobs", exact: true }).click();
      const jobLink = page.getByRole("link", { name: "Estimate dash-1" });
      await jobLink.waitFor();
      await assertScreen(page, "jobs");
      await page.screenshot({ path: SCREENSHOT, fullPage: false });
      // The CSV export downloads with the token, and is audited as the dashboard's.
      const [csv] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: "Export CSV" }).click(),
      ]);
      assert.equal(csv.suggestedFilename(), "acme-jobs.csv");
      const exported = await waitFor(
        "the export's audit line",
        () => server.logs.find((l) => l.includes('"client.export"')),
      );
      assert.equal(JSON.parse(exported).source, "dashboard");
      await jobLink.click();
      await page.getByRole("heading", { name: "Timeline" }).waitFor();
      const timeline = (await page.locator("ol.timeline").textContent())!;
      assert.match(timeline, /created/);
      assert.match(timeline, /webhook/);
      assert.match(timeline, /Status: — → scheduled/);
      await assertScreen(page, "job timeline");
      await page.screenshot({ path: SCREENSHOT_JOB, fullPage: true });

      // Search by email finds it; by another email nothing.
      await page.goto(`${server.url}/admin#/clients/acme/jobs?q=dana%40example.org`);
      await page.getByRole("link", { name: "Estimate dash-1" }).waitFor();
      assert.match(
        (await page.locator("tbody").textContent())!,
        /MDT|GMT-6|America/,
        "the attendee's own time",
      );
      await assertScreen(page, "jobs searched by email");
      for (const tab of ["Contacts", "Change log", "Missed webhooks"]) {
        await openTab(page, tab);
        await assertScreen(page, tab);
      }
      // The change log shows the Job's creation.
      await page.getByRole("link", { name: "Change log", exact: true }).click();
      await page.getByText("job.created").waitFor();

      // A token for the business's own systems: shown once, then it reads the feed; revoked, it is refused.
      await page.getByRole("link", { name: "Overview", exact: true }).click();
      await page.getByLabel("Name", { exact: true }).fill("dispatch system");
      await page.getByRole("button", { name: "Create token" }).click();
      const token = (await page.locator("#token-value").textContent())!;
      assert.match(token, /^cit_/);
      await assertScreen(page, "token created");
      const feed = await fetch(`${server.url}/api/v1/clients/acme/changes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(feed.status, 200);
      assert.equal((await feed.json()).items[0].type, "job.created");
      await page.reload();
      await page.getByRole("button", { name: "Revoke the token dispatch system" }).click();
      await page.getByRole("status").filter({ hasText: "revoked" }).waitFor();
      const refused = await fetch(`${server.url}/api/v1/clients/acme/changes`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await refused.body?.cancel();
      assert.equal(refused.status, 401);

      await page.goto(`${server.url}/admin#/clients/acme/submissions?status=quarantined`);
      await page.getByRole("navigation", { name: "Submission status" }).waitFor();
      await assertScreen(page, "quarantined submissions");
      await page.locator("table a").first().click();
      await page.getByRole("heading", { name: /^Submission/ }).waitFor();
      assert.match((await page.locator("pre").textContent())!, /startTime/);
      await assertScreen(page, "a submission's raw body");
      await page.getByRole("button", { name: "Replay" }).click();
      await page.getByRole("status").filter({ hasText: "Replayed: now quarantined" }).waitFor();
      await assertScreen(page, "replayed");

      // Readable on a phone: nothing wider than the screen but the scrolling tables.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${server.url}/admin#/clients/acme`);
      await page.getByRole("heading", { name: "Health" }).waitFor();
      // Runs in the page (a string, since Deno's types have no DOM).
      const overflow: number = await page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth",
      );
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
      await assertScreen(page, "client overview on a phone");
      await page.setViewportSize({ width: 1280, height: 900 });

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.length), 0, "the token is gone");
      await page.goto(`${server.url}/admin#/clients/acme/jobs`);
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
    });
    const replayed = await waitFor(
      "the replay's audit line",
      () => server.logs.find((l) => l.includes("submission.replay")),
    );
    assert.equal(JSON.parse(replayed).source, "dashboard");
    assert.ok(!replayed.includes(ADMIN_TOKEN));
    const created = found(server.logs.find((l) => l.includes('"client.create"')));
    assert.equal(JSON.parse(created).source, "dashboard", "audited as the dashboard");
    assert.ok(!server.logs.some((l) => l.includes(secretSeen)), "no secret in any log line");
  });
});

Deno.test("dashboard in headless Chromium: a broken client (payload template, signature failures, quarantined bodies) reads as a person expects", async () => {
  await withServer({ port: true, mode: "inline" }, async (server) => {
    await addClient(server, "broken", FIXTURE_SECRET);
    const post = async (body: string, secret = FIXTURE_SECRET) => {
      const res = await server.post("broken", body, secret);
      await res.body?.cancel();
      return res.status;
    };
    // A payload template (Cal.com sends what the template made of the booking), a body signed with
    // another secret, and a booking body this service cannot use.
    // (a later default body would tell that the template is gone, so the booking comes first).
    assert.equal(await post(BOOKING), 202);
    assert.equal(await post(BOOKING, "someone-elses-secret-0000"), 401);
    assert.equal(
      await post(calcomBody("BOOKING_CREATED", "2026-11-02T10:00:00.000Z", { startTime: "x" })),
      422,
    );
    assert.equal(await post("uid=abc&name=Pat"), 422);
    await withBrowser(async (page) => {
      await signIn(page, server);
      await page.getByRole("link", { name: "broken" }).waitFor();
      assert.match((await page.locator("tbody").textContent())!, /payload template detected/);
      await page.getByRole("link", { name: "broken" }).click();
      await page.getByRole("heading", { name: "Health" }).waitFor();
      const health = await page.locator("main").innerText();
      assert.match(health, /payload template detected: /);
      assert.match(health, /1 signature failures/);
      assert.match(health, /2 quarantined/);
      await assertScreen(page, "broken client overview");
      for (const tab of ["Jobs", "Contacts", "Submissions", "Change log", "Missed webhooks"]) {
        await openTab(page, tab);
        await assertScreen(page, `broken client ${tab}`);
      }
      await page.goto(`${server.url}/admin#/clients/broken/submissions?status=quarantined`);
      await page.getByRole("navigation", { name: "Submission status" }).waitFor();
      for (const n of [0, 1]) {
        await page.goto(`${server.url}/admin#/clients/broken/submissions?status=quarantined`);
        await page.locator("table a").nth(n).click();
        await page.getByRole("heading", { name: /^Submission/ }).waitFor();
        await page.getByRole("heading", { name: "Raw body" }).waitFor();
        await assertScreen(page, `broken client quarantined submission ${n + 1}`);
      }
      // An unknown client is an error a person can read.
      await page.goto(`${server.url}/admin#/clients/nobody`);
      await page.getByRole("heading", { name: "Something went wrong" }).waitFor();
      await assertScreen(page, "unknown client");
    }, ["status of 404"]);
  });
});

Deno.test("dashboard in headless Chromium: an outbound endpoint is added, delivered to, shown with its attempts, disabled", async () => {
  const received: string[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push(await req.text());
    return new Response(null, { status: 204 });
  });
  try {
    await withServer(
      { port: true, mode: "inline", env: { OUTBOUND_ALLOW_PRIVATE: "true" } },
      async (server) => {
        await addClient(server, "acme", FIXTURE_SECRET);
        await withBrowser(async (page) => {
          await signIn(page, server);
          await page.goto(`${server.url}/admin#/clients/acme/endpoints`);
          await page.locator('nav.tabs a[aria-current="page"]', { hasText: "Endpoints" }).waitFor();
          await assertScreen(page, "endpoints, none yet");
          await page.locator("#endpoint-url").fill(`http://127.0.0.1:${hook.addr.port}/hook`);
          await page.getByRole("button", { name: "Add endpoint" }).click();
          assert.match((await page.locator("#endpoint-secret").textContent())!, /^whsec_/);
          await assertScreen(page, "endpoint added");
          const res = await server.post("acme", BOOKING);
          await res.body?.cancel();
          await waitFor("the delivery", () => received.length > 0 || undefined);
          await page.reload();
          await page.getByText("HTTP 204").waitFor();
          await assertScreen(page, "endpoint with its attempts");
          await page.getByRole("button", { name: "Send test event" }).click();
          await page.getByRole("status").filter({
            hasText: "Test event sent: the endpoint answered HTTP 204.",
          })
            .waitFor();
          assert.equal(JSON.parse(received.at(-1)!).test, true, "the receiver got the test event");
          await page.reload();
          await page.getByText("HTTP 204").nth(1).waitFor();
          await page.getByRole("button", { name: "Disable" }).click();
          await page.getByRole("status").filter({ hasText: "Disabled." }).waitFor();
          await page.reload();
          await page.getByRole("button", { name: "Enable" }).waitFor();
          await assertScreen(page, "endpoint disabled");
        });
      },
    );
  } finally {
    await hook.shutdown();
  }
});

Deno.test("dashboard: served with a strict CSP, no data without the token, values shown as text", async () => {
  await withServer({}, async (server) => {
    const res = await server.fetch("/admin");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
    const html = await res.text();
    assert.ok(!html.includes("acme"), "the page itself holds no data");
    const scripts = [...Deno.readDirSync(new URL("../../lib/http/dashboard/", import.meta.url))]
      .map((e) => e.name).filter((name) => name.endsWith(".js") && name !== "portal.js");
    assert.ok(scripts.length >= 5, "the dashboard's modules");
    for (const name of scripts) {
      const res = await server.fetch(`/admin/assets/${name}`);
      assert.equal(res.status, 200, `${name} is served`);
      const js = await res.text();
      assert.ok(
        !/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(js),
        `${name}: values only as DOM text`,
      );
      assert.match(js, /^\/\/ @ts-check/, `${name} is type-checked`);
    }
    assert.equal((await server.fetch("/admin/assets/../../main.ts")).status, 404);
  });
});

Deno.test("dashboard: webhook URLs under PUBLIC_URL, and without it a note that Cal.com needs a public https URL", async () => {
  await withServer({ env: { PUBLIC_URL: "https://intake.example.com/" } }, async (server) => {
    await addClient(server, "acme");
    const { body } = await server.admin<ClientView>("GET", "/admin/clients/acme");
    assert.equal(body.webhook_url, "https://intake.example.com/webhooks/calcom/acme");
    assert.equal(body.webhook_url_problem, null);
    const meta = await (await server.fetch("/admin/assets/api.json")).json();
    assert.equal(meta.webhook_url_problem, null);
    assert.equal(
      meta.operations.listJobs.path,
      "/admin/clients/:slug/jobs",
      "the table, served to the browser",
    );
  });
  await withServer({}, async (server) => {
    await addClient(server, "acme");
    const { body } = await server.admin<ClientView>("GET", "/admin/clients/acme");
    assert.equal(body.webhook_url, null);
    assert.match(body.webhook_url_problem ?? "", /public https:\/\/ URL/);
    const meta = await (await server.fetch("/admin/assets/api.json")).json();
    assert.match(meta.webhook_url_problem, /PUBLIC_URL is not set/);
  });
  await withServer({ env: { PUBLIC_URL: "http://intake.example.com" } }, async (server) => {
    await addClient(server, "acme");
    const { body } = await server.admin<ClientView>("GET", "/admin/clients/acme");
    assert.match(body.webhook_url_problem ?? "", /not https/);
  });
});

const BOOKING = bookingCreated("dash-1", "Dana@Example.org", "2026-11-01T10:00:00.000Z", {
  attendees: [{ email: "Dana@Example.org", name: "Dana <b>Bold</b>", timeZone: "America/Denver" }],
});

Deno.test("dashboard in headless Chromium: connect a client to Cal.com in one step, see its webhook switched off, repair it", async () => {
  const fake = startFakeCalcom();
  try {
    const env = { PUBLIC_URL: "https://intake.example.com", RECONCILE_BACKOFF_MS: "5" };
    await withServer({ port: true, mode: "inline", env }, async (server) => {
      await addClient(server, "acme");
      const key = await server.admin("PATCH", "/admin/clients/acme", {
        calcom_api_key: FAKE_API_KEY,
        calcom_api_url: fake.url,
      });
      assert.equal(key.status, 200);
      await withBrowser(async (page) => {
        await signIn(page, server);
        await page.getByRole("link", { name: "acme" }).click();
        await page.getByRole("heading", { name: "Webhook in Cal.com" }).waitFor();
        const result = page.locator("#calcom-webhook-result");
        await page.getByRole("button", { name: "Connect to Cal.com" }).click();
        await result.filter({ hasText: "Created webhook" }).waitFor();
        assert.equal(fake.userWebhooks().length, 1);
        assert.equal(fake.userWebhooks()[0].subscriberUrl, "https://intake.example.com/webhooks/calcom/acme");
        await assertScreen(page, "client connected to Cal.com");

        // Switched off in Cal.com: "Check now" says so, and the health shows it.
        fake.userWebhooks()[0].active = false;
        await page.getByRole("button", { name: "Check now" }).click();
        await result.filter({ hasText: "switched off" }).waitFor();
        await page.reload();
        await page.getByRole("heading", { name: "Webhook in Cal.com" }).waitFor();
        await page.getByText("calcom webhook inactive").first().waitFor();
        await assertScreen(page, "webhook switched off in Cal.com");
        await page.getByRole("button", { name: "Connect to Cal.com" }).click();
        await result.filter({ hasText: "Corrected webhook" }).waitFor();
        assert.equal(fake.userWebhooks()[0].active, true);
        const text = (await page.locator("main").textContent()) ?? "";
        assert.ok(
          !text.includes(FAKE_API_KEY) && !text.includes(fake.userWebhooks()[0].secret!),
          "no key or secret shown",
        );
      });
    });
  } finally {
    await fake.close();
  }
});

/** Visible text of `selector` (what a person reads there). */
const textOf = async (page: Page, selector: string) =>
  (await page.locator(selector).first().innerText()).trim();
/** A raw ISO 8601 time, as a person should never have to read one. */
const RAW_ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

Deno.test("dashboard in headless Chromium: what a new operator found (lists refresh, settings stick, times and names in words, phone width)", async () => {
  await withServer({ port: true, mode: "inline" }, async (server) => {
    await withBrowser(async (page) => {
      await signIn(page, server);
      await page.getByLabel("Slug").fill("acme");
      await page.getByRole("button", { name: "Add client" }).click();
      await page.getByRole("heading", { name: "Set up the webhook in Cal.com" }).waitFor();
      // The list shows the new client at once, and the form is empty again (no second add by accident).
      await page.getByRole("link", { name: "acme", exact: true }).waitFor();
      assert.equal(await page.getByLabel("Slug").inputValue(), "");
      const secret = (await page.locator("#secret-value").textContent())!;
      // Never set up: not "healthy".
      const row = await textOf(page, "tbody tr");
      assert.match(row, /not set up: no delivery yet/);
      assert.doesNotMatch(row, /healthy/);
      assert.match(row, /0 jobs/);
      await assertScreen(page, "a client just added");

      // Settings, saved from the dashboard, read back after a reload and through the API.
      await page.getByRole("link", { name: "acme", exact: true }).click();
      await page.getByRole("heading", { name: "Health" }).waitFor();
      await page.getByLabel("Business time zone").fill("Asia/Tokyo");
      await page.getByLabel("Alarm after days without a delivery").fill("5");
      await page.getByRole("button", { name: "Save settings" }).click();
      await page.getByRole("status").filter({ hasText: "Settings saved." }).waitFor();
      await page.reload();
      await page.getByRole("heading", { name: "Health" }).waitFor();
      assert.equal(await page.getByLabel("Business time zone").inputValue(), "Asia/Tokyo");
      assert.equal(await page.getByLabel("Alarm after days without a delivery").inputValue(), "5");
      const client = await server.admin<ClientView>("GET", "/admin/clients/acme");
      assert.deepEqual([client.body.time_zone, client.body.silence_days], ["Asia/Tokyo", 5]);

      // A token: shown once, listed at once, the form cleared.
      await page.getByLabel("Name", { exact: true }).fill("dispatch system");
      await page.getByRole("button", { name: "Create token" }).click();
      await page.locator("#token-value").waitFor();
      await page.getByRole("button", { name: "Revoke the token dispatch system" }).waitFor();
      assert.equal(await page.getByLabel("Name", { exact: true }).inputValue(), "");
      // A rotation: the new secret is listed beside the old one at once.
      await page.getByRole("button", { name: "Rotate: add a new secret" }).click();
      await page.locator("#secret-value").waitFor();
      await waitFor(
        "two secrets listed",
        async () => (await page.getByRole("button", { name: "Retire" }).count()) === 2,
      );
      await assertScreen(page, "token created, secret rotated");

      // A booking, then its reschedule: the timeline and the change log in Tokyo time, in words.
      for (
        const body of [
          BOOKING,
          calcomBody("BOOKING_RESCHEDULED", "2026-11-01T11:00:00.000Z", {
            uid: "dash-1-r",
            rescheduleUid: "dash-1",
            title: "Estimate dash_1 (moved)",
            startTime: "2026-11-21T10:00:00Z",
            endTime: "2026-11-21T11:00:00Z",
            attendees: [{ email: "dana@example.org", name: "Dana" }],
          }),
        ]
      ) {
        assert.equal(await postSigned(server.url, "acme", body, secret), 202);
      }
      await page.goto(`${server.url}/admin#/clients/acme/jobs`);
      await page.getByRole("link", { name: "Estimate dash_1 (moved)" }).waitFor();
      assert.match(await textOf(page, "caption"), /^1 job$/);
      await page.getByRole("link", { name: "Estimate dash_1 (moved)" }).click();
      await page.getByRole("heading", { name: "Timeline" }).waitFor();
      const timeline = await textOf(page, "ol.timeline");
      assert.doesNotMatch(timeline, RAW_ISO, timeline);
      assert.doesNotMatch(
        timeline,
        /start_time|end_time|calcom_event_id/,
        `field names in words: ${timeline}`,
      );
      assert.match(
        timeline,
        /Title: Estimate dash-1 → Estimate dash_1 \(moved\)/,
        "values are shown as they are",
      );
      assert.match(timeline, /Start: .*GMT\+9/);
      await page.goto(`${server.url}/admin#/clients/acme/changes`);
      await page.getByText("job.rescheduled").waitFor();
      const changes = await textOf(page, "tbody");
      assert.doesNotMatch(changes, RAW_ISO, changes);
      assert.doesNotMatch(changes, /start_time|end_time|calcom_event_id/, changes);
      assert.match(changes, /GMT\+9/);
      await assertScreen(page, "change log in the business's time");
      await page.goto(`${server.url}/admin#/clients/acme/submissions`);
      await page.getByRole("navigation", { name: "Submission status" }).waitFor();
      await page.locator("tbody a").first().click();
      await page.getByRole("heading", { name: /^Submission/ }).waitFor();
      assert.match(await textOf(page, "dl.fields"), /Received\s+.*GMT\+9/, "a submission's times too");

      // Recover without a date says what it needs.
      await page.goto(`${server.url}/admin#/clients/acme/endpoints`);
      await page.getByRole("heading", { name: "Add an endpoint" }).waitFor();
      await page.locator("#endpoint-url").fill("https://hooks.example.com/calcom");
      await page.getByRole("button", { name: "Add endpoint" }).click();
      await page.locator("#endpoint-secret").waitFor();
      await page.getByRole("region", { name: "Endpoint https://hooks.example.com/calcom" }).waitFor();
      assert.equal(await page.locator("#endpoint-url").inputValue(), "");
      await page.getByRole("button", { name: "Recover" }).click();
      // Said beside the endpoint's Recover button, not under "Add an endpoint".
      await page.getByRole("region", { name: "Endpoint https://hooks.example.com/calcom" }).getByRole("alert")
        .filter({ hasText: "Recover needs a date and time" }).waitFor();
      await assertScreen(page, "recover without a date");

      // On a phone, every table's key columns are on the screen (rows become labelled cards).
      await page.setViewportSize({ width: 390, height: 844 });
      for (
        const [path, key, shown] of [["/", "Health", "acme"], [
          "/clients/acme/jobs",
          "Title",
          "Estimate dash_1 (moved)",
        ]]
      ) {
        await page.goto(`${server.url}/admin#${path}`);
        await page.getByRole("link", { name: shown, exact: true }).waitFor();
        const cells = await page.locator("tbody tr").first().locator("td").all();
        assert.ok(cells.length >= 5, path);
        for (const cell of cells) {
          const box = await cell.boundingBox();
          if (!box) continue; // an empty cell takes no room
          assert.ok(box.x >= 0 && box.x + box.width <= 390, `${path}: a cell runs off a phone's screen`);
        }
        // Runs in the page (a string, since Deno's types have no DOM).
        const labels: string[] = await page.evaluate(
          `[...document.querySelectorAll("tbody tr:first-child td")].map((td) => getComputedStyle(td, "::before").content)`,
        );
        assert.ok(labels.includes(`"${key}"`), `${path}: cells are labelled (${labels.join(", ")})`);
        await assertScreen(page, `${path} on a phone`);
        if (path === "/") await page.screenshot({ path: `${SCREENSHOTS}dashboard-phone.png` });
      }
    });
  });
});
