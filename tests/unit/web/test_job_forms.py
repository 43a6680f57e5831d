"""The web app's job forms offer exactly the contract's job types, inputs and params (web/jobforms.js run in node).

The browser e2e test (tests/tools/web_e2e.mjs) checks the same on the rendered page against GET /job-types.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from chalicelib.contract import jobtypes
from tests.stackutil import ROOT

pytestmark = pytest.mark.skipif(not shutil.which("node"), reason="node is needed to run web/jobforms.js")

DESCRIBED = json.loads(json.dumps(jobtypes.describe()))  # as GET /job-types serves it


def _valid(spec: dict):
    """A value the contract accepts for a param without a default."""
    if "choices" in spec:
        return spec["choices"][0]
    return spec.get("min", 1) if spec["type"] == "int" else 0.5


def _overrides(name: str, described: dict) -> dict:
    """What a person fills in: every input, the required params without a default, the chosen one-of param."""
    values = {
        f"job-input-{field}": "a knight" if "text" in kinds else f"asset-{field}"
        for field, kinds in described["inputs"].items()
    }
    needed = [p for p in described["requiredParams"] if "default" not in described["params"][p]] + described[
        "oneOfParams"
    ][:1]
    values.update({f"job-param-{p}": str(_valid(described["params"][p])) for p in needed})
    return values


@pytest.fixture(scope="module")
def forms() -> dict:
    payload = {"types": DESCRIBED, "overrides": {name: _overrides(name, t) for name, t in DESCRIBED.items()}}
    run = subprocess.run(
        ["node", str(ROOT / "tests" / "tools" / "job_forms.mjs")],
        input=json.dumps(payload),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_every_job_type_has_a_form(forms):
    assert list(forms) == list(DESCRIBED)


@pytest.mark.parametrize("name", list(DESCRIBED))
def test_one_control_per_input_and_param_with_the_contracts_ids(forms, name):
    spec, described = forms[name]["spec"], DESCRIBED[name]
    assert [i["id"] for i in spec["inputs"]] == [f"job-input-{field}" for field in described["inputs"]]
    assert [p["id"] for p in spec["params"]] == [f"job-param-{param}" for param in described["params"]]
    assert [p["name"] for p in spec["params"]] == list(described["params"])
    oneof = [o["value"] for o in spec["oneOf"]["options"]] if spec["oneOf"] else []
    assert oneof == described["oneOfParams"]
    assert str(described["cost"]) in spec["cost"] and (str(described.get("costPer10s", "")) in spec["cost"])


@pytest.mark.parametrize("name", list(DESCRIBED))
def test_inputs_pick_the_contracts_kinds(forms, name):
    for control in forms[name]["spec"]["inputs"]:
        kinds = DESCRIBED[name]["inputs"][control["field"]]
        if "text" in kinds:
            assert control["control"] == "textarea" and control["maxlength"] == jobtypes.PROMPT_MAX_CHARS
        else:
            assert control["control"] == "asset" and control["kinds"] == kinds
        assert control["required"]


@pytest.mark.parametrize("name", list(DESCRIBED))
def test_controls_carry_the_contracts_bounds_choices_and_defaults(forms, name):
    described = DESCRIBED[name]
    for control in forms[name]["spec"]["params"]:
        spec = described["params"][control["name"]]
        assert control["hint"] == spec["doc"]
        assert control["required"] == (control["name"] in described["requiredParams"])
        assert control["oneOf"] == (control["name"] in described["oneOfParams"])
        if spec["type"] == "bool":
            assert control["control"] == "checkbox" and control["checked"] == spec.get("default", False)
        elif spec["type"] == "list":
            assert control["control"] == "checkboxes" and control["choices"] == [str(c) for c in spec["choices"]]
            assert control["checked"] == [str(c) for c in spec.get("default", [])]
        elif "choices" in spec:
            assert control["control"] == "select" and control["choices"] == [str(c) for c in spec["choices"]]
            assert control["value"] == (str(spec["default"]) if "default" in spec else "")
        elif spec["type"] in ("int", "float"):
            assert control["control"] == "number"
            assert (control.get("min"), control.get("max")) == (spec.get("min"), spec.get("max"))
            assert control["step"] == ("1" if spec["type"] == "int" else "any")
            assert float(control["value"]) == spec["default"] if "default" in spec else control["value"] == ""
        else:
            assert control["control"] == "text", spec


@pytest.mark.parametrize("name", list(DESCRIBED))
def test_the_untouched_form_sends_what_the_contract_accepts(forms, name):
    """Defaults are sent as shown; optional params without a default stay out; of a one-of group only the chosen."""
    described, sent = DESCRIBED[name], forms[name]["sent"]
    assert sent["inputs"] == {
        field: "a knight" if "text" in kinds else f"asset-{field}" for field, kinds in described["inputs"].items()
    }
    jobtypes.validate_params(name, sent["params"])
    filled = set(described["requiredParams"] + described["oneOfParams"][:1])
    with_default = {p for p, spec in described["params"].items() if spec.get("default") not in (None, [])}
    assert set(sent["params"]) == (with_default - set(described["oneOfParams"])) | filled
    for param, value in sent["params"].items():
        if param not in filled:
            assert value == described["params"][param]["default"]


def test_upload_types_agree_with_the_contract():
    """web/files.js (which the API does not serve) guesses the contract's kind and an accepted content type."""
    from chalicelib.contract import formats

    exts = sorted({ext for kinds in formats.UPLOADS.values() for ext in kinds})
    script = (
        "import { ACCEPT, KINDS, describeFile } from './web/files.js';"
        f"const exts = {json.dumps(exts)};"
        "console.log(JSON.stringify({accept: ACCEPT.split(','), kinds: KINDS, files: exts.map((e) => describeFile('a.' + e, ''))}));"
    )
    run = subprocess.run(
        ["node", "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert sorted(ext.lstrip(".") for ext in got["accept"]) == exts
    assert sorted(got["kinds"]) == sorted(formats.UPLOADS)  # the kind picker offers every kind, no other
    for ext, described in zip(exts, got["files"]):
        assert described["kind"] == formats.default_kind(ext), ext
        assert described["contentType"] in formats.UPLOADS[described["kind"]][ext], ext
