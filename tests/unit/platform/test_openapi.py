"""The OpenAPI document covers every route, and the request validation it describes refuses hostile bodies with 400
before anything is charged."""

from __future__ import annotations

import copy
import json

import pytest
from openapi_spec_validator import validate

from chalicelib import settings
from chalicelib.api import openapi
from chalicelib.api.registry import OPERATIONS
from chalicelib.api.spec import unversioned
from tests.unit.platform.helpers import call, register

BODY_METHODS = ("POST", "PATCH", "PUT")


@pytest.fixture(scope="module")
def document():
    from app import app

    return openapi.document(app.routes)


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": f"/{settings.API_VERSION}"}]


def test_every_route_in_app_py_is_in_the_document_with_its_schemas(document):
    from app import app

    seen = set()
    for path, methods in app.routes.items():
        for method, route in methods.items():
            spec = document["paths"][unversioned(path)][method.lower()]
            seen.add((method, unversioned(path)))
            op = OPERATIONS[(method, unversioned(path))]
            statuses = {int(s) for s in spec["responses"] if s.isdigit()}
            assert statuses and all(200 <= s < 300 or s == 503 for s in statuses), (method, path)
            assert "4XX" in spec["responses"], (method, path)
            for status, model in op.responses.items():
                content = spec["responses"][str(status)].get("content")
                assert (content is None) == (model is None), (method, path, status)
            assert ("requestBody" in spec) == (op.request is not None or op.raw_body), (method, path)
            assert ("security" in spec) == (route.authorizer is not None), (method, path)
    assert seen == set(OPERATIONS), "an operation without a route: " + str(set(OPERATIONS) - seen)
    assert len(app.routes) == 2 * len({unversioned(p) for p in app.routes}), "every route has its /v1 twin"


