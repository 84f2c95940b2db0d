/**
 * The client portal in a real headless Chromium against the service on a real port, as the business
 * sees it: the operator's link opens a session (the key leaves the address bar, the token stays in
 * the tab), every screen at desktop and phone width reads right and passes an accessibility audit,
 * the business adds an endpoint with chosen event types, sends it a test event and reads the
 * attempt, makes and revokes a token, cancels a Job in Cal.com (write-back), and signs out; the same
 * link opened again is refused. No
 * request the portal makes carries a key or token in its URL or a Referer.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { assertScreen, launchChromium } from "../_browser.ts";
import {
  addClient,
  ADMIN_TOKEN,
  bookingCreated,
  FIXTURE_SECRET,
  type TestServer,
  withServer,
} from "../_helpers.ts";
import { apiBooking, FAKE_API_KEY, startFakeCalcom } from "../_fake_calcom.ts";

const SCREENS = [
  ["/jobs", "Jobs"],
  ["/contacts", "Contacts"],
  ["/changes", "Changes"],
  ["/endpoints", "Webhooks"],
  ["/tokens", "API tokens"],
  ["/connection", "Cal.com connection"],
] as const;

async function portalLink(server: TestServer, capabilities: string[]): Promise<string> {
  const link = await server.admin<{ path: string }>("POST", "/admin/clients/acme/portal-links", {
    capabilities,
  });
  assert.equal(link.status, 201);
  return server.url + link.body.path;
}

Deno.test("client portal in headless Chromium: a link opens once, every screen at desktop and phone width, endpoints, tokens", async () => {
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    await req.body?.cancel();
    return new Response("thanks", { status: 200 });
  });
  await withServer(
    { port: true, mode: "inline", env: { OUTBOUND_ALLOW_PRIVATE: "true" } },
    async (server) => {
      await addClient(server, "acme");
      const booked = await server.post("acme", bookingCreated("p-1", "pat@example.com"));
      await booked.body?.cancel();
      const url = await portalLink(server, ["endpoints", "secrets", "replay", "tokens"]);
      const key = url.split("#key=")[1];

      const browser = await launchChromium();
      try {
        const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
        const page = await context.newPage();
        const problems: string[] = [];
        const requests: { url: string; referer: string | null }[] = [];
        page.on("pageerror", (e) => problems.push(String(e)));
        page.on(
          "console",
          (m) => m.type() === "error" && !m.text().includes("status of 410") && problems.push(m.text()),
        );
        page.on("request", (r) => requests.push({ url: r.url(), referer: r.headers()["referer"] ?? null }));
        await page.route("**/*", (route) => {
          const target = new URL(route.request().url());
          return target.hostname === "127.0.0.1" ? route.continue() : route.abort();
        });

        const shell = await page.goto(url);
        const csp = shell?.headers()["content-security-policy"] ?? "";
        assert.match(csp, /script-src 'self'/);
        assert.doesNotMatch(csp, /unsafe-inline/);
        assert.equal(shell?.headers()["referrer-policy"], "no-referrer");
        await page.getByRole("heading", { name: "Jobs" }).waitFor();
        assert.ok(!page.url().includes(key), "the key left the address bar");
        const token: string = await page.evaluate(`sessionStorage.getItem("calcom-intake-portal-session")`);
        assert.match(token, /^cps_/);

        // Every screen, at desktop and at phone width.
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: width > 400 ? 900 : 844 });
          for (const [path, heading] of SCREENS) {
            await page.goto(`${server.url}/portal/#${path}`);
            await page.getByRole("heading", { name: heading, exact: true }).waitFor();
            await assertScreen(page, `${path} at ${width}px`);
            const overflow: number = await page.evaluate(
              "document.documentElement.scrollWidth - window.innerWidth",
            );
            assert.ok(overflow <= 0, `${path} is ${overflow}px wider than ${width}px`);
          }
        }
        await page.setViewportSize({ width: 1280, height: 900 });

        // A Job and its timeline; a search that finds nothing says what to do.
        await page.goto(`${server.url}/portal/#/jobs`);
        await page.locator("tbody a").first().click();
        await page.getByRole("heading", { name: "Timeline" }).waitFor();
        await assertScreen(page, "a Job");
        await page.goto(`${server.url}/portal/#/jobs?email=nobody%40example.com`);
        await page.getByText("No Job matches this search").waitFor();

        // The business adds an endpoint for cancellations only, sends it a test event, reads the attempt.
        await page.goto(`${server.url}/portal/#/endpoints`);
        await page.getByText("No endpoints yet").waitFor();
        await page.getByLabel("URL").fill(`http://127.0.0.1:${hook.addr.port}/hooks`);
        await page.locator("fieldset.event-types label", { hasText: "job.cancelled" }).first().click();
        await page.getByText("Schema and example of job.cancelled").first().click();
        await page.getByRole("button", { name: "Add endpoint" }).click();
        const secret = (await page.locator("#endpoint-secret").textContent())!;
        assert.match(secret, /^whsec_/);
        await assertScreen(page, "endpoint added");
        await page.getByRole("button", { name: "Send test event" }).click();
        await page.getByRole("status").filter({ hasText: "the endpoint answered HTTP 200" }).waitFor();
        await page.getByText("Show", { exact: true }).first().click();
        await page.locator("td pre", { hasText: "webhook-id: test_" }).waitFor();
        await page.locator("td pre", { hasText: "thanks" }).waitFor();
        await assertScreen(page, "an attempt's request and answer");
        await page.getByRole("button", { name: "Show secret" }).click();
        assert.equal(await page.locator("#endpoint-secret").textContent(), secret);

        // A token for a developer, shown once, then revoked.
        await page.goto(`${server.url}/portal/#/tokens`);
        await page.getByText("No tokens yet").waitFor();
        await page.getByLabel("Who uses it").fill("our developer");
        await page.getByLabel("jobs:read").check();
        await page.getByRole("button", { name: "Make token" }).click();
        const made = (await page.locator("#new-token").textContent())!;
        assert.match(made, /^cit_/);
        await assertScreen(page, "token made");
        await page.getByRole("button", { name: "Revoke our developer" }).click();
        await page.getByRole("status").filter({ hasText: "Revoked" }).waitFor();

        // Keyboard: from the heading, Tab reaches the form's fields and its button.
        const reached: string[] = [];
        for (let i = 0; i < 30 && !reached.includes("Make token"); i++) {
          await page.keyboard.press("Tab");
          reached.push(
            await page.evaluate("document.activeElement?.textContent || document.activeElement?.id || ''"),
          );
        }
        assert.ok(reached.includes("token-name") && reached.includes("Make token"), `Tab reached ${reached}`);

        // Nothing the portal asked for carried the key or the token in its URL, or any Referer.
        for (const r of requests) {
          assert.ok(!r.url.includes(key) || r.url.includes("#"), `a request URL held the key: ${r.url}`);
          assert.ok(
            !new URL(r.url).search.includes(key) && !r.url.includes(token),
            `a URL held a secret: ${r.url}`,
          );
          assert.equal(r.referer, null, `${r.url} was sent a Referer`);
        }
        const logs = server.logs.join("\n");
        assert.ok(!logs.includes(key) && !logs.includes(token), "no key or token in the service's logs");

        // Signing out ends the session on the service too.
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByRole("heading", { name: "Signed out" }).waitFor();
        const refused = await fetch(`${server.url}/api/v1/clients/acme/jobs`, {
          headers: { authorization: `Bearer ${token}` },
        });
        await refused.body?.cancel();
        assert.equal(refused.status, 401);

        // The same link, opened again in a fresh tab: refused, with what to do.
        const again = await context.newPage();
        again.on(
          "console",
          (m) => m.type() === "error" && !m.text().includes("status of 410") && problems.push(m.text()),
        );
        await again.goto(url);
        await again.getByRole("heading", { name: "This link cannot be opened" }).waitFor();
        await again.getByText("was used already").waitFor();
        await assertScreen(again, "a used link");
        assert.deepEqual(problems, [], "no script errors");
      } finally {
        await browser.close();
      }
    },
  );
  await hook.shutdown();
});

