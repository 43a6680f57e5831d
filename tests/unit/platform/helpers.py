"""Small helpers for platform unit tests (chalice test client + moto)."""

from __future__ import annotations

import json
import uuid


def register(client, email: str | None = None) -> dict:
    """Register a user through the API; returns {"id", "headers"}."""
    email = email or f"u-{uuid.uuid4().hex[:8]}@example.com"
    response = client.http.post(
        "/auth/register",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"email": email, "password": "correct horse battery", "name": "T"}),
    )
    assert response.status_code == 201, response.body
    data = json.loads(response.body)
    return {
        "id": data["user"]["id"],
        "headers": {"Authorization": f"Bearer {data['accessToken']}", "Content-Type": "application/json"},
    }


def call(client, method: str, path: str, user: dict | None = None, body=None):
    """An API call; returns (status, parsed JSON or None)."""
    headers = dict(user["headers"]) if user else {"Content-Type": "application/json"}
    response = getattr(client.http, method.lower())(
        path, headers=headers, body=json.dumps(body) if body is not None else None
    )
    return response.status_code, (json.loads(response.body) if response.body else None)
