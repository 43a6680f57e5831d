// The web app's job forms without a browser: read {types, overrides} (types = GET /job-types) as JSON on stdin,
// print {TYPE: {spec, sent}} where spec = formSpec(type) and sent = readForm(spec, the form's initial values + overrides).
// Used by tests/unit/web/test_job_forms.py.
import { formSpec, readForm } from "../../web/jobforms.js";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { types, overrides } = JSON.parse(input);

const result = {};
for (const [name, type] of Object.entries(types)) {
  const spec = formSpec(type);
  // What the rendered form holds before anyone types: each control's initial value, as app.js renders it.
  const values = Object.fromEntries(spec.params.map((p) => [p.id, p.control === "checkbox" || p.control === "checkboxes" ? p.checked : p.value]));
  if (spec.oneOf) values[spec.oneOf.id] = spec.oneOf.value;
  Object.assign(values, (overrides || {})[name] || {});
  result[name] = { spec, sent: readForm(spec, values) };
}
console.log(JSON.stringify(result));