Deno.test("client portal in headless Chromium: the operator's dashboard makes a view-only link; it offers nothing more", async () => {
  await withServer({ port: true, mode: "inline" }, async (server) => {
    await addClient(server, "acme");
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const operator = await context.newPage();
      await operator.goto(`${server.url}/admin#/clients/acme`);
      await operator.getByLabel("Admin token").fill(ADMIN_TOKEN);
      await operator.getByRole("button", { name: "Sign in" }).click();
      await operator.getByRole("heading", { name: "Client portal" }).waitFor();
      await operator.getByRole("button", { name: "Make portal link" }).click();
      const url = (await operator.locator("#portal-url").textContent())!;
      assert.match(url, /\/portal\/#key=cpl_/);
      await assertScreen(operator, "the operator's portal link");

      const page: Page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } }))
        .newPage();
      await page.goto(url);
      await page.getByRole("heading", { name: "Jobs" }).waitFor();
      assert.equal(await page.getByRole("link", { name: "API tokens" }).count(), 0, "no tokens tab");
      await page.goto(`${server.url}/portal/#/endpoints`);
      await page.getByRole("heading", { name: "Webhooks" }).waitFor();
      await page.getByText("Ask for a portal link that may manage endpoints").waitFor();
      assert.equal(await page.getByRole("button", { name: "Add endpoint" }).count(), 0);
      await assertScreen(page, "view-only webhooks");

      // The operator ends every session: the business's next step is refused, and it is told why.
      await operator.reload();
      await operator.getByRole("button", { name: "End all portal sessions" }).click();
      await operator.getByRole("status").filter({ hasText: "Ended 1 session(s)" }).waitFor();
      await page.getByRole("link", { name: "Contacts" }).click();
      await page.getByRole("heading", { name: "Signed out" }).waitFor();
      await page.getByText("This portal session has ended").waitFor();
    } finally {
      await browser.close();
    }
  });
});

