// Job forms from the contract, as GET /job-types describes it (chalicelib/contract/jobtypes.py `describe()`):
// one control per input and per param, and what the filled-in form sends. Pure (no DOM), so node can test it.

/** The longest prompt: jobtypes.PROMPT_MAX_CHARS (tests/unit/web/test_job_forms.py checks that they agree). */
export const PROMPT_MAX_CHARS = 500;
/** The id of the chooser between a type's one-of params (OPTIMIZE: ratio or targetTriangles). */
export const ONE_OF_ID = "job-one-of";
const ONE_OF_LABELS = { "targetTriangles,ratio,errorBound": "Reduce by" };

/** "targetTriangles" -> "Target triangles", "videoAssetId" -> "Video". */
export function label(name) {
  const words = name.replace(/AssetId$/, "").replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** What a job of this type costs, in words. */
export function costText(type) {
  return `${type.cost} credits` + (type.costPer10s ? ` + ${type.costPer10s} per started 10 s of video` : "");
}

/** One param's control: its kind ("number", "checkbox", "select", "checkboxes", "text"), id and initial value. */
function paramControl(name, spec, type) {
  const has = Object.prototype.hasOwnProperty.call(spec, "default");
  const base = {
    name, id: `job-param-${name}`, label: label(name), hint: spec.doc, type: spec.type,
    required: type.requiredParams.includes(name), oneOf: type.oneOfParams.includes(name),
  };
  if (spec.type === "bool") return { ...base, control: "checkbox", checked: has ? Boolean(spec.default) : false };
  if (spec.type === "list") {
    return { ...base, control: "checkboxes", choices: spec.choices.map(String), checked: has ? spec.default.map(String) : [] };
  }
  if (spec.choices) {
    return { ...base, control: "select", choices: spec.choices.map(String), value: has ? String(spec.default) : "", blank: !has };
  }
  if (spec.type === "int" || spec.type === "float") {
    return { ...base, control: "number", min: spec.min, max: spec.max, step: spec.type === "int" ? "1" : "any",
      value: has ? String(spec.default) : "",
      placeholder: spec.min !== undefined && spec.max !== undefined ? `${spec.min} to ${spec.max}` : "" };
  }
  if (spec.type === "ratios") {
    return { ...base, control: "text", value: has ? spec.default.join(", ") : "",
      placeholder: `comma-separated, decreasing, ${spec.min} to ${spec.max}` };
  }
  return { ...base, control: "text", value: has ? String(spec.default) : "" };
}

/**
 * The form of one job type: `inputs` (an asset picker per input, a textarea for "text"), `oneOf` (a chooser
 * between one-of params, or null), `params` (one control per param, in the contract's order) and `cost`.
 */
export function formSpec(type) {
  const inputs = Object.entries(type.inputs).map(([field, kinds]) => (kinds.includes("text")
    ? { field, id: `job-input-${field}`, label: label(field), control: "textarea", maxlength: PROMPT_MAX_CHARS, required: true }
    : { field, id: `job-input-${field}`, label: label(field), control: "asset", kinds, required: true }));
  const group = type.oneOfParams || [];
  const oneOf = group.length ? { id: ONE_OF_ID, label: ONE_OF_LABELS[group.join(",")] || "Set one of",
    options: group.map((name) => ({ value: name, label: label(name) })), value: group[0] } : null;
  const params = Object.entries(type.params).map(([name, spec]) => paramControl(name, spec, type));
  return { cost: costText(type), inputs, oneOf, params };
}

/** A param's value as typed (string, boolean, or list of checked choices) -> what is sent, or undefined (not sent). */
function paramValue(control, raw) {
  if (control.control === "checkbox") return Boolean(raw);
  if (control.control === "checkboxes") {
    const checked = control.choices.filter((choice) => (raw || []).includes(choice));
    return checked.length ? checked : undefined;
  }
  const text = String(raw ?? "").trim();
  if (text === "") return undefined;
  if (control.type === "int" || control.type === "float") return Number(text);
  if (control.type === "ratios") return text.split(",").map((part) => part.trim()).filter(Boolean).map(Number);
  return text;
}

/**
 * The request's `inputs` and `params` from the form's values by control id (strings, checkbox booleans, lists of
 * checked choices). Empty optional params are not sent; of a one-of group only the chosen param is.
 */
export function readForm(spec, values) {
  const inputs = Object.fromEntries(spec.inputs.map((input) => [input.field, values[input.id]]));
  const params = {};
  for (const control of spec.params) {
    if (control.oneOf && values[ONE_OF_ID] !== control.name) continue;
    const value = paramValue(control, values[control.id]);
    if (value !== undefined) params[control.name] = value;
  }
  return { inputs, params };
}
