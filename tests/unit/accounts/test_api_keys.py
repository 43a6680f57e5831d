"""API keys in-process: creation rules, scopes, the per-key rate window and its headers, lastUsedAt, revocation."""

from __future__ import annotations

import uuid

from chalicelib import settings


def _user(api) -> str:
    return api.register(f"k-{uuid.uuid4().hex[:8]}@example.com")["accessToken"]


def _key(api, token: str, scopes: list[str], name: str = "script") -> dict:
    reply = api.call("POST", "/api-keys", {"name": name, "scopes": scopes}, token=token)
    assert reply.status == 201, reply
    return reply.json


def test_a_key_is_shown_once_and_stored_only_hashed(api):
    from chalicelib import apikeys
    from chalicelib.contract import keys
    from chalicelib.store.db import ApiKey

    token = _user(api)
    created = _key(api, token, ["jobs", "read"])
    value = created["key"]
    assert value.startswith("a3d_") and len(value) == 47
    assert created["scopes"] == ["read", "jobs"] and created["last4"] == value[-4:]
    listed = api.call("GET", "/api-keys", token=token).json["items"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    stored = ApiKey.get(*keys.api_key(apikeys.digest_of(value)))
    assert value not in str(stored.attribute_values)


def test_bad_key_requests_are_refused(api, admin):
    token = _user(api)
    for body, code in (
        ({"name": "x", "scopes": []}, "INVALID_SCOPES"),
        ({"name": "x", "scopes": ["root"]}, "INVALID_SCOPES"),
        ({"name": "x", "scopes": ["read", "read"]}, "INVALID_SCOPES"),
        ({"name": "", "scopes": ["read"]}, "INVALID_NAME"),
        ({"name": "a\x00b", "scopes": ["read"]}, "INVALID_TEXT"),
        ({"name": "x", "scopes": ["read"], "extra": 1}, "UNKNOWN_FIELD"),
    ):
        reply = api.call("POST", "/api-keys", body, token=token)
        assert (reply.status, reply.json["error"]["code"]) == (400, code), body
    reply = api.call("POST", "/api-keys", {"name": "x", "scopes": ["admin"]}, token=token)
    assert (reply.status, reply.json["error"]["code"]) == (403, "SCOPE_NOT_ALLOWED")
    assert api.call("POST", "/api-keys", {"name": "x", "scopes": ["admin"]}, token=admin["accessToken"]).status == 201


def test_scopes_decide_what_a_key_may_do(api, admin):
    token = _user(api)
    read = _key(api, token, ["read"])["key"]
    jobs = _key(api, token, ["jobs"])["key"]
    assert api.call("GET", "/users/me", token=read).status == 200
    refused = api.call("POST", "/projects", {"name": "p"}, token=read)
    assert (refused.status, refused.json["error"]["code"]) == (403, "SCOPE_REQUIRED")
    assert api.call("POST", "/projects", {"name": "p"}, token=jobs).status == 201
    # keys never manage keys or the account, nor reach admin routes without the admin scope
    assert api.call("POST", "/api-keys", {"name": "y", "scopes": ["read"]}, token=jobs).status == 403
    assert api.call("GET", "/api-keys", token=jobs).status == 403
    assert api.call("DELETE", "/users/me", token=jobs).status == 403
    admin_read = _key(api, admin["accessToken"], ["read"])["key"]
    assert api.call("GET", "/admin/users", token=admin_read).status == 403
    admin_key = _key(api, admin["accessToken"], ["admin"])["key"]
    assert api.call("GET", "/admin/users", token=admin_key).status == 200


def test_rate_window_headers_429_and_last_used(api, monkeypatch):
    monkeypatch.setattr(settings, "API_KEY_RATE_LIMIT", 3)
    token = _user(api)
    created = _key(api, token, ["read"])
    assert created["lastUsedAt"] is None
    seen = [api.call("GET", "/users/me", token=created["key"]) for _ in range(4)]
    assert [r.status for r in seen] == [200, 200, 200, 429]
    assert [r.headers["RateLimit-Remaining"] for r in seen] == ["2", "1", "0", "0"]
    assert all(r.headers["RateLimit-Limit"] == "3" for r in seen)
    assert 1 <= int(seen[3].headers["Retry-After"]) <= settings.API_KEY_RATE_WINDOW_SECONDS
    assert seen[3].headers["RateLimit-Reset"] == seen[3].headers["Retry-After"]
    assert seen[3].json["error"]["code"] == "RATE_LIMITED"
    listed = api.call("GET", "/api-keys", token=token).json["items"][0]
    assert listed["lastUsedAt"] is not None


def test_a_new_window_resets_the_count(aws, monkeypatch):
    from chalicelib import apikeys
    from chalicelib.errors import TooManyRequests
    from chalicelib.tokens import Principal

    monkeypatch.setattr(settings, "API_KEY_RATE_LIMIT", 1)
    value = apikeys.create(Principal("u1", "USER"), {"name": "n", "scopes": ["read"]})["key"]
    auth = apikeys.KeyAuth("u1", "USER", apikeys.digest_of(value), ("read",))
    start = 1_000_040.0  # 20 s into a 60 s window
    assert apikeys.admit(auth, "GET", "/jobs", now=start)["RateLimit-Reset"] == "40"
    try:
        apikeys.admit(auth, "GET", "/jobs", now=start + 1)
        raise AssertionError("the second request in the window was let through")
    except TooManyRequests:
        pass
    assert apikeys.admit(auth, "GET", "/jobs", now=start + 60)["RateLimit-Remaining"] == "0"


def test_revoked_key_is_refused_at_once(api):
    token = _user(api)
    created = _key(api, token, ["read"])
    assert api.call("GET", "/users/me", token=created["key"]).status == 200
    assert api.call("DELETE", f"/api-keys/{created['id']}", token=token).status == 204
    reply = api.call("GET", "/users/me", token=created["key"])
    assert (reply.status, reply.json["error"]["code"]) == (401, "INVALID_API_KEY")
    assert api.call("DELETE", f"/api-keys/{created['id']}", token=token).status == 404
    other = _user(api)
    mine = _key(api, token, ["read"])
    assert api.call("DELETE", f"/api-keys/{mine['id']}", token=other).status == 404
    forged = api.call("GET", "/users/me", token="a3d_" + "A" * 43)
    assert (forged.status, forged.json["error"]["code"]) == (401, "INVALID_API_KEY")


def test_a_disabled_owners_key_cannot_write_at_once(api, admin):
    registered = api.register(f"k-{uuid.uuid4().hex[:8]}@example.com")
    key = _key(api, registered["accessToken"], ["jobs"])["key"]
    assert api.call("POST", "/projects", {"name": "p"}, token=key).status == 201
    patched = api.call(
        "PATCH", f"/admin/users/{registered['user']['id']}", {"disabled": True}, token=admin["accessToken"]
    )
    assert patched.status == 200, patched
    refused = api.call("POST", "/projects", {"name": "q"}, token=key)
    assert (refused.status, refused.json["error"]["code"]) == (401, "ACCOUNT_UNAVAILABLE")


def test_a_keys_scope_is_judged_on_the_route_with_or_without_v1():
    from chalicelib import apikeys

    for method, path, scope in (
        ("POST", "/jobs", "jobs"),
        ("POST", "/projects/p1/assets", "jobs"),
        ("GET", "/admin/users", "admin"),
        ("GET", "/jobs/j1", "read"),
        ("POST", "/api-keys", None),
    ):
        assert apikeys.required_scope(method, path) == scope, path
        assert apikeys.required_scope(method, f"/v1{path}") == scope, f"/v1{path}"
