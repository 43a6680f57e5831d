"""Refresh-token rotation, reuse detection and logout; access tokens the authorizer must refuse."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest

from chalicelib import accounts, secrets, settings, tokens
from chalicelib.errors import Unauthorized
from chalicelib.store.db import RefreshToken, TokenFamily

from .conftest import table_items


def refresh(api, token):
    return api.call("POST", "/auth/refresh", {"refreshToken": token})


def test_refresh_rotates_the_pair(api):
    first = api.register("jo@example.com")
    reply = refresh(api, first["refreshToken"])
    assert reply.status == 200 and set(reply.json) == {"accessToken", "refreshToken", "expiresIn"}
    assert reply.json["refreshToken"] != first["refreshToken"]
    assert api.call("GET", "/users/me", token=reply.json["accessToken"]).status == 200
    assert refresh(api, reply.json["refreshToken"]).status == 200


def test_refresh_tokens_are_stored_hashed_with_ttl(api):
    data = api.register("kim@example.com")
    digest = hashlib.sha256(data["refreshToken"].encode()).hexdigest()
    item = RefreshToken.get(f"REFRESH#{digest}", "REFRESH")
    now = time.time()
    assert item.used is False and item.ttl == item.expires_at
    assert abs(item.expires_at - (now + settings.REFRESH_TOKEN_SECONDS)) < 60
    family = TokenFamily.get(f"FAMILY#{item.family_id}", "FAMILY")
    assert family.gsi1pk == f"USER#{data['user']['id']}" and family.gsi1sk == f"FAMILY#{item.family_id}"
    assert family.ttl >= item.expires_at and family.revoked is False
    assert data["refreshToken"] not in json.dumps(table_items())


def test_reusing_a_refresh_token_revokes_its_family(api):
    first = api.register("lee@example.com")
    other_session = api.login("lee@example.com")
    second = refresh(api, first["refreshToken"]).json
    reused = refresh(api, first["refreshToken"])
    assert reused.status == 401 and reused.json["error"]["code"] == "REFRESH_TOKEN_REUSED"
    later = refresh(api, second["refreshToken"])  # the thief's or the victim's newer token dies too
    assert later.status == 401 and later.json["error"]["code"] == "INVALID_REFRESH_TOKEN"
    assert refresh(api, other_session["refreshToken"]).status == 200  # another login is another family


def test_concurrent_uses_of_one_refresh_token_succeed_once(api, serialized_dynamodb):
    token = api.register("max@example.com")["refreshToken"]
    barrier = threading.Barrier(8)

    def use(_):
        barrier.wait()
        try:
            accounts.refresh({"refreshToken": token})
            return "rotated"
        except Unauthorized as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(pool.map(use, range(8)))
    # One wins. The others see the token used (and revoke the family), or, having read it just before the
    # winner's commit, find the family already revoked by one of them.
    assert outcomes["rotated"] == 1 and outcomes["REFRESH_TOKEN_REUSED"] >= 1
    assert outcomes["rotated"] + outcomes["REFRESH_TOKEN_REUSED"] + outcomes["INVALID_REFRESH_TOKEN"] == 8
    families = table_items("FAMILY#")
    assert len(families) == 1 and families[0]["revoked"] == {"BOOL": True}  # a token used twice ends the session


def test_logout_revokes_the_family(api):
    data = api.register("ned@example.com")
    rotated = refresh(api, data["refreshToken"]).json
    assert api.call("POST", "/auth/logout", {"refreshToken": rotated["refreshToken"]}).status == 204
    assert refresh(api, rotated["refreshToken"]).status == 401
    assert api.call("POST", "/auth/logout", {"refreshToken": "unknown"}).status == 204  # idempotent


def test_expired_and_unknown_refresh_tokens_are_refused(api, monkeypatch):
    data = api.register("oli@example.com")
    assert refresh(api, "not-a-token").json["error"]["code"] == "INVALID_REFRESH_TOKEN"
    assert refresh(api, 12).status == 400
    later = time.time() + settings.REFRESH_TOKEN_SECONDS + 1
    monkeypatch.setattr(accounts, "_now", lambda: later)
    reply = refresh(api, data["refreshToken"])
    assert reply.status == 401 and reply.json["error"]["code"] == "INVALID_REFRESH_TOKEN"


def test_refresh_picks_up_role_changes(api, admin):
    data = api.register("pam@example.com")
    api.call("PATCH", f"/admin/users/{data['user']['id']}", {"role": "ADMIN"}, token=admin["accessToken"])
    access = refresh(api, data["refreshToken"]).json["accessToken"]
    assert tokens.verify_access_token(access).role == "ADMIN"


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _claims(user_id: str, **override) -> dict:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": "USER",
        "iat": now,
        "exp": now + 600,
        "jti": "x",
        "sid": "s",
        "tv": 0,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
    }
    return {**claims, **override}


@pytest.mark.parametrize(
    "forge",
    [
        lambda uid: jwt.encode(_claims(uid), "another secret that is long enough 0123456789", algorithm="HS256"),
        lambda uid: _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims(uid)) + ".",
        lambda uid: jwt.encode(
            _claims(uid, iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
            secrets.jwt_secret(),
            algorithm="HS256",
        ),
        lambda uid: jwt.encode(_claims(uid, aud="another-api"), secrets.jwt_secret(), algorithm="HS256"),
        lambda uid: jwt.encode(_claims(uid, iss="someone-else"), secrets.jwt_secret(), algorithm="HS256"),
        lambda uid: jwt.encode(_claims(uid), secrets.jwt_secret(), algorithm="HS512"),
        lambda uid: jwt.encode(
            {k: v for k, v in _claims(uid).items() if k != "jti"}, secrets.jwt_secret(), algorithm="HS256"
        ),
        lambda uid: "garbage",
    ],
    ids=["forged", "alg-none", "expired", "other-audience", "wrong-issuer", "hs512", "no-jti", "garbage"],
)
@pytest.mark.filterwarnings("ignore:The HMAC key")  # HS512 with the (right) 45-byte secret
def test_bad_access_tokens_are_refused(api, forge):
    user_id = api.register("quinn@example.com")["user"]["id"]
    reply = api.call("GET", "/users/me", token=forge(user_id))
    assert reply.status == 401 and reply.json["error"]["code"] == "INVALID_TOKEN"


def test_missing_or_malformed_authorization_is_refused(api):
    assert api.call("GET", "/users/me").status == 401
    token = api.register("rae@example.com")["accessToken"]
    reply = api.call("GET", "/users/me", headers={"Authorization": f"Basic {token}"})
    assert reply.status == 401 and reply.json["error"]["code"] == "INVALID_TOKEN"