Deno.test("client portal in headless Chromium: behind a proxy that serves the service under a path, links and calls stay under it", async () => {
  // The proxy serves the service at /intake/…; the service is told so by PUBLIC_URL.
  let upstream = "";
  const seen: string[] = [];
  // The proxy's own connections to the service, closed before the service stops: its graceful
  // shutdown waits for idle keep-alive connections (on Deno 2.5, for minutes).
  const pool = Deno.createHttpClient({});
  const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push(url.pathname);
    if (!url.pathname.startsWith("/intake/")) return new Response("not here", { status: 404 });
    const target = upstream + url.pathname.slice("/intake".length) + url.search;
    const res = await fetch(target, {
      client: pool,
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
    });
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  const publicUrl = `http://127.0.0.1:${proxy.addr.port}/intake`;
  try {
    await withServer({ port: true, mode: "inline", env: { PUBLIC_URL: publicUrl } }, async (server) => {
      upstream = server.url;
      await addClient(server, "acme");
      const link = await server.admin<{ url: string }>("POST", "/admin/clients/acme/portal-links", {
        capabilities: ["endpoints"],
      });
      assert.ok(link.body.url.startsWith(`${publicUrl}/portal/#key=`));
      const browser = await launchChromium();
      try {
        const page = await (await browser.newContext()).newPage();
        await page.goto(link.body.url);
        await page.getByRole("heading", { name: "Jobs" }).waitFor();
        await page.getByRole("link", { name: "Webhooks" }).click();
        await page.getByRole("heading", { name: "Webhooks" }).waitFor();
        await page.getByRole("link", { name: "Cal.com connection" }).click();
        await page.getByRole("heading", { name: "Cal.com connection" }).waitFor();
        await assertScreen(page, "the portal behind a proxy");
        const outside = seen.filter((p) => !p.startsWith("/intake/"));
        assert.deepEqual(outside, [], "every request stayed under the proxy's path");
        assert.ok(seen.includes("/intake/api/v1/clients/acme/connection"));
      } finally {
        await browser.close();
        pool.close();
      }
    });
  } finally {
    await proxy.shutdown();
  }
});

Deno.test("client portal in headless Chromium: a business cancels a Job and Cal.com follows (write-back)", async () => {
  const fake = startFakeCalcom();
  try {
    await withServer({ port: true, mode: "inline" }, async (server) => {
      const put = await server.admin("PUT", "/admin/clients/acme", {
        secret: FIXTURE_SECRET,
        calcom_api_key: FAKE_API_KEY,
        calcom_api_url: fake.url,
        write_back: true,
      });
      assert.ok(put.status < 300);
      fake.echo = { url: `${server.url}/webhooks/calcom/acme`, secret: FIXTURE_SECRET };
      const start = new Date(Date.now() + 5 * 86_400_000).toISOString();
      const end = new Date(Date.now() + 5 * 86_400_000 + 3600_000).toISOString();
      fake.put(apiBooking("wb-portal", { start, end, email: "pat@example.com" }));
      const booked = await server.post(
        "acme",
        bookingCreated("wb-portal", "pat@example.com", new Date().toISOString(), {
          startTime: start,
          endTime: end,
        }),
      );
      await booked.body?.cancel();
      const url = await portalLink(server, ["jobs"]);
      const browser = await launchChromium();
      try {
        const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
        page.on("dialog", (d) => d.accept());
        await page.goto(url);
        await page.locator("tbody a").first().click();
        await page.getByRole("heading", { name: "In Cal.com" }).waitFor();
        await assertScreen(page, "a Job with its write-back actions");
        await page.getByLabel("Reason").fill("Customer called");
        await page.getByRole("button", { name: "Cancel booking" }).click();
        await page.getByRole("status").filter({ hasText: "Sent to Cal.com" }).waitFor();
        await page.reload();
        await page.getByText("cancelled", { exact: true }).first().waitFor();
        assert.deepEqual(fake.actions.map((a) => a.action), ["cancel"]);
        assert.equal(
          await page.getByRole("button", { name: "Cancel booking" }).count(),
          0,
          "nothing left to cancel",
        );
        await assertScreen(page, "a cancelled Job");
      } finally {
        await browser.close();
      }
    });
  } finally {
    await fake.close();
  }
});
