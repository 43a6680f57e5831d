"""/users/me: read, rename, change the password (ending other sessions), delete; stale tokens of gone accounts."""

from __future__ import annotations

from chalicelib import erasure, settings
from chalicelib.store.db import User

from .conftest import PASSWORD, table_items

NEW = "a brand new passphrase"


def test_get_and_rename(api):
    data = api.register("sam@example.com", name="Sam")
    reply = api.call("PATCH", "/users/me", {"name": "  Samuel "}, token=data["accessToken"])
    assert reply.status == 200 and set(reply.json) == {"user"}
    assert reply.json["user"]["name"] == "Samuel"
    assert api.call("GET", "/users/me", token=data["accessToken"]).json["name"] == "Samuel"


def test_patch_rejects_bad_input(api):
    token = api.register("tia@example.com")["accessToken"]
    for body, code in [
        ({}, "VALIDATION_ERROR"),
        ({"email": "x@example.com"}, "UNKNOWN_FIELD"),
        ({"name": ""}, "VALIDATION_ERROR"),
        ({"newPassword": NEW}, "VALIDATION_ERROR"),
        ({"newPassword": "short", "currentPassword": PASSWORD}, "WEAK_PASSWORD"),
        ({"currentPassword": PASSWORD}, "VALIDATION_ERROR"),
    ]:
        reply = api.call("PATCH", "/users/me", body, token=token)
        assert (reply.status, reply.json["error"]["code"]) == (400, code), body


def test_wrong_current_password_is_refused(api):
    token = api.register("uma@example.com")["accessToken"]
    reply = api.call("PATCH", "/users/me", {"newPassword": NEW, "currentPassword": "not the password"}, token=token)
    assert reply.status == 403 and reply.json["error"]["code"] == "INVALID_CURRENT_PASSWORD"
    api.login("uma@example.com")


def test_password_change_revokes_every_other_session(api):
    first = api.register("val@example.com")
    second = api.login("val@example.com")
    reply = api.call(
        "PATCH", "/users/me", {"newPassword": NEW, "currentPassword": PASSWORD}, token=first["accessToken"]
    )
    assert reply.status == 200 and set(reply.json) == {"user", "accessToken", "refreshToken", "expiresIn"}
    for old in (first["refreshToken"], second["refreshToken"]):
        refused = api.call("POST", "/auth/refresh", {"refreshToken": old})
        assert refused.status == 401 and refused.json["error"]["code"] == "INVALID_REFRESH_TOKEN"
    assert api.call("POST", "/auth/refresh", {"refreshToken": reply.json["refreshToken"]}).status == 200
    assert api.call("POST", "/auth/login", {"email": "val@example.com", "password": PASSWORD}).status == 401
    api.login("val@example.com", NEW)


def test_delete_me(api):
    data = api.register("wes@example.com")
    user_id = data["user"]["id"]
    reply = api.call("DELETE", "/users/me", token=data["accessToken"])
    assert reply.status == 202 and reply.json == {"id": user_id, "status": "DELETING"}
    gone = api.call("GET", "/users/me", token=data["accessToken"])  # the access token is still signed and fresh
    assert gone.status == 401 and gone.json["error"]["code"] == "ACCOUNT_UNAVAILABLE"
    assert api.call("POST", "/auth/refresh", {"refreshToken": data["refreshToken"]}).status == 401
    assert api.call("DELETE", "/users/me", token=data["accessToken"]).status == 401
    assert table_items("EMAIL#") == []  # the email is free at once; the rest goes with the queued erasure
    assert erasure.erase(user_id)
    assert table_items(f"USER#{user_id}") == [] and table_items("FAMILY#") == [] and table_items("REFRESH#") == []
    again = api.register("wes@example.com")  # the email is free again
    assert again["user"]["id"] != user_id and again["user"]["credits"] == settings.TIERS["FREE"].monthly_credits


def test_disabled_user_with_a_valid_access_token_is_refused(api, admin):
    data = api.register("xia@example.com")
    api.call("PATCH", f"/admin/users/{data['user']['id']}", {"disabled": True}, token=admin["accessToken"])
    for method, body in (("GET", None), ("PATCH", {"name": "X"}), ("DELETE", None)):
        reply = api.call(method, "/users/me", body, token=data["accessToken"])
        assert reply.status == 401 and reply.json["error"]["code"] == "ACCOUNT_UNAVAILABLE", method
    assert User.get(*User.key(data["user"]["id"])).name == "Test User"
