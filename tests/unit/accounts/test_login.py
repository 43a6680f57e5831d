"""POST /auth/login: one answer for every bad credential, equal bcrypt work, throttling and disabled accounts."""

from __future__ import annotations

import bcrypt
import pytest

from chalicelib import accounts, passwords, settings
from chalicelib.errors import TooManyRequests, Unauthorized
from chalicelib.store.db import Throttle, User

from .conftest import PASSWORD

WRONG = "wrong password 123"


def test_login_returns_tokens_and_user(api):
    user = api.register("dora@example.com")["user"]
    data = api.login("  DORA@example.com")
    assert set(data) == {"accessToken", "refreshToken", "expiresIn", "user"}
    assert data["user"] == user and data["expiresIn"] == settings.ACCESS_TOKEN_SECONDS


def test_unknown_email_and_wrong_password_look_the_same_and_cost_the_same(api, monkeypatch):
    user = api.register("eve@example.com")["user"]
    checked = []
    real_checkpw = bcrypt.checkpw
    monkeypatch.setattr(passwords.bcrypt, "checkpw", lambda pw, h: checked.append(h) or real_checkpw(pw, h))
    wrong = api.call("POST", "/auth/login", {"email": "eve@example.com", "password": WRONG})
    unknown = api.call("POST", "/auth/login", {"email": "nobody@example.com", "password": WRONG})
    assert wrong.status == unknown.status == 401
    assert (
        wrong.json == unknown.json == {"error": {"code": "INVALID_CREDENTIALS", "message": "wrong email or password"}}
    )
    # one bcrypt check each at the same cost: the user's hash, then the dummy hash for the unknown email
    assert checked == [User.get(*User.key(user["id"])).password_hash.encode(), passwords._dummy_hash()]
    assert {h[:7] for h in checked} == {f"$2b${settings.BCRYPT_ROUNDS:02d}$".encode()}


def test_overlong_password_is_just_wrong(api):
    api.register("long@example.com")
    reply = api.call("POST", "/auth/login", {"email": "long@example.com", "password": "x" * 200})
    assert reply.status == 401 and reply.json["error"]["code"] == "INVALID_CREDENTIALS"


@pytest.mark.parametrize(
    "body", [{"email": "a@example.com"}, {"password": "x"}, {"email": "a@example.com", "password": 5}]
)
def test_login_rejects_malformed_bodies(api, body):
    reply = api.call("POST", "/auth/login", body)
    assert reply.status == 400 and reply.json["error"]["code"] == "VALIDATION_ERROR"


def test_repeated_failures_for_one_email_are_throttled_with_retry_after(api):
    api.register("fay@example.com")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        assert api.call("POST", "/auth/login", {"email": "fay@example.com", "password": WRONG}).status == 401
    blocked = api.call("POST", "/auth/login", {"email": "fay@example.com", "password": PASSWORD})  # even the right one
    assert blocked.status == 429 and blocked.json["error"]["code"] == "TOO_MANY_REQUESTS"
    assert 0 < int(blocked.headers["Retry-After"]) <= settings.LOGIN_FAILURE_WINDOW_SECONDS
    item = Throttle.get("THROTTLE#email:fay@example.com", "THROTTLE")
    assert item.failures == settings.LOGIN_MAX_FAILURES and item.ttl > 0
    unknown = [
        api.call("POST", "/auth/login", {"email": "ghost@example.com", "password": WRONG}).status
        for _ in range(settings.LOGIN_MAX_FAILURES + 1)
    ]
    assert unknown[-1] == 429  # unknown emails are throttled alike (no hint that the account is missing)


def test_throttle_window_expires(api, monkeypatch):
    api.register("gus@example.com")
    for _ in range(settings.LOGIN_MAX_FAILURES):
        api.call("POST", "/auth/login", {"email": "gus@example.com", "password": WRONG})
    assert api.call("POST", "/auth/login", {"email": "gus@example.com", "password": PASSWORD}).status == 429
    later = accounts._now() + settings.LOGIN_FAILURE_WINDOW_SECONDS + 1
    monkeypatch.setattr(accounts, "_now", lambda: later)  # TTL deletion lags; the code checks the expiry itself
    assert api.call("POST", "/auth/login", {"email": "gus@example.com", "password": WRONG}).status == 401
    assert Throttle.get("THROTTLE#email:gus@example.com", "THROTTLE").failures == 1  # a new window
    api.login("gus@example.com")


def test_success_resets_the_email_counter(api):
    api.register("hal@example.com")
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        api.call("POST", "/auth/login", {"email": "hal@example.com", "password": WRONG})
    api.login("hal@example.com")
    for _ in range(settings.LOGIN_MAX_FAILURES - 1):
        assert api.call("POST", "/auth/login", {"email": "hal@example.com", "password": WRONG}).status == 401
    api.login("hal@example.com")


def test_one_source_address_is_throttled_across_emails(aws):
    ip_limit = settings.LOGIN_MAX_FAILURES * accounts.IP_FAILURE_FACTOR
    for i in range(ip_limit):
        with pytest.raises(Unauthorized):
            accounts.login({"email": f"spray{i}@example.com", "password": WRONG}, "203.0.113.9")
    with pytest.raises(TooManyRequests) as caught:
        accounts.login({"email": "fresh@example.com", "password": WRONG}, "203.0.113.9")
    assert int(caught.value.headers["Retry-After"]) > 0
    with pytest.raises(Unauthorized):  # another address is unaffected
        accounts.login({"email": "fresh@example.com", "password": WRONG}, "198.51.100.7")


def test_disabled_user_cannot_log_in(api, admin):
    user = api.register("ivy@example.com")["user"]
    assert api.call("PATCH", f"/admin/users/{user['id']}", {"disabled": True}, token=admin["accessToken"]).status == 200
    reply = api.call("POST", "/auth/login", {"email": "ivy@example.com", "password": PASSWORD})
    assert reply.status == 403 and reply.json["error"]["code"] == "ACCOUNT_DISABLED"
    wrong = api.call("POST", "/auth/login", {"email": "ivy@example.com", "password": WRONG})
    assert wrong.status == 401  # without the password nobody learns the account is disabled
