// Drive the web app in headless Chromium like a person: sign up, create a project, upload a GLB, optimise it, view it.
// Usage: node tests/tools/web_e2e.mjs <web url> <api url> <output dir> <model.glb> [<draco.glb>]; prints one JSON line.
// <draco.glb>, when given, is also opened in a second viewer on the page (the Draco decoder served locally).
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openPage, signUp } from "./browser.mjs";

const [webUrl, apiUrl, outDir, modelPath, dracoPath] = process.argv.slice(2);
if (!modelPath) {
  console.error("usage: node web_e2e.mjs <web url> <api url> <output dir> <model.glb>");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

const result = { ok: false, steps: [], consoleErrors: [] };
const step = (name) => { result.steps.push(name); };
const { browser, page } = await openPage(result);
page.setDefaultTimeout(30_000);
// Live progress: the job states pushed over the WebSocket, and every GET of one job (a poll) the page makes.
const pushed = [];
const jobGets = [];
page.on("websocket", (socket) => socket.on("framereceived", ({ payload }) => {
  try { const message = JSON.parse(payload); if (message.type === "job") pushed.push(message.job); } catch {}
}));
page.on("request", (request) => {
  if (request.method() === "GET" && /\/jobs\/[\w-]+$/.test(new URL(request.url()).pathname)) {
    jobGets.push({ path: new URL(request.url()).pathname, at: Date.now() });
  }
});

try {
  await page.goto(webUrl);
  result.configuredApi = await page.evaluate(async () => (await import("/config.js")).API_URL);
  if (result.configuredApi !== apiUrl) throw new Error(`config.js names ${result.configuredApi}, expected ${apiUrl}`);

  await signUp(page, "Web Tester");
  result.creditsBefore = await page.getByTestId("credits").textContent();
  step("registered");

  // API keys: created (shown once), listed by prefix and last 4, revoked
  await page.getByLabel("Key name").fill("browser key");
  await page.getByRole("button", { name: "Create key" }).click();
  const key = (await page.getByTestId("new-key").locator("code").textContent()).trim();
  const keyRow = page.locator(".api-keys li[data-key-id]", { hasText: "browser key" });
  await keyRow.waitFor();
  const keyListed = (await keyRow.textContent()).includes(`${key.slice(0, 8)}…${key.slice(-4)}`);
  const keyWorks = (await fetch(`${apiUrl}/users/me`, { headers: { Authorization: `Bearer ${key}` } })).status;
  await keyRow.getByRole("button", { name: "Revoke" }).click();
  await page.locator(".api-keys li.empty").waitFor();
  const keyAfterRevoke = (await fetch(`${apiUrl}/users/me`, { headers: { Authorization: `Bearer ${key}` } })).status;
  result.apiKey = { prefix: key.slice(0, 4), keyListed, keyWorks, keyAfterRevoke };
  step("API key created, used and revoked");

  await page.getByLabel("Project name").fill("Browser test");
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByRole("heading", { name: "Browser test" }).waitFor();
  step("project created");

  // Every job type's form shows one picker per input and one control per param of the contract (GET /job-types),
  // with the contract's defaults filled in.
  const jobTypes = await (await fetch(`${apiUrl}/job-types`)).json();
  const typeOptions = await page.locator("#job-type option").evaluateAll((options) => options.map((o) => o.value));
  if (JSON.stringify(typeOptions) !== JSON.stringify(Object.keys(jobTypes))) {
    throw new Error(`job types offered ${typeOptions}, contract ${Object.keys(jobTypes)}`);
  }
  result.forms = {};
  for (const [name, type] of Object.entries(jobTypes)) {
    await page.getByLabel("Job type").selectOption(name);
    await page.locator(`.job-form[data-type="${name}"]`).waitFor();
    const form = await page.locator(".job-form").evaluate((element) => ({
      inputs: [...element.querySelectorAll('[id^="job-input-"]')].map((e) => e.id.slice("job-input-".length)),
      params: [...element.querySelectorAll('[id^="job-param-"]')].map((e) => e.id.slice("job-param-".length)),
      values: Object.fromEntries([...element.querySelectorAll('[id^="job-param-"]')].map((e) => [e.id.slice("job-param-".length),
        e.type === "checkbox" ? e.checked : e.tagName === "FIELDSET" ? [...e.querySelectorAll("input:checked")].map((b) => b.value) : e.value])),
      cost: element.querySelector("label[for='job-type'] .muted").textContent,
    }));
    result.forms[name] = form;
    const expected = { inputs: Object.keys(type.inputs), params: Object.keys(type.params) };
    for (const key of ["inputs", "params"]) {
      if (JSON.stringify(form[key]) !== JSON.stringify(expected[key])) {
        throw new Error(`${name} form ${key}: shows ${form[key]}, contract ${expected[key]}`);
      }
    }
    for (const [param, spec] of Object.entries(type.params)) {
      if (!("default" in spec)) continue;
      const shown = form.values[param];
      const ok = typeof shown === "boolean" ? shown === spec.default
        : Array.isArray(spec.default) ? String(shown) === (Array.isArray(shown) ? String(spec.default) : spec.default.join(", "))
          : Number.isFinite(spec.default) ? Number(shown) === spec.default : shown === String(spec.default);
      if (!ok) throw new Error(`${name} ${param}: shows ${JSON.stringify(shown)}, contract default ${JSON.stringify(spec.default)}`);
    }
    if (!form.cost.includes(`${type.cost} credits`)) throw new Error(`${name} cost: ${form.cost}`);
  }
  step("job forms match the contract");

  await page.locator("#upload-file").setInputFiles(modelPath);
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator('.asset[data-status="READY"]').waitFor();
  step("uploaded and READY");

  await page.getByLabel("Job type").selectOption("OPTIMIZE");
  const model = page.locator("#job-input-modelAssetId");
  await model.selectOption({ index: 1 });
  await page.getByLabel("Reduce by").selectOption("ratio");
  await page.locator("#job-param-ratio").fill("0.5");
  const submittedAt = Date.now();
  await page.getByRole("button", { name: "Run job" }).click();
  const job = page.locator(".job").first();
  await job.waitFor();
  const seen = new Set();
  const shownProgress = [];
  const deadline = Date.now() + 90_000;
  let endedAt = null;
  while (Date.now() < deadline) {
    const status = await job.getAttribute("data-status");
    seen.add(status);
    const bar = await job.evaluate((element) => element.querySelector("progress")?.value ?? null);
    if (bar !== null && shownProgress.at(-1) !== Number(bar)) shownProgress.push(Number(bar));
    if (["COMPLETED", "FAILED", "CANCELLED"].includes(status)) { endedAt = Date.now(); break; }
    await page.waitForTimeout(100);
  }
  result.jobStatuses = [...seen];
  const jobId = await job.getAttribute("data-job-id");
  result.live = {
    transport: await page.getByTestId("jobs").getAttribute("data-transport"),
    pushed: pushed.filter((j) => j.id === jobId).map((j) => [j.status, j.progress]),
    foreign: pushed.filter((j) => j.id !== jobId).length,
    pollsWhileRunning: jobGets.filter((g) => g.path.endsWith(jobId) && (endedAt === null || g.at < endedAt - 1000)).length,
    shownProgress,
    secondsToEnd: ((endedAt || Date.now()) - submittedAt) / 1000,
  };
  result.jobStatus = await job.getAttribute("data-status");
  if (result.jobStatus !== "COMPLETED") throw new Error(`job ended ${result.jobStatus}: ${await job.textContent()}`);
  step("job COMPLETED");

  await job.locator('.output[data-format="glb"] button[data-action="view"]').first().click();
  const viewer = page.getByTestId("viewer");
  await page.locator('[data-testid="viewer"][data-loaded]').waitFor();
  result.triangles = Number(await viewer.getAttribute("data-loaded"));
  result.extensions = (await viewer.getAttribute("data-extensions") || "").split(" ").filter(Boolean);
  result.viewerInfo = await viewer.locator(".viewer-info").textContent();
  await page.waitForTimeout(500); // a few more frames after the load
  step("viewer loaded");

  if (dracoPath) {
    result.draco = await page.evaluate(async (base64) => {
      const { Viewer } = await import("/viewer.js");
      const box = document.createElement("div");
      box.style.cssText = "width:320px;height:240px";
      document.body.append(box);
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const url = URL.createObjectURL(new Blob([bytes], { type: "model/gltf-binary" }));
      const second = new Viewer(box);
      const triangles = await second.load(url, "draco");
      const extensions = box.dataset.extensions.split(" ");
      second.dispose();
      box.remove();
      return { triangles, extensions };
    }, readFileSync(dracoPath).toString("base64"));
    step("Draco GLB viewed");
  }
  result.creditsAfter = await page.getByTestId("credits").textContent();
  result.webgl = await page.evaluate(() => {
    const gl = document.querySelector('[data-testid="viewer"] canvas').getContext("webgl2");
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  });
  result.screenshot = join(outDir, "web-e2e.png");
  await page.screenshot({ path: result.screenshot, fullPage: true });
  result.viewerBox = await viewer.boundingBox();

  await page.reload(); // the access token lived in memory only: the session comes back through the refresh token
  await page.getByRole("heading", { name: "Browser test" }).waitFor();
  await page.locator('.job[data-status="COMPLETED"]').waitFor();
  step("session restored after reload");
  result.ok = true;
} catch (error) {
  result.error = String(error && error.stack || error);
  result.failureScreenshot = join(outDir, "web-e2e-failure.png");
  await page.screenshot({ path: result.failureScreenshot, fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
