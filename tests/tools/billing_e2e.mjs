// Buy a plan in the web app in headless Chromium like a person: sign up, open Plans & billing, choose PRO, type a
// card into the Stripe.js stand-in the Stripe emulator serves, subscribe, and wait for the paid invoice's credits.
// Usage: node tests/tools/billing_e2e.mjs <web url> <output dir>; prints one JSON line.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openPage, signUp } from "./browser.mjs";

const [webUrl, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });

const result = { ok: false, steps: [], consoleErrors: [], violations: [] };
const step = (name) => { result.steps.push(name); };
const { browser, page } = await openPage(result);
page.on("dialog", (dialog) => dialog.accept());
page.setDefaultTimeout(60_000); // a loaded machine: webhooks and polling can take a while

try {
  await page.goto(webUrl);
  await signUp(page, "Buyer");
  result.creditsBefore = await page.getByTestId("credits").textContent();
  step("registered");

  await page.getByTestId("tier").click();
  await page.getByRole("heading", { name: "Plans & billing" }).waitFor();
  await page.locator('[data-plan="PRO"] button').waitFor();
  result.tierBefore = await page.getByTestId("current-tier").textContent();
  await page.locator('[data-plan="PRO"] button').click();
  const card = page.getByTestId("card-element");
  await card.locator('input[placeholder="number"]').waitFor();
  step("checkout open");
  await card.locator('input[placeholder="number"]').fill("4242424242424242");
  await card.locator('input[placeholder="exp_month"]').fill("12");
  await card.locator('input[placeholder="exp_year"]').fill("34");
  await card.locator('input[placeholder="cvc"]').fill("123");
  await card.locator('input[placeholder="postal_code"]').fill("75001");
  await page.getByTestId("pay").click();
  await page.waitForFunction(() => document.querySelector('[data-testid="current-tier"]')?.textContent === "PRO");
  step("subscribed");
  await page.waitForFunction((before) => document.querySelector('[data-testid="credits"]')?.textContent !== before,
    result.creditsBefore);
  await page.locator('[data-testid="invoices"] tr[data-status="paid"]').waitFor();
  result.creditsAfter = await page.getByTestId("credits").textContent();
  result.headerTier = await page.getByTestId("tier").textContent();
  result.status = await page.getByTestId("subscription-status").textContent();
  result.invoices = await page.locator('[data-testid="invoices"] tbody tr').count();
  result.ledger = await page.locator('[data-testid="ledger"] tbody tr').allTextContents();
  step("invoice paid");

  await page.getByRole("button", { name: "Cancel subscription" }).click();
  await page.getByTestId("cancelled").waitFor();
  await page.getByRole("button", { name: "Resume" }).click();
  await page.getByRole("button", { name: "Cancel subscription" }).waitFor();
  step("cancelled and resumed");
  result.violations = await page.evaluate(() => window.__violations);
  await page.screenshot({ path: join(outDir, "billing.png"), fullPage: true });
  result.ok = true;
} catch (error) {
  result.error = String(error);
  result.failureScreenshot = join(outDir, "failure.png");
  await page.screenshot({ path: result.failureScreenshot, fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
