"""Issue 20, item 3: revocation takes effect within 30 s on every route. The authorizer checks the user's token
version and the token's session (cached at most 15 s there and 15 s at API Gateway), and every write re-checks that
the user is active. Before the fix an access token lived its full 15 minutes: after logout, a password change,
disabling, deletion or demotion it still read and wrote (a disabled user created projects and got upload URLs, a
demoted admin still read others' projects)."""

from __future__ import annotations

import requests

from tests.security.conftest import eventually
from tests.stackutil import ApiUser, make_admin

UPLOAD = {"filename": "a.png", "contentType": "image/png", "sizeBytes": 100, "kind": "IMAGE"}


def refused(api: str, token: str, method: str = "GET", path: str = "/projects", **kwargs) -> bool:
    """True when the API answers 401 to this token."""
    response = requests.request(method, api + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)
    return response.status_code == 401


def login(user: ApiUser) -> dict:
    """A new session of `user`: {accessToken, refreshToken, ...}."""
    response = requests.post(f"{user.api}/auth/login", json={"email": user.email, "password": user.password})
    assert response.status_code == 200, response.text
    return response.json()


def test_logout_ends_the_sessions_access_token(stack, user):
    session = login(user)
    assert not refused(stack.api_url, session["accessToken"])
    assert requests.post(f"{stack.api_url}/auth/logout", json={"refreshToken": session["refreshToken"]}).ok
    assert eventually(lambda: refused(stack.api_url, session["accessToken"]))
    assert not refused(stack.api_url, user.token)  # another session of the same user goes on


def test_logout_everywhere_ends_every_session(stack, user):
    other = login(user)
    response = user.call("POST", "/auth/logout-all")
    assert response.status_code == 204, response.text
    assert refused(stack.api_url, user.token, "POST", "/projects", json={"name": "x"})  # writes: at once
    assert eventually(lambda: refused(stack.api_url, user.token) and refused(stack.api_url, other["accessToken"]))
    assert (
        requests.post(f"{stack.api_url}/auth/refresh", json={"refreshToken": other["refreshToken"]}).status_code == 401
    )


def test_a_password_change_ends_the_old_tokens(stack, user):
    old = user.token
    response = user.call(
        "PATCH", "/users/me", json={"currentPassword": user.password, "newPassword": "another long password 42"}
    )
    assert response.status_code == 200, response.text
    assert refused(stack.api_url, old, "POST", "/projects", json={"name": "x"})
    assert eventually(lambda: refused(stack.api_url, old))
    assert not refused(stack.api_url, response.json()["accessToken"])


def test_a_disabled_user_can_no_longer_write_or_read(stack, user):
    admin = make_admin(stack)
    project = user.project()
    assert admin.call("PATCH", f"/admin/users/{user.id}", json={"disabled": True}).status_code == 200
    assert refused(stack.api_url, user.token, "POST", "/projects", json={"name": "x"})
    assert refused(stack.api_url, user.token, "POST", f"/projects/{project}/assets", json=UPLOAD)
    assert eventually(lambda: refused(stack.api_url, user.token, "GET", f"/projects/{project}"))


def test_a_deleted_user_cannot_create_anything(stack, user):
    token = user.token
    assert user.call("DELETE", "/users/me").status_code in (202, 204)
    assert refused(stack.api_url, token, "POST", "/projects", json={"name": "owned by nobody"})
    assert eventually(lambda: refused(stack.api_url, token))


def test_a_demoted_admin_loses_other_users_data(stack, user):
    root = make_admin(stack)
    demoted = make_admin(stack)
    project = user.project()
    assert demoted.call("GET", f"/projects/{project}").status_code == 200  # an admin sees everything
    assert root.call("PATCH", f"/admin/users/{demoted.id}", json={"role": "USER"}).status_code == 200
    assert eventually(lambda: demoted.call("GET", f"/projects/{project}").status_code in (401, 404))
    assert demoted.call("DELETE", f"/projects/{project}").status_code in (401, 404)
    assert user.call("GET", f"/projects/{project}").status_code == 200
