"""Projects: CRUD, newest-first pagination, and owner-only visibility (404 for others)."""

from tests.unit.platform.helpers import call, register


def test_create_get_update_delete(client):
    alice = register(client)
    status, project = call(client, "POST", "/projects", alice, {"name": "Shoot", "description": "day 1"})
    assert status == 201 and project["name"] == "Shoot"
    assert call(client, "GET", f"/projects/{project['id']}", alice)[1]["description"] == "day 1"
    status, updated = call(client, "PATCH", f"/projects/{project['id']}", alice, {"name": "Shoot 2"})
    assert status == 200 and updated["name"] == "Shoot 2"
    assert call(client, "DELETE", f"/projects/{project['id']}", alice)[0] == 204
    assert call(client, "GET", f"/projects/{project['id']}", alice)[0] == 404


def test_validation_errors_are_json(client):
    alice = register(client)
    status, body = call(client, "POST", "/projects", alice, {"name": "   "})
    assert status == 400 and body["error"]["code"] == "INVALID_NAME"
    status, body = call(client, "POST", "/projects", alice, {"name": "x" * 101})
    assert status == 400
    response = client.http.post("/projects", headers=alice["headers"], body="{not json")
    assert response.status_code == 400 and b"INVALID_JSON" in response.body


def test_list_is_newest_first_and_paginated(client):
    alice = register(client)
    ids = [call(client, "POST", "/projects", alice, {"name": f"p{i}"})[1]["id"] for i in range(5)]
    status, page1 = call(client, "GET", "/projects?limit=2", alice)
    assert status == 200 and [p["id"] for p in page1["items"]] == ids[::-1][:2]
    _, page2 = call(client, "GET", f"/projects?limit=2&nextToken={page1['nextToken']}", alice)
    _, page3 = call(client, "GET", f"/projects?limit=2&nextToken={page2['nextToken']}", alice)
    assert [p["id"] for p in page2["items"] + page3["items"]] == ids[::-1][2:]
    assert call(client, "GET", "/projects?nextToken=garbage", alice)[0] == 400


def test_other_users_get_404_and_cannot_list(client):
    alice, bob = register(client), register(client)
    project = call(client, "POST", "/projects", alice, {"name": "secret"})[1]
    for method, path, body in [
        ("GET", f"/projects/{project['id']}", None),
        ("PATCH", f"/projects/{project['id']}", {"name": "x"}),
        ("DELETE", f"/projects/{project['id']}", None),
        ("GET", f"/projects/{project['id']}/assets", None),
        (
            "POST",
            f"/projects/{project['id']}/assets",
            {"filename": "a.png", "contentType": "image/png", "sizeBytes": 10, "kind": "IMAGE"},
        ),
    ]:
        status, data = call(client, method, path, bob, body)
        assert status == 404 and data["error"]["code"] == "NOT_FOUND", (method, path)
    _, mine = call(client, "GET", "/projects", bob)
    assert mine["items"] == []
    # a cursor from Alice's listing cannot page Bob into her partition
    for i in range(3):
        call(client, "POST", "/projects", alice, {"name": f"p{i}"})
    _, page = call(client, "GET", "/projects?limit=1", alice)
    assert call(client, "GET", f"/projects?limit=1&nextToken={page['nextToken']}", bob)[0] == 400


def test_requests_without_valid_token_are_401(client):
    status, body = call(client, "GET", "/projects", {"headers": {"Authorization": "Bearer nope"}})
    assert status == 401 and body["error"]["code"] == "INVALID_TOKEN"


def test_chalice_refusals_use_the_error_shape(client):
    import json

    alice = register(client)
    response = client.http.post(
        "/projects",
        headers={"Authorization": alice["headers"]["Authorization"], "Content-Type": "text/plain"},
        body='{"name": "x"}',
    )
    assert response.status_code == 415
    assert json.loads(response.body)["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
