"""The API over HTTP: its OpenAPI document is served without auth, every route answers at /v1 and without it, hostile
bodies are refused before any debit, forged cursors are refused, and concurrent callers never see each other's
request (the local server is threaded; Lambda is not)."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor

import requests
from openapi_spec_validator import validate

from tests.stackutil import ApiUser


def test_the_document_is_served_without_auth_and_is_valid_openapi_3_1(stack):
    response = requests.get(f"{stack.api_url}/v1/openapi.json", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0" and "/jobs" in document["paths"]


def test_both_base_paths_serve_the_same_routes_and_other_methods_are_405(user):
    assert user.call("GET", "/v1/users/me").json() == user.call("GET", "/users/me").json()
    response = requests.request("TRACE", f"{user.api}/v1/users/me", timeout=30)
    assert response.status_code == 405 and response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    host, port = user.api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:  # a 405 with a body it never read
        body = b"[null, null]"
        head = f"QUERY /v1/health HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
        connection.sendall(head.encode() + body + b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = connection.makefile("rb").read()  # the server closes the connection: the body never becomes a request
    assert answer.startswith(b"HTTP/1.1 405") and answer.count(b"HTTP/1.") == 1, answer


def test_hostile_bodies_are_refused_before_any_debit(user):
    project = user.project()
    before = user.credits()
    nan = {"type": "OPTIMIZE", "projectId": project, "inputs": {"modelAssetId": "x"}, "params": {"ratio": float("nan")}}
    for raw in (
        json.dumps(nan),  # Python writes NaN, as a careless client would
        json.dumps({"type": [], "projectId": project}),
        json.dumps({"type": "CONVERT", "projectId": project, "inputs": {}, "free": True}),
        "[" * 60_000,
        json.dumps({"type": "CONVERT", "projectId": project, "inputs": {"modelAssetId": "\ud800"}}),
    ):
        response = user.call("POST", "/v1/jobs", data=raw)
        assert response.status_code == 400, response.text
    assert user.credits() == before


def test_a_forged_cursor_is_400(user):
    for i in range(3):
        user.project(f"p{i}")
    token = user.call("GET", "/v1/projects", params={"limit": 1}).json()["nextToken"]
    assert user.call("GET", "/v1/projects", params={"limit": 1, "nextToken": token}).status_code == 200
    payload, _, mac = token.partition(".")
    forged = f"{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{mac}"
    response = user.call("GET", "/v1/projects", params={"limit": 1, "nextToken": forged})
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_CURSOR"


def test_concurrent_callers_never_see_each_others_request(stack):
    alice, bob = ApiUser(stack.api_url), ApiUser(stack.api_url)

    def one(i: int) -> int:
        if i % 3 == 0:  # a request without an authorizer, interleaved with authenticated ones
            return requests.post(
                f"{stack.api_url}/v1/auth/login", json={"email": "x@example.com"}, timeout=30
            ).status_code
        caller = alice if i % 2 else bob
        response = caller.call("GET", "/v1/users/me")
        return response.status_code if response.json()["id"] == caller.id else -1

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(60)))
    assert set(statuses) <= {200, 400}, statuses
