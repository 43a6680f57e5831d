// The creators' web app: sign-in, projects, uploads, jobs with live progress, outputs and the 3D viewer.
import * as api from "./api.js";
import { billingPage } from "./billing.js";
import { h, formatBytes, formatTime } from "./dom.js";
import { ACCEPT, KINDS, describeFile } from "./files.js";
import { formSpec, readForm } from "./jobforms.js";
import { followJobs } from "./live.js";
import { Viewer } from "./viewer.js";

const ACTIVE = new Set(["PENDING", "PROCESSING"]);

const app = document.getElementById("app");
const account = document.getElementById("account");
let page = null; // the mounted page's cleanup (stops its polling)

// ---------------------------------------------------------------- shell
/** Show a page: unmount the current one and mount the new one. */
function show(mount) {
  if (page) page();
  app.replaceChildren();
  page = mount(app) || null;
}

function route() {
  if (!api.hasSession()) return show(authPage);
  if (location.hash === "#/billing") return show((root) => billingPage(root, { errorBox, onChange: refreshAccount }));
  const match = /^#\/projects\/([\w-]+)$/.exec(location.hash);
  show(match ? (root) => projectPage(root, match[1]) : projectsPage);
}

async function refreshAccount() {
  if (!api.hasSession()) { account.replaceChildren(); return; }
  try {
    const [me, credits] = await Promise.all([api.call("GET", "/users/me"), api.call("GET", "/users/me/credits")]);
    const user = me.user || me;
    account.replaceChildren(
      h("span", { class: "credits", "data-testid": "credits" }, `${credits.balance} credits`),
      h("a", { class: "tier", href: "#/billing", "data-testid": "tier" }, credits.tier),
      h("span", { class: "who" }, user.name || user.email),
      h("button", { class: "link", onclick: signOut }, "Sign out"));
  } catch (error) {
    account.replaceChildren(h("span", { class: "error" }, error.message));
  }
}

async function signOut() {
  await api.logout();
  account.replaceChildren();
  location.hash = "#/";
  route();
}

function errorBox() {
  const box = h("p", { class: "error", role: "alert", hidden: true });
  box.show = (message) => { box.textContent = message; box.hidden = !message; };
  return box;
}

// ---------------------------------------------------------------- sign in / register
function authPage(root) {
  let registering = false;
  const name = h("input", { id: "auth-name", autocomplete: "name" });
  const nameRow = h("label", { for: "auth-name" }, "Name", name);
  const email = h("input", { id: "auth-email", type: "email", required: true, autocomplete: "email" });
  const password = h("input", { id: "auth-password", type: "password", required: true, minlength: "8" });
  const submit = h("button", { type: "submit", class: "primary" });
  const toggle = h("button", { type: "button", class: "link" });
  const error = errorBox();
  const title = h("h1");
  const render = () => {
    title.textContent = registering ? "Create your account" : "Sign in";
    submit.textContent = registering ? "Create account" : "Sign in";
    toggle.textContent = registering ? "I already have an account" : "New here? Create an account";
    nameRow.hidden = !registering;
    password.autocomplete = registering ? "new-password" : "current-password";
    error.show("");
  };
  toggle.addEventListener("click", () => { registering = !registering; render(); });
  const form = h("form", { class: "card auth", onsubmit: async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      if (registering) await api.register(email.value.trim(), password.value, name.value.trim() || email.value.trim());
      else await api.login(email.value.trim(), password.value);
      await refreshAccount();
      route();
    } catch (err) {
      error.show(err.message);
    } finally {
      submit.disabled = false;
    }
  } }, title, nameRow, h("label", { for: "auth-email" }, "Email", email),
  h("label", { for: "auth-password" }, "Password", password), error, submit, toggle);
  render();
  root.append(form);
}

