"""API keys and Idempotency-Key over HTTP on the stack: a key's lifecycle and scopes, concurrent retries charge once."""

import threading
import uuid

import requests


def _with_key(user, key: str, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{user.api}{path}", headers=headers, timeout=30, **kwargs)


def test_api_key_lifecycle_scopes_and_revocation(user):
    pid = user.project()
    made = user.call("POST", "/api-keys", json={"name": "ci script", "scopes": ["read"]})
    assert made.status_code == 201, made.text
    read_key = made.json()["key"]
    # usable as a bearer token, with the rate headers
    me = _with_key(user, read_key, "GET", "/users/me")
    assert me.status_code == 200 and me.json()["id"] == user.id
    assert int(me.headers["RateLimit-Limit"]) > int(me.headers["RateLimit-Remaining"]) >= 0
    assert int(me.headers["RateLimit-Reset"]) >= 1
    # a read-scoped key cannot start a job, and nothing is charged
    before = user.credits()
    job = {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "a tall man"}}
    refused = _with_key(user, read_key, "POST", "/jobs", json=job)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "SCOPE_REQUIRED"
    assert user.credits() == before
    # listed without its value, with its last use
    listed = user.call("GET", "/api-keys").json()["items"]
    assert [(k["id"], k["name"], k["scopes"]) for k in listed] == [(made.json()["id"], "ci script", ["read"])]
    assert listed[0]["lastUsedAt"] and read_key not in str(listed)
    # a jobs key starts (and cancels) jobs
    jobs_key = user.call("POST", "/api-keys", json={"name": "runner", "scopes": ["jobs"]}).json()
    started = _with_key(user, jobs_key["key"], "POST", "/jobs", json=job)
    assert started.status_code == 202, started.text
    assert _with_key(user, jobs_key["key"], "POST", f"/jobs/{started.json()['id']}/cancel").status_code == 200
    # revoked: 401 at the very next request
    assert user.call("DELETE", f"/api-keys/{made.json()['id']}").status_code == 204
    gone = _with_key(user, read_key, "GET", "/users/me")
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "INVALID_API_KEY"
    assert [k["id"] for k in user.call("GET", "/api-keys").json()["items"]] == [jobs_key["id"]]


def test_concurrent_retries_with_one_idempotency_key_make_one_job_and_one_debit(user):
    pid = user.project()
    before = user.credits()
    job = {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "a dancer"}}
    key = f"create-{uuid.uuid4()}"
    gate, answers = threading.Barrier(4), []

    def send() -> None:
        gate.wait()
        answers.append(user.call("POST", "/jobs", json=job, headers={"Idempotency-Key": key}))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ok = [a for a in answers if a.status_code == 202]
    assert ok and all(a.status_code in (202, 409) for a in answers), [(a.status_code, a.text) for a in answers]
    assert len({a.json()["id"] for a in ok}) == 1
    job_id = ok[0].json()["id"]
    listed = user.call("GET", f"/jobs?projectId={pid}").json()["items"]
    assert [j["id"] for j in listed] == [job_id]
    cost = ok[0].json()["creditsUsed"]
    assert user.credits() == before - cost
    ledger = user.call("GET", "/users/me/credits").json()["entries"]
    assert [(e["type"], e["amount"]) for e in ledger if e["jobId"] == job_id and e["type"] == "DEBIT"] == [
        ("DEBIT", -cost)
    ]
    # a later retry replays the first answer; another body with the key -> 422, charging nothing
    again = user.call("POST", "/jobs", json=job, headers={"Idempotency-Key": key})
    assert again.status_code == 202 and again.json()["id"] == job_id
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = user.call("POST", "/jobs", json={**job, "inputs": {"prompt": "a singer"}}, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert user.credits() == before - cost
