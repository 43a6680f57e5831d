"""Schemathesis fuzzes every operation of the document the local stack serves, as an admin (so the admin routes run
too): no answer may be a 5xx, and every answer's status, content type and body must be ones the document lists.

It fuzzes a stack of its own: thousands of requests leave users, jobs and login-failure counters behind (failed logins
slow down their source address, 127.0.0.1 for every test), which the shared stack's later tests must not inherit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stackutil import ApiUser, make_admin, running_stack

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))  # per operation and phase: < 3 minutes on 2 cores
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# Operations (their ids: app.py's view names) that would end the fuzzing user's account or sessions and leave every
# later request a 401; the integration tests cover them.
EXCLUDED = ("users_me_delete", "auth_logout_all")


def _config(admin, path: Path) -> Path:
    """A Schemathesis config that puts real ids (a project, an asset waiting for its upload, a job waiting for it) in
    most requests, so the fuzzer gets past 404 into validation, pricing and the debit."""
    project = admin.project("fuzzed")
    ticket = admin.call(
        "POST",
        f"/v1/projects/{project}/assets",
        json={"filename": "a.png", "contentType": "image/png", "sizeBytes": 1000, "kind": "IMAGE"},
    ).json()
    asset = ticket["asset"]["id"]
    job = admin.call(
        "POST", "/v1/jobs", json={"type": "IMAGE_TO_3D", "projectId": project, "inputs": {"imageAssetId": asset}}
    )
    assert job.status_code == 202, job.text
    other = ApiUser(admin.api)  # the admin routes change another user (changing oneself may revoke one's own token)
    known = {"projects": project, "assets": asset, "jobs": job.json()["id"], "users": other.id}
    bindings = {
        "path.project_id": "projects",
        "query.projectId": "projects",
        "body.projectId": "projects",
        "path.asset_id": "assets",
        "body.inputs.imageAssetId": "assets",
        "body.inputs.videoAssetId": "assets",
        "body.inputs.modelAssetId": "assets",
        "path.job_id": "jobs",
        "path.user_id": "users",
    }
    lines = [f'[dictionaries.{name}]\nvalues = ["{value}"]\n' for name, value in known.items()]
    lines.append("[parameters]")
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.8 }}' for key, name in bindings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def fuzzed_stack():
    """A stack for the fuzzer alone."""
    with running_stack(gpu_workers=1, blender_workers=1) as running:
        yield running


def test_fuzzing_the_served_document_finds_no_server_error_and_no_undocumented_answer(fuzzed_stack, tmp_path):
    stack = fuzzed_stack
    admin = make_admin(stack)
    report = tmp_path / "run.json"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(_config(admin, tmp_path / "schemathesis.toml")),
        "run",
        f"{stack.api_url}/openapi.json",
        "--url",
        f"{stack.api_url}/v1",
        "--header",
        f"Authorization: Bearer {admin.token}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        "18",
        "--workers",  # one thread: Python 3.11.7's ast.parse is not thread-safe, and hypothesis parses source in
        "1",  # each worker (CI once saw "SystemError: AST constructor recursion depth mismatch" with two workers)
        "--request-timeout",
        "30",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *[arg for operation in EXCLUDED for arg in ("--exclude-operation-id", operation)],
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"}
    )
    output = run.stdout[-6000:] + run.stderr[-2000:]
    print(output)
    assert run.returncode == 0, output
    summary = json.loads(report.read_text())
    cases, operations = summary["test_cases"], summary["operations"]
    print(
        f"schemathesis: {cases['generated']} cases, {operations['tested']} operations, {len(summary['failures'])} failures"
    )
    assert summary["complete"] and not summary["failures"] and not summary["errors"], output
    assert cases["with_failures"] == 0 and cases["errored"] == 0, output
    assert operations["tested"] == operations["selected"] == operations["total"] - len(EXCLUDED), operations
    assert cases["generated"] >= 20 * EXAMPLES, "the fuzzer ran too few cases to mean anything"
    assert admin.call("GET", "/users/me").status_code == 200, "the fuzzing user kept its session"