// ---------------------------------------------------------------- projects
function projectsPage(root) {
  const list = h("ul", { class: "projects", "data-testid": "projects" });
  const error = errorBox();
  const name = h("input", { id: "project-name", required: true, maxlength: "100", placeholder: "e.g. Spring shoot" });
  const description = h("input", { id: "project-description", maxlength: "2000", placeholder: "optional" });

  const load = async () => {
    try {
      const data = await api.call("GET", "/projects?limit=100");
      list.replaceChildren(...(data.items.length ? data.items.map(projectCard)
        : [h("li", { class: "empty" }, "No projects yet: create one above.")]));
    } catch (err) {
      error.show(err.message);
    }
  };
  const projectCard = (project) => h("li", { class: "card project" },
    h("a", { href: `#/projects/${project.id}`, class: "project-name" }, project.name),
    h("p", { class: "muted" }, project.description || "—"),
    h("p", { class: "muted small" }, `Created ${formatTime(project.createdAt)}`),
    h("button", { class: "danger small", onclick: async () => {
      if (!confirm(`Delete “${project.name}” with all its files and jobs?`)) return;
      await api.call("DELETE", `/projects/${project.id}`).catch((err) => error.show(err.message));
      load();
    } }, "Delete"));

  const form = h("form", { class: "card inline-form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const project = await api.call("POST", "/projects", { name: name.value, description: description.value });
      location.hash = `#/projects/${project.id}`;
    } catch (err) {
      error.show(err.message);
    }
  } }, h("label", { for: "project-name" }, "Project name", name),
  h("label", { for: "project-description" }, "Description", description),
  h("button", { type: "submit", class: "primary" }, "Create project"));

  root.append(h("h1", {}, "Your projects"), form, error, list, apiKeysCard());
  load();
}

// ---------------------------------------------------------------- API keys
/** Create (shown once), list and revoke API keys for scripts and the CLI (`ai3d --api-key`). */
function apiKeysCard() {
  const error = errorBox();
  const list = h("ul", { class: "api-keys", "data-testid": "api-keys" });
  const shown = h("p", { class: "new-key", "data-testid": "new-key", hidden: true });
  const name = h("input", { id: "key-name", required: true, maxlength: "100", placeholder: "e.g. render farm" });
  const scopes = ["read", "jobs"].map((scope) => h("label", { class: "inline" },
    h("input", { type: "checkbox", name: "scope", value: scope, checked: true }), ` ${scope}`));
  const load = async () => {
    try {
      const data = await api.call("GET", "/api-keys");
      list.replaceChildren(...(data.items.length ? data.items.map((key) => h("li", { "data-key-id": key.id },
        h("strong", {}, key.name), ` ${key.prefix}…${key.last4} · ${key.scopes.join(", ")} · `,
        h("span", { class: "muted small" }, key.lastUsedAt ? `used ${formatTime(key.lastUsedAt)}` : "never used"),
        h("button", { class: "small danger", onclick: async () => {
          await api.call("DELETE", `/api-keys/${key.id}`).catch((err) => error.show(err.message));
          load();
        } }, "Revoke"))) : [h("li", { class: "empty" }, "No API keys.")]));
    } catch (err) {
      error.show(err.message);
    }
  };
  const form = h("form", { class: "inline-form", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const chosen = [...form.querySelectorAll("input[name=scope]:checked")].map((box) => box.value);
      const made = await api.call("POST", "/api-keys", { name: name.value, scopes: chosen });
      shown.hidden = false;
      shown.replaceChildren("New key (shown only now): ", h("code", {}, made.key));
      name.value = "";
      load();
    } catch (err) {
      error.show(err.message);
    }
  } }, h("label", { for: "key-name" }, "Key name", name), ...scopes,
  h("button", { type: "submit", class: "primary" }, "Create key"));
  load();
  return h("section", { class: "card" }, h("h2", {}, "API keys"), form, shown, error, list);
}

