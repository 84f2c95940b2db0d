/**
 * A real headless Chromium for the dashboard tests, wherever the suite runs: `CHROMIUM_PATH`, else a
 * system Chromium or Chrome, else (Linux x64, a machine with only Node.js) the Chromium that the npm
 * package `@sparticuz/chromium` ships inside itself. Nothing is skipped: without any of these the
 * test fails with what to install. Also what every screen is held to: the text a person sees, and an
 * accessibility audit.
 */
import assert from "node:assert/strict";
import { AxeBuilder } from "@axe-core/playwright";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where a system Chromium or Chrome usually lives. */
const SYSTEM_BROWSERS = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

/** Flags for a headless browser on a machine whose network reaches nothing but loopback. */
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const exists = (path: string) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
};

/** The browser to drive, and where it came from (for the failure message). */
export async function findChromium(): Promise<{ path: string; source: string }> {
  const given = Deno.env.get("CHROMIUM_PATH")?.trim();
  if (given) {
    if (!exists(given)) throw new Error(`CHROMIUM_PATH is set to ${given}, but there is no file there.`);
    return { path: given, source: "CHROMIUM_PATH" };
  }
  const system = SYSTEM_BROWSERS.find(exists);
  if (system) return { path: system, source: "system" };
  if (Deno.build.os === "linux" && Deno.build.arch === "x86_64") {
    // Unpacks the browser the package ships (once, into the temp directory).
    const { default: packaged } = await import("@sparticuz/chromium");
    return { path: await packaged.executablePath(), source: "@sparticuz/chromium" };
  }
  throw new Error(
    `The dashboard tests need Chromium or Chrome, and none was found (looked at CHROMIUM_PATH and ${
      SYSTEM_BROWSERS.join(", ")
    }; the npm fallback @sparticuz/chromium is for Linux x64 only, and this is ${Deno.build.os} ${Deno.build.arch}). ` +
      "Install Chrome or Chromium (Debian/Ubuntu: apt-get install chromium; macOS: brew install --cask chromium), " +
      "or set CHROMIUM_PATH to its executable.",
  );
}

export async function launchChromium(): Promise<Browser> {
  const { path, source } = await findChromium();
  try {
    return await chromium.launch({ executablePath: path, args: ARGS });
  } catch (error) {
    throw new Error(
      `Chromium from ${source} (${path}) did not start: ${
        error instanceof Error ? error.message : error
      }\nSet CHROMIUM_PATH to a Chromium or Chrome that runs here.`,
    );
  }
}

/**
 * Text that means the page printed a value it should have rendered: an element or object as a
 * string, a missing value, a failed number, a null. Raw bodies (`pre`) may hold JSON `null`.
 */
const BROKEN_TEXT = /\[object|\bundefined\b|\bNaN\b|\bnull\b/;

/** The visible text nodes of the page outside `pre`, that look like a value rendered wrongly. */
export async function brokenText(page: Page): Promise<string[]> {
  // Runs in the page (a string, since Deno's types have no DOM).
  const texts: string[] = await page.evaluate(`(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || el.closest("pre, script, style, noscript") || !el.checkVisibility()) continue;
      out.push(node.nodeValue);
    }
    return out;
  })()`);
  return texts.filter((t) => BROKEN_TEXT.test(t));
}

/**
 * What every screen a test visits is held to: no value rendered wrongly in what a person sees, and
 * no serious or critical accessibility violation (axe-core).
 */
export async function assertScreen(page: Page, screen: string): Promise<void> {
  assert.deepEqual(await brokenText(page), [], `${screen}: the visible text shows a broken value`);
  const audit = await new AxeBuilder({ page }).analyze();
  const serious = audit.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(serious, [], `${screen}: accessibility violations`);
}
