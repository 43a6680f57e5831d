// Open a page in headless Chromium and report what its Content-Security-Policy blocked.
// Usage: node tests/tools/csp_check.mjs <page url>; prints one JSON line:
// {result: the page's body[data-result] (JSON) or null, violations: [...], consoleErrors: [...]}.
import { chromium } from "playwright-core";

const [url] = process.argv.slice(2);
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
  "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"];

const report = { result: null, violations: [], consoleErrors: [] };
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  page.on("console", (message) => { if (message.type() === "error") report.consoleErrors.push(message.text()); });
  page.on("pageerror", (error) => report.consoleErrors.push(String(error)));
  // recorded from the first script on, in every frame and worker the page starts
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
  });
  await page.goto(url);
  await page.waitForFunction(() => document.body && (document.body.dataset.result || document.body.dataset.error),
    null, { timeout: 60_000 });
  const body = await page.evaluate(() => ({ result: document.body.dataset.result, error: document.body.dataset.error }));
  report.result = body.result ? JSON.parse(body.result) : null;
  if (body.error) report.consoleErrors.push(body.error);
  report.violations = await page.evaluate(() => window.__violations);
} catch (error) {
  report.consoleErrors.push(String(error));
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
