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


def failures(email: str, address: str, count: int) -> list[int]:
    """`count` wrong passwords for `email` from `address`, as fast as they go; the statuses."""
    answers = []
    for _ in range(count):
        try:
            accounts.login({"email": email, "password": WRONG}, address)
        except (Unauthorized, TooManyRequests) as exc:
            answers.append(exc.status)
    return answers


def test_failures_from_one_address_are_slowed_by_growing_delays(api, monkeypatch):
    api.register("fay@example.com")
    clock = [1_000_000.0]
    monkeypatch.setattr(accounts, "_now", lambda: clock[0])
    free = settings.LOGIN_FREE_FAILURES
    assert failures("fay@example.com", "203.0.113.1", free + 1) == [401] * free + [429]
    waits = []
    for _ in range(4):  # wait as told each time: the next failure counts, and the wait after it doubles
        with pytest.raises(TooManyRequests) as caught:
            accounts.login({"email": "fay@example.com", "password": PASSWORD}, "203.0.113.1")  # the right one too
        waits.append(int(caught.value.headers["Retry-After"]))
        clock[0] += waits[-1]
        assert failures("fay@example.com", "203.0.113.1", 1) == [401]
    assert waits == [1, 2, 4, 8]
    item = Throttle.get("THROTTLE#login:fay@example.com|203.0.113.1", "THROTTLE")
    assert item.failures == free + 4 and item.ttl == int(clock[0]) + settings.LOGIN_FAILURE_MEMORY_SECONDS
    assert accounts.delay_after(1000, free) == settings.LOGIN_MAX_DELAY_SECONDS
    unknown = failures("ghost@example.com", "203.0.113.1", free + 1)
    assert unknown[-1] == 429  # unknown emails are slowed alike (no hint that the account is missing)


def test_the_owner_is_never_locked_out_by_someone_elses_failures(api, monkeypatch):
    api.register("gus@example.com")
    assert failures("gus@example.com", "203.0.113.2", 10)[-1] == 429
    api.login("gus@example.com")  # from the owner's own address: nothing to wait for


def test_success_starts_the_callers_delays_afresh(api, monkeypatch):
    api.register("hal@example.com")
    clock = [1_000_000.0]
    monkeypatch.setattr(accounts, "_now", lambda: clock[0])
    free = settings.LOGIN_FREE_FAILURES
    assert failures("hal@example.com", "127.0.0.1", free) == [401] * free
    clock[0] += 1  # the one second the next attempt had to wait
    api.login("hal@example.com")
    assert failures("hal@example.com", "127.0.0.1", free + 1) == [401] * free + [429]  # free ones again


def test_one_source_address_is_slowed_across_emails(aws):
    free = settings.LOGIN_ADDRESS_FREE_FAILURES
    spray = [failures(f"spray{i}@example.com", "203.0.113.9", 1)[0] for i in range(free + 1)]
    assert spray == [401] * free + [429]
    assert failures("fresh@example.com", "198.51.100.7", 1) == [401]  # another address is unaffected


def test_an_account_under_a_distributed_attack_is_capped_but_its_known_addresses_get_in(api, monkeypatch):
    api.register("ida@example.com")
    api.login("ida@example.com")  # from 127.0.0.1: a known address from now on
    monkeypatch.setattr(settings, "LOGIN_ACCOUNT_MAX_FAILURES", 6)
    for i in range(6):  # six addresses, one failure each: no address is slowed, the account's cap is reached
        assert failures("ida@example.com", f"198.51.100.{i}", 1) == [401]
    assert failures("ida@example.com", "198.51.100.99", 1) == [429]  # a new address must wait for the window
    api.login("ida@example.com")  # the owner's known address gets in


def test_disabled_user_cannot_log_in(api, admin):
    user = api.register("ivy@example.com")["user"]
    assert api.call("PATCH", f"/admin/users/{user['id']}", {"disabled": True}, token=admin["accessToken"]).status == 200
    reply = api.call("POST", "/auth/login", {"email": "ivy@example.com", "password": PASSWORD})
    assert reply.status == 403 and reply.json["error"]["code"] == "ACCOUNT_DISABLED"
    wrong = api.call("POST", "/auth/login", {"email": "ivy@example.com", "password": WRONG})
    assert wrong.status == 401  # without the password nobody learns the account is disabled
