// Open a page in headless Chromium and report what its Content-Security-Policy blocked.
// Usage: node tests/tools/csp_check.mjs <page url>; prints one JSON line:
// {result: the page's body[data-result] (JSON) or null, violations: [...], consoleErrors: [...]}.
import { openPage } from "./browser.mjs";

const [url] = process.argv.slice(2);
const report = { result: null, violations: [], consoleErrors: [] };
const { browser, page } = await openPage(report, { width: 800, height: 600 });
try {
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
