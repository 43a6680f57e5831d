"""Issue 20, item 1: nothing secret in code. The local stack signs tokens with secrets it generated at its first
start (0600 in its state dir), and each user's webhooks with that user's own secret (`whsec_...`, shown once,
rotatable), timestamped. Before the fix, anyone who had read settings.py could mint an ADMIN token (the forged token
below got 200 and 204 on another user's project) and webhooks were signed with that same constant."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid

import jwt
import requests

from tests.security.conftest import eventually
from tests.stackutil import ROOT, ApiUser

PUBLISHED = "local-development-secret-change-me-0123456789"  # the constant settings.py shipped before issue 20


def forged_token(user_id: str, secret: str = PUBLISHED) -> str:
    """An ADMIN access token for `user_id` with every claim the API checks, signed with `secret`."""
    now = int(time.time())
    claims = {"sub": user_id, "role": "ADMIN", "iat": now, "exp": now + 900, "jti": uuid.uuid4().hex}
    claims |= {"iss": "ai3d", "aud": "ai3d-api", "tv": 0, "sid": uuid.uuid4().hex}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_a_token_signed_with_the_published_constant_is_refused(stack, user):
    project = user.project()
    attacker = ApiUser(stack.api_url)
    headers = {"Authorization": f"Bearer {forged_token(attacker.id)}"}
    for method in ("GET", "DELETE"):
        response = requests.request(method, f"{stack.api_url}/projects/{project}", headers=headers, timeout=10)
        assert response.status_code == 401, (method, response.status_code, response.text)
        assert response.json()["error"]["code"] in ("INVALID_TOKEN", "UNAUTHORIZED")
    assert user.call("GET", f"/projects/{project}").status_code == 200  # untouched


def test_local_secrets_are_generated_in_the_state_dir_readable_by_the_owner_only(stack):
    secrets_file = stack.log_path.parent / "secrets.json"
    assert secrets_file.exists(), "the stack keeps no generated secrets in its state dir"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    values = json.loads(secrets_file.read_text())
    assert len({values["JWT_SECRET"], values["WEBHOOK_SECRET"], PUBLISHED}) == 3
    assert min(len(values["JWT_SECRET"]), len(values["WEBHOOK_SECRET"])) >= 32
    env = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "WEBHOOK_SECRET")}
    code = "from chalicelib import settings; print(repr(settings.JWT_SECRET), repr(settings.WEBHOOK_SECRET))"
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["''", "''"], "the code still carries a default secret"


def _signatures(header: str) -> tuple[int, list[str]]:
    parts = [part.split("=", 1) for part in header.split(",")]
    return int(next(v for k, v in parts if k == "t")), [v for k, v in parts if k == "v1"]


def _signed_with(secret: str, headers: dict, body: bytes) -> bool:
    timestamp, signatures = _signatures(headers["x-ai3d-signature"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def _cancelled_job_delivery(user: ApiUser, project: str, url: str, receiver) -> tuple[dict, bytes]:
    """Start a job with a webhook, cancel it, and return the delivery the receiver got for it."""
    response = user.start_job(project, "TEXT_TO_AVATAR", {"prompt": "a man"}, webhookUrl=url)
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    assert user.call("POST", f"/jobs/{job}/cancel").status_code == 200
    assert eventually(lambda: any(job in body.decode() for _, _, body in receiver.received), 60)
    return next((headers, body) for _, headers, body in receiver.received if job in body.decode())


def test_webhooks_are_signed_with_the_users_own_rotatable_secret(stack, user, receiver):
    project = user.project()
    refused = user.call(
        "POST",
        "/jobs",
        json={"projectId": project, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "a"}, "webhookUrl": receiver.url},
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "WEBHOOK_SECRET_REQUIRED", refused.text
    created = user.call("POST", "/users/me/webhook-secret")
    assert created.status_code == 201, created.text
    first = created.json()["secret"]
    assert first.startswith("whsec_") and len(first) >= 38
    me = user.call("GET", "/users/me")
    assert first not in me.text and me.json()["webhookSecret"]["createdAt"]  # shown once, never again
    headers, body = _cancelled_job_delivery(user, project, receiver.url + "/one", receiver)
    timestamp, _ = _signatures(headers["x-ai3d-signature"])
    assert abs(time.time() - timestamp) < 120  # the timestamp is signed with the body: replays can be refused
    assert _signed_with(first, headers, body)
    env_secrets = json.loads((stack.log_path.parent / "secrets.json").read_text())
    assert not any(_signed_with(s, headers, body) for s in (*env_secrets.values(), PUBLISHED))
    other = ApiUser(stack.api_url)
    assert other.call("POST", "/users/me/webhook-secret").json()["secret"] != first  # per user

    second = user.call("POST", "/users/me/webhook-secret").json()["secret"]
    assert second != first
    headers, body = _cancelled_job_delivery(user, project, receiver.url + "/two", receiver)
    assert _signed_with(second, headers, body)
