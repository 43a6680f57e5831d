"""Admin routes: who may call them, paginated listing over gsi1, role/tier/disable/credit changes, create_admin."""

from __future__ import annotations

import pytest

from chalicelib import accounts, settings
from chalicelib.create_admin import main as create_admin
from chalicelib.store.db import LedgerEntry, User

from .conftest import PASSWORD


def test_non_admins_get_403(api):
    data = api.register("yan@example.com")
    for method, path, body in (
        ("GET", "/admin/users", None),
        ("PATCH", f"/admin/users/{data['user']['id']}", {"role": "ADMIN"}),
    ):
        reply = api.call(method, path, body, token=data["accessToken"])
        assert reply.status == 403 and reply.json["error"]["code"] == "FORBIDDEN"
    assert api.call("GET", "/admin/users").status == 401


def test_listing_pages_through_every_user_without_a_scan(api, admin, monkeypatch):
    from pynamodb.connection.base import Connection

    created = {api.register(f"user{i:02d}@example.com")["user"]["id"] for i in range(23)}
    monkeypatch.setattr(Connection, "scan", lambda *a, **k: pytest.fail("listing users must not scan"))
    seen, pages, token = [], [], None
    while True:
        params = "limit=10" + (f"&nextToken={token}" if token else "")
        reply = api.call("GET", f"/admin/users?{params}", token=admin["accessToken"])
        assert reply.status == 200, reply
        pages.append(len(reply.json["items"]))
        seen += [u["id"] for u in reply.json["items"]]
        token = reply.json["nextToken"]
        if not token:
            break
    assert pages[:2] == [10, 10] and sum(pages) == 24
    assert len(seen) == len(set(seen)) and set(seen) == created | {admin["user"]["id"]}
    stamps = [User.get(*User.key(uid)).gsi1sk for uid in seen]
    assert stamps == sorted(stamps, reverse=True)  # newest first


@pytest.mark.parametrize("params", ["limit=0", "limit=101", "limit=ten", "nextToken=bm9wZQ", "nextToken=%%%"])
def test_listing_rejects_bad_parameters(api, admin, params):
    reply = api.call("GET", f"/admin/users?{params}", token=admin["accessToken"])
    assert reply.status == 400, reply


def test_change_role_tier_and_credits(api, admin):
    user = api.register("zed@example.com")["user"]
    reply = api.call(
        "PATCH",
        f"/admin/users/{user['id']}",
        {"role": "ADMIN", "tier": "PRO", "creditAdjustment": 50, "reason": "goodwill"},
        token=admin["accessToken"],
    )
    assert reply.status == 200, reply
    assert (reply.json["role"], reply.json["tier"], reply.json["credits"]) == (
        "ADMIN",
        "PRO",
        settings.TIERS["FREE"].monthly_credits + 50,
    )
    entries = [
        e for e in LedgerEntry.query(f"USER#{user['id']}", LedgerEntry.sk.startswith("LEDGER#")) if e.type == "ADJUST"
    ]
    assert [(e.amount, e.reason.startswith("goodwill")) for e in entries] == [(50, True)]


def test_credit_adjustment_never_goes_below_zero(api, admin):
    user = api.register("amy@example.com")["user"]
    path = f"/admin/users/{user['id']}"
    too_much = api.call(
        "PATCH",
        path,
        {"creditAdjustment": -(user["credits"] + 1), "reason": "oops", "tier": "PRO"},
        token=admin["accessToken"],
    )
    assert too_much.status == 409 and too_much.json["error"]["code"] == "NEGATIVE_BALANCE"
    stored = User.get(*User.key(user["id"]))
    assert (stored.credits, stored.tier) == (user["credits"], "FREE")  # nothing of the request applied
    assert [e.type for e in LedgerEntry.query(f"USER#{user['id']}", LedgerEntry.sk.startswith("LEDGER#"))] == ["GRANT"]
    exact = api.call(
        "PATCH", path, {"creditAdjustment": -user["credits"], "reason": "reset"}, token=admin["accessToken"]
    )
    assert exact.status == 200 and exact.json["credits"] == 0


