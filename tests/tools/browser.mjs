// What the browser scripts share: a headless Chromium page that records console errors and Content-Security-Policy
// violations, and signing up in the web app as a person would.
import { chromium } from "playwright-core";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
  "--use-gl=angle", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"];

/** Launch Chromium (WebGL through SwiftShader) and open a page: console errors go to report.consoleErrors, and
 * window.__violations collects CSP violations from the first script on, in every frame. Returns {browser, page}. */
export async function openPage(report, viewport = { width: 1400, height: 1000 }) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const page = await browser.newPage({ viewport });
  page.on("console", (message) => { if (message.type() === "error") report.consoleErrors.push(message.text()); });
  page.on("pageerror", (error) => report.consoleErrors.push(String(error)));
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
  });
  return { browser, page };
}

/** Create an account on the web app's sign-in page (a fresh email each time) and wait for the projects page. */
export async function signUp(page, name) {
  await page.getByRole("button", { name: "New here? Create an account" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(`user-${Date.now()}-${Math.random().toString(16).slice(2, 8)}@example.com`);
  await page.getByLabel("Password").fill("correct horse battery staple");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Your projects" }).waitFor();
}
