"""Accounts over HTTP against the running stack: register -> login -> refresh -> me, and the refusals on the way."""

from __future__ import annotations

import uuid

import requests

PASSWORD = "correct horse battery staple"


def post(stack, path: str, body: dict) -> requests.Response:
    return requests.post(f"{stack.api_url}{path}", json=body, timeout=30)


def test_register_login_refresh_me(stack):
    email = f"http-{uuid.uuid4().hex[:10]}@Example.com"
    registered = post(stack, "/auth/register", {"email": email, "password": PASSWORD, "name": "Http"})
    assert registered.status_code == 201, registered.text
    user = registered.json()["user"]
    assert user["email"] == email.lower() and user["tier"] == "FREE" and user["credits"] > 0

    duplicate = post(stack, "/auth/register", {"email": email.upper(), "password": PASSWORD, "name": "Again"})
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "EMAIL_TAKEN"

    wrong = post(stack, "/auth/login", {"email": email, "password": "not the password"})
    assert wrong.status_code == 401 and wrong.json() == {
        "error": {"code": "INVALID_CREDENTIALS", "message": "wrong email or password"}
    }

    login = post(stack, "/auth/login", {"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["user"] == user

    refreshed = post(stack, "/auth/refresh", {"refreshToken": login.json()["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    pair = refreshed.json()

    me = requests.get(
        f"{stack.api_url}/users/me", headers={"Authorization": f"Bearer {pair['accessToken']}"}, timeout=30
    )
    assert me.status_code == 200 and me.json() == user

    reused = post(stack, "/auth/refresh", {"refreshToken": login.json()["refreshToken"]})
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"
    assert post(stack, "/auth/refresh", {"refreshToken": pair["refreshToken"]}).status_code == 401  # family revoked

    anonymous = requests.get(f"{stack.api_url}/users/me", timeout=30)  # refused before the authorizer runs
    assert anonymous.status_code == 401 and set(anonymous.json()["error"]) == {"code", "message"}
    forged = requests.get(
        f"{stack.api_url}/users/me", headers={"Authorization": "Bearer forged.token.here"}, timeout=30
    )
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "INVALID_TOKEN"