def test_every_body_route_declares_a_request_schema(document):
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            if method.upper() in BODY_METHODS and OPERATIONS[(method.upper(), path)].request is not None:
                ref = spec["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.split("/")[-1] in document["components"]["schemas"]


def test_job_params_are_described_per_type_from_the_contract(document):
    from chalicelib.contract import jobtypes

    variants = document["components"]["schemas"]["JobCreate"]["oneOf"]
    assert [v["properties"]["type"]["const"] for v in variants] == list(jobtypes.JOB_TYPES)
    optimize = next(v for v in variants if v["title"] == "OPTIMIZE")["properties"]["params"]
    assert optimize["properties"]["ratio"]["minimum"] == 0.001 and optimize["additionalProperties"] is False
    assert optimize["oneOf"] == [
        {"required": ["targetTriangles"]},
        {"required": ["ratio"]},
        {"required": ["errorBound"]},
    ]


def test_the_document_is_served_without_auth_at_both_paths(client, document):
    for path in ("/openapi.json", f"/{settings.API_VERSION}/openapi.json"):
        response = client.http.get(path)
        assert response.status_code == 200
        assert json.loads(response.body) == json.loads(json.dumps(document))


def test_v1_paths_serve_the_same_routes(client):
    alice = register(client)
    status, project = call(client, "POST", f"/{settings.API_VERSION}/projects", alice, {"name": "p"})
    assert status == 201
    status, same = call(client, "GET", f"/projects/{project['id']}", alice)
    assert status == 200 and same == project
    status, listed = call(client, "GET", f"/{settings.API_VERSION}/projects?limit=5", alice)
    assert status == 200 and [p["id"] for p in listed["items"]] == [project["id"]]


def _raw(client, path: str, user: dict, raw: str | bytes, method: str = "POST"):
    response = getattr(client.http, method.lower())(path, headers=user["headers"], body=raw)
    return response.status_code, json.loads(response.body)


@pytest.mark.parametrize(
    "raw, code",
    [
        ('{"type": []}', "INVALID_TYPE"),
        ('{"type": "CONVERT", "projectId": 5, "inputs": {}}', "INVALID_PROJECT"),
        ('{"type": "CONVERT", "projectId": "p", "inputs": {"modelAssetId": ["x"]}}', "INVALID_INPUTS"),
        ('{"type": "CONVERT", "projectId": "p", "inputs": {}, "surprise": 1}', "UNKNOWN_FIELD"),
        ('{"type": "OPTIMIZE", "projectId": "p", "params": {"ratio": NaN}}', "INVALID_JSON"),
        ('{"type": "OPTIMIZE", "projectId": "p", "params": {"ratio": Infinity}}', "INVALID_JSON"),
        ('{"type": "OPTIMIZE", "projectId": "p", "params": {"ratio": 1e400}}', "INVALID_JSON"),
        ('{"type": "CONVERT", "type": "OPTIMIZE", "projectId": "p"}', "INVALID_JSON"),
        ("[" * 5000 + "]" * 5000, "INVALID_JSON"),
        ('{"a":' * (settings.API_JSON_MAX_DEPTH + 1) + "1" + "}" * (settings.API_JSON_MAX_DEPTH + 1), "INVALID_JSON"),
        ('{"type": "CONVERT", "projectId": "\\ud800", "inputs": {}}', "INVALID_TEXT"),
        ('{"type": "CONVERT", "projectId": "a\\u0000b", "inputs": {}}', "INVALID_TEXT"),
        ('"just a string"', "INVALID_JSON"),
        (b'{"type": "\xff"}', "INVALID_JSON"),
    ],
)
def test_hostile_job_bodies_are_refused_before_any_debit(client, raw, code):
    alice = register(client)
    before = call(client, "GET", "/users/me/credits", alice)[1]["balance"]
    status, data = _raw(client, "/jobs", alice, raw)
    assert status == 400 and data["error"]["code"] == code, data
    assert set(data) == {"error"} and set(data["error"]) == {"code", "message"}
    assert call(client, "GET", "/users/me/credits", alice)[1]["balance"] == before


def test_an_oversize_body_is_refused_before_it_is_parsed(client):
    alice = register(client)
    raw = json.dumps({"name": "p", "description": "x" * settings.API_BODY_MAX_BYTES})
    status, data = _raw(client, "/projects", alice, raw)
    assert status == 413 and data["error"]["code"] == "BODY_TOO_LARGE"


@pytest.mark.parametrize(
    "path, method, raw",
    [
        ("/projects", "POST", '{"name": "\\udfff"}'),
        ("/projects", "POST", '{"name": "bell\\u0007"}'),
        ("/projects", "POST", '{"name": "p", "owner": "someone-else"}'),
        ("/projects", "POST", '{"name": 5}'),
        ("/users/me", "PATCH", '{"name": "\\ud83d"}'),
        ("/users/me", "PATCH", '{"role": "ADMIN"}'),
    ],
)
def test_control_characters_lone_surrogates_unknown_fields_and_wrong_types_are_400(client, path, method, raw):
    alice = register(client)
    status, data = _raw(client, path, alice, raw, method)
    assert status == 400, data
    assert data["error"]["code"] in ("INVALID_TEXT", "UNKNOWN_FIELD", "INVALID_NAME"), data


def test_text_keeps_line_breaks_and_paired_surrogates(client):
    alice = register(client)
    status, data = _raw(client, "/projects", alice, '{"name": "\\ud83d\\ude00 ok", "description": "a\\nb\\tc"}')
    assert status == 201 and data["name"] == "\U0001f600 ok" and data["description"] == "a\nb\tc"


@pytest.mark.parametrize(
    "query, code",
    [
        ("limit=0", "INVALID_LIMIT"),
        ("limit=abc", "INVALID_LIMIT"),
        ("status=DONE", "INVALID_STATUS"),
        ("nextToken=%00", "INVALID_TEXT"),
        ("sort=name", "UNKNOWN_FIELD"),
    ],
)
def test_query_parameters_are_checked_against_their_model(client, query, code):
    alice = register(client)
    status, data = call(client, "GET", f"/jobs?{query}", alice)
    assert status == 400 and data["error"]["code"] == code, data


def test_bodies_on_routes_without_one_are_still_parsed_safely(client):
    alice = register(client)
    status, data = call(client, "GET", "/projects/%ED%A0%80", alice)
    assert status in (400, 404), data


def _forge(token: str, change) -> str:
    import base64

    payload, _, mac = token.partition(".")
    key = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    change(key)
    forged = base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{forged}.{mac}"


def test_pagination_cursors_are_signed_and_a_forged_one_is_400(client):
    alice = register(client)
    for i in range(3):
        call(client, "POST", "/projects", alice, {"name": f"p{i}"})
    _, page = call(client, "GET", "/projects?limit=1", alice)
    token = page["nextToken"]
    assert "." in token and call(client, "GET", f"/projects?limit=1&nextToken={token}", alice)[0] == 200

    def move_on(key: dict) -> None:  # another cursor: the last character changed (to a different one, always)
        sort_key = key["gsi1sk"]["S"]
        key["gsi1sk"]["S"] = sort_key[:-1] + ("1" if sort_key.endswith("0") else "0")

    def crafted(key: dict) -> None:
        key["gsi1sk"] = {"N": "1e999999"}

    payload, _, mac = token.partition(".")
    assert _forge(token, move_on) != token
    for bad in (
        _forge(token, move_on),
        _forge(token, crafted),
        payload,
        f"{payload}.{'A' * len(mac)}",
        f"{payload}.{mac}x",
        "%F0%9F%98%80.%F0%9F%98%80",
    ):
        status, data = call(client, "GET", f"/projects?limit=1&nextToken={bad}", alice)
        assert status == 400 and data["error"]["code"] in ("INVALID_CURSOR", "INVALID_TEXT"), (bad, data)
    _, ledger = call(client, "GET", "/users/me/credits?limit=1", alice)
    assert (
        ledger["nextToken"] is None
        or call(client, "GET", f"/projects?nextToken={ledger['nextToken']}", alice)[0] == 400
    ), "a cursor of one listing does not open another"


def test_the_response_checker_the_integration_tests_use_can_fail(document):
    from tests.openapi_check import ResponseChecker

    checker = ResponseChecker(json.loads(json.dumps(document)))
    project = {"id": "p", "name": "n", "description": "", "ownerId": "o", "createdAt": "t", "updatedAt": "t"}
    checker.check("GET", "http://api/v1/projects/p", 200, json.dumps(project).encode())
    checker.check("GET", "http://api/projects/p", 404, b'{"error": {"code": "NOT_FOUND", "message": "x"}}')
    checker.check("GET", "http://api/nowhere", 403, b"not checked: no such route")
    for status, body in (
        (200, json.dumps({**project, "secret": 1}).encode()),  # an undocumented field
        (200, json.dumps({**project, "name": None}).encode()),  # a wrong type
        (201, json.dumps(project).encode()),  # an undocumented status
        (404, b'{"message": "not the error shape"}'),
    ):
        with pytest.raises(AssertionError):
            checker.check("GET", "http://api/v1/projects/p", status, body)
    with pytest.raises(AssertionError):
        checker.check("DELETE", "http://api/v1/projects/p", 204, b"{}")  # 204 has no body


def test_a_route_without_an_operation_fails_loudly_instead_of_running_unchecked(client, monkeypatch):
    from chalicelib.api import spec

    alice = register(client)
    without = copy.deepcopy(spec.document())
    del without["paths"]["/projects"]["post"]
    monkeypatch.setattr(spec, "document", lambda: without)
    spec._checks.cache_clear()
    try:
        status, data = call(client, "POST", "/projects", alice, {"name": "p"})
    finally:
        spec._checks.cache_clear()
    assert status == 500 and data["error"]["code"] == "INTERNAL_ERROR"
    assert call(client, "GET", "/projects", alice)[1]["items"] == []


def test_routes_without_a_body_refuse_one(client):
    alice = register(client)
    assert call(client, "POST", "/users/me/webhook-secret", alice, {})[0] == 201
    status, data = call(client, "POST", "/users/me/webhook-secret", alice, {"rotate": True})
    assert status == 400 and data["error"]["code"] == "UNKNOWN_FIELD"
    status, data = _raw(client, "/users/me/webhook-secret", alice, "[" * 100)
    assert status == 400 and data["error"]["code"] == "INVALID_JSON"


def test_the_committed_document_is_what_the_models_write(document):
    """chalicelib/api/openapi.json can never drift from the models: regenerate it with `make openapi`."""
    from chalicelib.api import spec

    assert spec.DOCUMENT.read_text(encoding="utf-8") == openapi.render(document), "out of date: run `make openapi`"
    assert openapi.main(["--check"]) == 0


def test_the_api_serves_the_committed_document(client):
    from chalicelib.api import spec

    status, data = call(client, "GET", "/v1/openapi.json")
    assert status == 200 and data == json.loads(spec.DOCUMENT.read_text(encoding="utf-8"))


def test_a_cold_start_never_imports_pydantic():
    """The models only write the document; the Lambda validates with it (docs/benchmarks.md, cold start)."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, app; print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))"
    root = Path(__file__).resolve().parents[3]
    shown = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