@pytest.mark.parametrize(
    "body, code",
    [
        ({}, "VALIDATION_ERROR"),
        ({"role": "ROOT"}, "VALIDATION_ERROR"),
        ({"tier": "GOLD"}, "VALIDATION_ERROR"),
        ({"disabled": "yes"}, "VALIDATION_ERROR"),
        ({"creditAdjustment": 5}, "VALIDATION_ERROR"),
        ({"creditAdjustment": 1.5, "reason": "x"}, "VALIDATION_ERROR"),
        ({"creditAdjustment": True, "reason": "x"}, "VALIDATION_ERROR"),
        ({"reason": "x"}, "VALIDATION_ERROR"),
        ({"credits": 5}, "UNKNOWN_FIELD"),
    ],
)
def test_admin_patch_rejects_bad_input(api, admin, body, code):
    user = api.register("bea@example.com")["user"]
    reply = api.call("PATCH", f"/admin/users/{user['id']}", body, token=admin["accessToken"])
    assert (reply.status, reply.json["error"]["code"]) == (400, code)


def test_unknown_user_and_self_lockout(api, admin):
    assert api.call("PATCH", "/admin/users/nope", {"tier": "PRO"}, token=admin["accessToken"]).status == 404
    me = f"/admin/users/{admin['user']['id']}"
    for body in ({"role": "USER"}, {"disabled": True}):
        reply = api.call("PATCH", me, body, token=admin["accessToken"])
        assert reply.status == 400 and reply.json["error"]["code"] == "SELF_LOCKOUT"


def test_disabling_revokes_sessions_and_enabling_restores_login(api, admin):
    data = api.register("cyd@example.com")
    path = f"/admin/users/{data['user']['id']}"
    reply = api.call("PATCH", path, {"disabled": True}, token=admin["accessToken"])
    assert reply.status == 200 and reply.json["disabled"] is True
    assert api.call("POST", "/auth/refresh", {"refreshToken": data["refreshToken"]}).status == 401
    api.call("PATCH", path, {"disabled": False}, token=admin["accessToken"])
    assert api.call("POST", "/auth/refresh", {"refreshToken": data["refreshToken"]}).status == 401  # stays revoked
    api.login("cyd@example.com")


def test_a_demoted_admin_loses_admin_routes_at_once(api, admin):
    other = api.register("dee@example.com")
    api.call("PATCH", f"/admin/users/{other['user']['id']}", {"role": "ADMIN"}, token=admin["accessToken"])
    other_admin = api.login("dee@example.com")
    api.call("PATCH", f"/admin/users/{other['user']['id']}", {"role": "USER"}, token=admin["accessToken"])
    reply = api.call("GET", "/admin/users", token=other_admin["accessToken"])  # a role change revokes its tokens
    assert reply.status == 401 and reply.json["error"]["code"] == "TOKEN_REVOKED"
    again = api.login("dee@example.com")
    assert api.call("GET", "/admin/users", token=again["accessToken"]).status == 403


def test_create_admin_creates_then_promotes(aws, capsys):
    assert create_admin(["--email", "New.Admin@example.com", "--password", PASSWORD]) == 0
    user = accounts.user_by_email("new.admin@example.com")
    assert (user.role, user.name, user.credits) == ("ADMIN", "new.admin", settings.TIERS["FREE"].monthly_credits)
    accounts.create_user("plain@example.com", PASSWORD, "Plain")
    assert create_admin(["--email", "plain@example.com", "--password", "ignored for existing"]) == 0
    assert "promoted" in capsys.readouterr().out
    promoted = accounts.user_by_email("plain@example.com")
    assert promoted.role == "ADMIN"
    assert accounts.login({"email": "plain@example.com", "password": PASSWORD}, "127.0.0.1")["user"]["role"] == "ADMIN"
    assert create_admin(["--email", "weak@example.com", "--password", "short"]) == 2
    assert "WEAK_PASSWORD" in capsys.readouterr().err
