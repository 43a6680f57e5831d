"""Idempotency-Key in-process: replay, one debit, another body -> 422, refused requests release the key, expiry."""

import hashlib
import json

import pytest

from chalicelib import idempotency, settings
from chalicelib.contract import keys
from chalicelib.errors import Conflict
from chalicelib.store.db import IdempotencyRecord
from tests.unit.platform.helpers import register
from tests.unit.platform.test_jobs import balance, ledger


def post(client, user, path, body, key):
    headers = {**user["headers"], **({"Idempotency-Key": key} if key is not None else {})}
    response = client.http.post(path, headers=headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body), response.headers


@pytest.fixture
def setup(client):
    alice = register(client)
    pid = json.loads(client.http.post("/projects", headers=alice["headers"], body='{"name": "p"}').body)["id"]
    return alice, pid


def test_a_retried_job_is_created_and_charged_once(client, setup):
    alice, pid = setup
    job = {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "a tall man"}}
    before = balance(alice["id"])
    first = post(client, alice, "/jobs", job, "retry-1")
    again = post(client, alice, "/jobs", {**job}, "retry-1")
    assert first[0] == again[0] == 202
    assert first[1] == again[1] and again[2].get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first[2]
    cost = first[1]["creditsUsed"]
    assert balance(alice["id"]) == before - cost
    assert [e for e in ledger(alice["id"]) if e[0] == "DEBIT"] == [("DEBIT", -cost, first[1]["id"])]
    # the same key with another body is refused, charging nothing
    status, error, _ = post(client, alice, "/jobs", {**job, "inputs": {"prompt": "a short man"}}, "retry-1")
    assert (status, error["error"]["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    # keys are per caller: bob's "retry-1" is his own
    bob = register(client)
    bob_pid = json.loads(client.http.post("/projects", headers=bob["headers"], body='{"name": "p"}').body)["id"]
    assert post(client, bob, "/jobs", {**job, "projectId": bob_pid}, "retry-1")[0] == 202
    assert balance(alice["id"]) == before - cost


def test_asset_creation_replays_and_a_refused_request_frees_its_key(client, setup):
    alice, pid = setup
    ticket = {"filename": "m.glb", "contentType": "model/gltf-binary", "sizeBytes": 100, "kind": "MODEL_3D"}
    first = post(client, alice, f"/projects/{pid}/assets", ticket, "upload-1")
    again = post(client, alice, f"/projects/{pid}/assets", ticket, "upload-1")
    assert first[0] == again[0] == 201 and first[1]["asset"]["id"] == again[1]["asset"]["id"]
    bad = {**ticket, "sizeBytes": -1}
    assert post(client, alice, f"/projects/{pid}/assets", bad, "upload-2")[0] == 400
    assert post(client, alice, f"/projects/{pid}/assets", ticket, "upload-2")[0] == 201  # the key was released
    for key in ("", "has space", "x" * 300, "caf\u00e9"):
        status, error, _ = post(client, alice, f"/projects/{pid}/assets", ticket, key)
        assert (status, error["error"]["code"]) == (400, "INVALID_IDEMPOTENCY_KEY"), key


def test_in_progress_key_waits_then_409_and_expired_records_are_reclaimed(aws, monkeypatch):
    monkeypatch.setattr(settings, "IDEMPOTENCY_WAIT_SECONDS", 0.3)
    clock = [1_000_000.0]
    calls = []

    def handle():
        calls.append(1)
        return 202, {"n": len(calls)}

    # a claim left IN_PROGRESS (its request still running)
    IdempotencyRecord(
        *keys.idempotency("u1", hashlib.sha256(b"POST /jobs k").hexdigest()),
        request_hash=idempotency._request_hash("POST", "/jobs", {"a": 1}),
        state="IN_PROGRESS",
        locked_until=int(clock[0]) + 60,
        expires_at=int(clock[0]) + 86400,
        ttl=int(clock[0]) + 86400,
    ).save()
    with pytest.raises(Conflict) as refused:
        idempotency.run("u1", "k", "POST", "/jobs", {"a": 1}, handle, now=lambda: clock[0])
    assert refused.value.code == "IDEMPOTENCY_IN_PROGRESS" and not calls
    clock[0] += 61  # its request died: the claim is taken over
    assert idempotency.run("u1", "k", "POST", "/jobs", {"a": 1}, handle, now=lambda: clock[0])[:2] == (202, {"n": 1})
    assert idempotency.run("u1", "k", "POST", "/jobs", {"a": 1}, handle, now=lambda: clock[0])[:2] == (202, {"n": 1})
    clock[0] += settings.IDEMPOTENCY_SECONDS + 1  # expired (whether or not DynamoDB's TTL deleted it yet)
    assert idempotency.run("u1", "k", "POST", "/jobs", {"a": 2}, handle, now=lambda: clock[0])[:2] == (202, {"n": 2})