// ---------------------------------------------------------------- one project
function projectPage(root, projectId) {
  const state = { assets: [], jobs: new Map(), details: new Map(), stopped: false, timer: null };
  const title = h("h1", {}, "Project");
  const error = errorBox();
  const assetList = h("ul", { class: "assets", "data-testid": "assets" });
  const jobList = h("ul", { class: "jobs", "data-testid": "jobs" });
  const viewerBox = h("div", { class: "viewer", "data-testid": "viewer" });
  const jobForm = h("div");
  const viewer = new Viewer(viewerBox);

  const openInViewer = async (assetId, label) => {
    try {
      const asset = await api.call("GET", `/assets/${assetId}`);
      viewerBox.scrollIntoView({ behavior: "smooth", block: "nearest" });
      await viewer.load(asset.download.url, label || asset.filename);
    } catch (err) {
      error.show(`Viewer: ${err.message}`);
    }
  };

  // assets
  const loadAssets = async () => {
    const data = await api.call("GET", `/projects/${projectId}/assets?limit=100`);
    const choicesBefore = jobChoices();
    state.assets = data.items;
    assetList.replaceChildren(...(state.assets.length ? state.assets.map(assetRow)
      : [h("li", { class: "empty" }, "No files yet.")]));
    if (jobChoices() !== choicesBefore) renderJobForm(); // keep what the user typed unless the choices changed
  };
  const assetRow = (asset) => h("li", { class: "asset", "data-status": asset.status, "data-asset-id": asset.id },
    h("div", { class: "asset-main" },
      h("span", { class: "filename", title: asset.filename }, asset.filename),
      h("span", { class: `badge ${asset.status.toLowerCase()}` }, asset.status.replace("_", " ")),
      h("span", { class: "muted small" }, `${asset.kind} · ${asset.format || "?"} · ${formatBytes(asset.sizeBytes)}`
        + (asset.role ? ` · output ${asset.role}` : ""))),
    asset.rejectReason ? h("p", { class: "error small" }, asset.rejectReason) : null,
    h("div", { class: "actions" },
      asset.status === "READY" && asset.format === "glb"
        ? h("button", { class: "small", onclick: () => openInViewer(asset.id) }, "View 3D") : null,
      asset.status === "READY" ? h("button", { class: "small", onclick: async () => {
        const fresh = await api.call("GET", `/assets/${asset.id}`);
        window.open(fresh.download.url, "_blank");
      } }, "Download") : null,
      h("button", { class: "small danger", onclick: async () => {
        if (!confirm(`Delete ${asset.filename}?`)) return;
        await api.call("DELETE", `/assets/${asset.id}`).catch((err) => error.show(err.message));
        loadAssets();
      } }, "Delete")));

  const fileInput = h("input", { id: "upload-file", type: "file", accept: ACCEPT, required: true });
  const kindSelect = h("select", { id: "upload-kind" }, h("option", { value: "" }, "guess from extension"),
    ...KINDS.map((kind) => h("option", { value: kind }, kind)));
  const uploadBar = h("progress", { max: 1, value: 0, hidden: true, "data-testid": "upload-progress" });
  const uploadNote = h("span", { class: "muted small" });
  const uploadForm = h("form", { class: "upload", onsubmit: async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (file) await upload(file);
  } }, h("label", { for: "upload-file" }, "File", fileInput), h("label", { for: "upload-kind" }, "Kind", kindSelect),
  h("button", { type: "submit", class: "primary" }, "Upload"), uploadBar, uploadNote);

  const upload = async (file) => {
    const described = describeFile(file.name, kindSelect.value);
    if (!described) { error.show(`${file.name}: unsupported file type (accepted: ${ACCEPT})`); return; }
    error.show("");
    try {
      const ticket = await api.call("POST", `/projects/${projectId}/assets`,
        { filename: file.name, contentType: described.contentType, sizeBytes: file.size, kind: described.kind });
      await loadAssets();
      uploadBar.hidden = false;
      uploadNote.textContent = `Uploading ${file.name}…`;
      await api.uploadToS3(ticket.upload, file, (fraction) => { uploadBar.value = fraction; });
      uploadNote.textContent = "Checking the file…";
      let asset = ticket.asset;
      while (!state.stopped && asset.status === "PENDING_UPLOAD") {
        await sleep(700);
        asset = await api.call("GET", `/assets/${asset.id}`);
      }
      uploadNote.textContent = asset.status === "READY" ? `${file.name} is ready.` : `${file.name} was rejected.`;
      uploadForm.reset();
    } catch (err) {
      error.show(err.message);
      uploadNote.textContent = "";
    } finally {
      uploadBar.hidden = true;
      uploadBar.value = 0;
      if (!state.stopped) loadAssets();
    }
  };

  // running a job
  const jobChoices = () => JSON.stringify(state.assets.map((a) => [a.id, a.status]));
  const assetSelect = (id, kinds) => {
    const choices = state.assets.filter((a) => kinds.includes(a.kind) && a.status !== "REJECTED");
    return h("select", { id, required: true },
      h("option", { value: "" }, choices.length ? "choose a file…" : `no ${kinds.join(" / ")} files yet`),
      ...choices.map((a) => h("option", { value: a.id }, `${a.filename} (${a.status === "READY" ? a.format : "uploading"})`)));
  };
  const field = (label, control, hint) => h("label", { for: control.id }, label, control,
    hint ? h("span", { class: "muted small" }, hint) : null);

  // One control per input and param of the chosen type, built from GET /job-types (see jobforms.js).
  const inputControl = (input) => (input.control === "textarea"
    ? h("textarea", { id: input.id, required: true, rows: 2, maxlength: String(input.maxlength),
      placeholder: "a tall athletic woman in a red jacket" })
    : assetSelect(input.id, input.kinds));
  const paramControl = (param) => {
    if (param.control === "checkbox") return h("input", { id: param.id, type: "checkbox", checked: param.checked });
    if (param.control === "checkboxes") {
      return h("fieldset", { id: param.id, class: "choices" }, h("legend", {}, param.label),
        ...param.choices.map((choice) => h("label", {}, h("input", { id: `job-choice-${param.name}-${choice}`,
          type: "checkbox", value: choice, checked: param.checked.includes(choice) }), choice)));
    }
    if (param.control === "select") {
      return h("select", { id: param.id, required: param.required },
        param.blank ? h("option", { value: "" }, param.required ? "choose…" : "—") : null,
        ...param.choices.map((choice) => h("option", { value: choice, selected: choice === param.value }, choice)));
    }
    if (param.control === "number") {
      return h("input", { id: param.id, type: "number", min: param.min, max: param.max, step: param.step,
        value: param.value, placeholder: param.placeholder, required: param.required });
    }
    return h("input", { id: param.id, value: param.value, placeholder: param.placeholder, required: param.required });
  };
  /** Every control's value by id: strings, checkbox booleans, lists of checked choices. */
  const formValues = (form) => Object.fromEntries([...form.querySelectorAll("[id^='job-']")].map((element) => [element.id,
    element.tagName === "FIELDSET" ? [...element.querySelectorAll("input:checked")].map((box) => box.value)
      : element.type === "checkbox" ? element.checked : element.value]));
  const restoreValues = (form, values) => {
    for (const [id, value] of Object.entries(values)) {
      const element = id === "job-type" ? null : form.querySelector(`#${CSS.escape(id)}`);
      if (!element) continue;
      if (element.tagName === "FIELDSET") element.querySelectorAll("input").forEach((box) => { box.checked = value.includes(box.value); });
      else if (element.type === "checkbox") element.checked = value;
      else if (element.tagName !== "SELECT" || [...element.options].some((option) => option.value === value)) element.value = value;
    }
  };

  let jobTypes = null; // GET /job-types, once
  const typeSelect = h("select", { id: "job-type" });
  typeSelect.addEventListener("change", () => renderJobForm());
  const jobError = errorBox();
  function renderJobForm() {
    if (!jobTypes) return;
    const type = typeSelect.value;
    const spec = formSpec(jobTypes[type]);
    const old = jobForm.querySelector("form");
    const kept = old && old.dataset.type === type ? formValues(old) : null; // what the user typed, when re-rendering
    const submit = h("button", { type: "submit", class: "primary" }, "Run job");
    const row = (param) => (param.control === "checkboxes"
      ? h("div", { class: "field" }, paramControl(param), h("span", { class: "muted small" }, param.hint))
      : field(param.label, paramControl(param), param.hint));
    const rows = new Map(spec.params.map((param) => [param.name, row(param)]));
    const chooser = spec.oneOf ? h("select", { id: spec.oneOf.id },
      ...spec.oneOf.options.map((option) => h("option", { value: option.value }, option.label))) : null;
    const showChosen = () => {
      for (const param of spec.params.filter((p) => p.oneOf)) {
        const line = rows.get(param.name);
        const control = line.querySelector(`#${CSS.escape(param.id)}`);
        line.hidden = control.disabled = param.name !== chooser.value;
        control.required = !line.hidden;
      }
    };
    if (chooser) chooser.addEventListener("change", showChosen);
    const form = h("form", { class: "job-form", "data-type": type, onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      jobError.show("");
      try {
        const { inputs, params } = readForm(spec, formValues(form));
        const job = await api.call("POST", "/jobs", { projectId, type, inputs, params });
        state.jobs.set(job.id, job);
        renderJobs();
        refreshAccount();
        schedulePoll(live.connected() ? 30000 : 0); // connected: its changes are pushed
      } catch (err) {
        jobError.show(err.status === 402 ? `Not enough credits: ${err.message}` : err.message);
      } finally {
        submit.disabled = false;
      }
    } }, field("Job type", typeSelect, `costs ${spec.cost}`),
    ...spec.inputs.map((input) => field(input.label, inputControl(input))),
    chooser ? field(spec.oneOf.label, chooser) : null, ...rows.values(), jobError, submit);
    if (kept) restoreValues(form, kept);
    if (chooser) showChosen();
    jobForm.replaceChildren(form);
  }
  const loadJobTypes = async () => {
    try {
      jobTypes = await api.jobTypes();
      typeSelect.replaceChildren(...Object.keys(jobTypes).map((t) => h("option", { value: t }, t)));
      renderJobForm();
    } catch (err) {
      jobForm.replaceChildren(h("p", { class: "error" }, `Job types: ${err.message}`));
    }
  };

  // jobs and their outputs
  const rows = new Map(); // job id -> {key, element}: a row is rebuilt only when what it shows changed
  function renderJobs() {
    const jobs = [...state.jobs.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (!jobs.length) { jobList.replaceChildren(h("li", { class: "empty" }, "No jobs yet.")); return; }
    jobList.replaceChildren(...jobs.map((job) => {
      const detail = state.details.get(job.id);
      const key = JSON.stringify([job.status, job.stage, job.progress, job.progressMessage, detail?.outputs?.length]);
      const row = rows.get(job.id);
      if (row && row.key === key) return row.element;
      const element = jobRow(job, detail);
      rows.set(job.id, { key, element });
      return element;
    }));
  }
  const jobRow = (job, detail) => h("li", { class: "card job", "data-job-id": job.id, "data-status": job.status },
    h("div", { class: "job-head" },
      h("strong", {}, job.type),
      h("span", { class: `badge ${job.status.toLowerCase()}` }, job.status),
      h("span", { class: "muted small" }, `${job.creditsUsed} credits · ${formatTime(job.createdAt)}`),
      ACTIVE.has(job.status) ? h("button", { class: "small danger", onclick: async () => {
        await api.call("POST", `/jobs/${job.id}/cancel`).catch((err) => error.show(err.message));
        schedulePoll(0);
      } }, "Cancel") : null),
    ACTIVE.has(job.status) ? h("div", { class: "job-progress" },
      h("progress", { max: 100, value: job.progress }),
      h("span", { class: "muted small" }, `${job.stage || "queued"} · ${job.progress}%`
        + (job.progressMessage ? ` · ${job.progressMessage}` : ""))) : null,
    job.error ? h("p", { class: "error small" }, `${job.error.code}: ${job.error.message}`) : null,
    detail && detail.outputs.length ? h("ul", { class: "outputs" }, detail.outputs.map(outputItem)) : null);

  const outputItem = (output) => {
    const url = output.download && output.download.url;
    const preview = output.format === "mp4" ? h("video", { src: url, controls: true, preload: "metadata" })
      : output.format === "png" ? h("img", { src: url, alt: output.filename }) : null;
    return h("li", { class: "output", "data-format": output.format },
      h("div", { class: "output-head" },
        h("span", {}, `${output.role} · ${output.format} · ${formatBytes(output.sizeBytes)}`),
        output.format === "glb" ? h("button", { class: "small primary", "data-action": "view",
          onclick: () => openInViewer(output.assetId, output.filename) }, "View 3D") : null,
        url ? h("a", { href: url, download: output.filename, class: "button small" }, "Download") : null),
      preview);
  };

  const poll = async () => {
    if (state.stopped) return;
    try {
      const data = await api.call("GET", `/jobs?projectId=${projectId}&limit=100`);
      const refetch = []; // active jobs, and finished ones whose outputs (with download URLs) are not known yet
      for (const job of data.items) {
        if (ACTIVE.has(job.status) || !state.details.has(job.id)) refetch.push(job.id);
        state.jobs.set(job.id, job);
      }
      const details = await Promise.all(refetch.map((id) => api.call("GET", `/jobs/${id}`)));
      let ended = false;
      for (const detail of details) {
        state.jobs.set(detail.id, detail);
        if (!ACTIVE.has(detail.status)) { state.details.set(detail.id, detail); ended = true; }
      }
      renderJobs();
      if (ended) { loadAssets(); refreshAccount(); }
    } catch (err) {
      error.show(err.message);
    }
    // pushed over the WebSocket while it is connected: then a slow poll only as a safety net
    if ([...state.jobs.values()].some((job) => ACTIVE.has(job.status))) schedulePoll(live.connected() ? 30000 : 1000);
  };
  const onLiveJob = async (pushed) => {
    const known = state.jobs.get(pushed.id);
    if (pushed.projectId !== projectId || state.stopped) return;
    state.jobs.set(pushed.id, { ...(known || {}), ...pushed, creditsUsed: known ? known.creditsUsed : 0,
      createdAt: known ? known.createdAt : pushed.updatedAt });
    jobList.dataset.transport = "websocket";
    renderJobs();
    if (!ACTIVE.has(pushed.status)) { // its outputs' download links come with the job itself
      try {
        const detail = await api.call("GET", `/jobs/${pushed.id}`);
        state.jobs.set(detail.id, detail);
        state.details.set(detail.id, detail);
        renderJobs();
      } catch (err) {
        error.show(err.message);
      }
      loadAssets();
      refreshAccount();
    }
  };
  const live = followJobs(onLiveJob);
  function schedulePoll(delay) {
    clearTimeout(state.timer);
    if (!state.stopped) state.timer = setTimeout(poll, delay);
  }

  const load = async () => {
    try {
      const project = await api.call("GET", `/projects/${projectId}`);
      title.textContent = project.name;
      await loadAssets();
      await poll();
    } catch (err) {
      error.show(err.message);
    }
  };

  root.append(
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "← All projects")),
    title, error,
    h("div", { class: "columns" },
      h("div", { class: "column" },
        h("section", { class: "card" }, h("h2", {}, "Files"), uploadForm, assetList),
        h("section", { class: "card" }, h("h2", {}, "Run a job"), jobForm)),
      h("div", { class: "column wide" },
        h("section", { class: "card" }, h("h2", {}, "Viewer"), viewerBox),
        h("section", { class: "card" }, h("h2", {}, "Jobs"), jobList))));
  jobForm.replaceChildren(h("p", { class: "muted" }, "Loading job types…"));
  loadJobTypes();
  renderJobs();
  load();
  return () => {
    state.stopped = true;
    clearTimeout(state.timer);
    live.close();
    viewer.dispose();
  };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------- start
api.onSignedOut(() => { account.replaceChildren(); show(authPage); });
window.addEventListener("hashchange", route);
if (api.hasSession()) refreshAccount();
route();
