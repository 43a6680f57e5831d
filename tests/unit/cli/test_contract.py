"""The CLI offers exactly what the contract declares: file types, job types, their inputs and params, statuses."""

from __future__ import annotations

import json

import pytest

from ai3d import cli
from chalicelib.contract import formats, jobtypes, statuses

UNREACHABLE = "http://127.0.0.1:9"  # a refused port: these commands must decide before any request


def test_file_tables_are_the_contracts_uploads():
    assert {kind: tuple(exts) for kind, exts in formats.UPLOADS.items()} == cli.KIND_EXTENSIONS
    assert set(cli.FILE_TYPES) == {ext for exts in formats.UPLOADS.values() for ext in exts}
    for ext, (kind, content_type) in cli.FILE_TYPES.items():
        assert formats.default_kind(ext) == kind
        assert content_type in formats.UPLOADS[kind][ext]


def test_job_inputs_are_the_contracts():
    assert set(cli.JOB_INPUTS) == set(cli.JOB_PROMPTS) == set(jobtypes.JOB_TYPES)
    for name, spec in jobtypes.JOB_TYPES.items():
        declared = dict(spec.inputs)
        offered = {field: kinds for field, _, kinds in cli.JOB_INPUTS[name]}
        offered.update(dict.fromkeys(cli.JOB_PROMPTS[name], ("text",)))
        assert offered == declared, name
        assert list(offered) == list(declared), f"{name}: the --input order is the contract's"


def test_every_named_input_is_an_option_of_run():
    options = {a.dest for a in _subparser("run")._actions}
    assert set(cli.NAMED_INPUTS) <= options
    assert cli.NAMED_INPUTS == ("video", "image", "avatar", "motion", "model")


def test_statuses_are_the_contracts():
    assert cli.JOB_STATUSES == statuses.JOB_STATUSES
    status = next(a for a in _subparser("jobs", "list")._actions if a.dest == "status")
    assert tuple(status.choices) == statuses.JOB_STATUSES


def test_run_accepts_exactly_the_contracts_job_types():
    run_type = next(a for a in _subparser("run")._actions if a.dest == "type")
    for name in jobtypes.JOB_TYPES:
        assert run_type.type(name.lower().replace("_", "-")) == name


def test_job_types_json_is_the_contracts_description(ai3d):
    result = ai3d("job-types", "--json")
    assert result.code == 0 and result.json == json.loads(json.dumps(jobtypes.describe()))
    one = ai3d("job-types", "optimize", "--json")
    assert list(one.json) == ["OPTIMIZE"]


@pytest.mark.parametrize("job_type", list(jobtypes.JOB_TYPES))
def test_job_types_text_lists_every_param_with_its_default_and_cost(ai3d, job_type):
    described = jobtypes.describe()[job_type]
    text = ai3d("job-types", job_type).out
    assert text.startswith(f"{job_type}: {described['cost']} credits")
    for field, kinds in described["inputs"].items():
        assert ("--prompt" if "text" in kinds else f"--{cli.short_name(field)} {'|'.join(kinds)}") in text
    rows = {line.split()[0]: line for line in text.splitlines()[4:]}  # name, inputs, "params:", table header
    assert set(rows) == set(described["params"])
    assert described["params"] or text.splitlines()[2] == "  params: none"
    for param, spec in described["params"].items():
        assert (json.dumps(spec["default"]) if "default" in spec else "-") in rows[param].split()


def _valid(spec: dict):
    if "default" in spec and spec["default"] not in ((), []):
        return spec["default"]
    if "choices" in spec:
        return spec["choices"][:1] if spec["type"] == "list" else spec["choices"][0]
    return {"int": spec.get("min", 1), "float": spec.get("min", 0.5), "ratios": [0.5], "str": "x", "bool": True}[
        spec["type"]
    ]


def _invalid(spec: dict):
    if "max" in spec:
        return spec["max"] * 2 + 1 if spec["type"] != "ratios" else [spec["max"] + 1]
    if "choices" in spec:
        return "not-a-choice" if spec["type"] != "list" else ["not-a-choice"]
    return {"bool": "maybe", "str": 7}[spec["type"]]


def _other_required(job_type: str, param: str) -> list[str]:
    """--param arguments for what the type needs besides `param` (its required params, one of its one-of group)."""
    spec = jobtypes.describe()[job_type]
    needed = [name for name in spec["requiredParams"] if name != param]
    needed += spec["oneOfParams"][:1] if param not in spec["oneOfParams"] else []
    return [arg for name in needed for arg in ("--param", f"{name}={json.dumps(_valid(spec['params'][name]))}")]


@pytest.mark.parametrize("job_type, param", [(t, p) for t, s in jobtypes.describe().items() for p in s["params"]])
def test_every_param_is_checked_against_the_contract_before_any_request(ai3d, job_type, param):
    spec = jobtypes.describe()[job_type]["params"][param]
    base = ["run", job_type, "--project", "p", "--api", UNREACHABLE]
    args = _other_required(job_type, param)
    bad = ai3d(*base, *args, "--param", f"{param}={json.dumps(_invalid(spec))}")
    assert bad.code == 2 and bad.error_line.endswith("(INVALID_PARAMS)") and f"params.{param}" in bad.error_line
    # a valid value passes the check: the command then fails on its inputs (usage) or on the server (unreachable)
    good = ai3d(*base, *args, "--param", f"{param}={json.dumps(_valid(spec))}")
    assert "INVALID_PARAMS" not in good.err


def test_unknown_params_are_named_with_the_allowed_ones(ai3d):
    result = ai3d("run", "CONVERT", "--project", "p", "--param", "formt=obj", "--api", UNREACHABLE)
    assert result.code == 2
    assert result.error_line == (
        "ai3d: error: unknown params for CONVERT: formt (allowed: format) "
        "(see `ai3d job-types CONVERT`) (INVALID_PARAMS)"
    )


def _subparser(*path: str):
    parser = cli.build_parser()
    for name in path:
        action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = action.choices[name]
    return parser
