"""Helpers for the accounts tests: a JSON client, quick sign-ups and admins, and a serialised moto DynamoDB."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest

PASSWORD = "correct horse battery"


@dataclass
class Reply:
    """A response: status, decoded JSON body (or None) and headers."""

    status: int
    json: dict | None
    headers: dict


class Api:
    """chalice.test.Client speaking JSON."""

    def __init__(self, client):
        self.client = client

    def call(self, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None) -> Reply:
        """Send one request; `body` is JSON-encoded unless it is already a string."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        raw = body if isinstance(body, str) or body is None else json.dumps(body)
        response = getattr(self.client.http, method.lower())(path, headers=sent, body=raw or "")
        return Reply(response.status_code, json.loads(response.body) if response.body else None, response.headers)

    def register(self, email: str, password: str = PASSWORD, name: str = "Test User") -> dict:
        """Sign up and return the 201 body."""
        reply = self.call("POST", "/auth/register", {"email": email, "password": password, "name": name})
        assert reply.status == 201, reply
        return reply.json

    def login(self, email: str, password: str = PASSWORD) -> dict:
        """Log in and return the 200 body."""
        reply = self.call("POST", "/auth/login", {"email": email, "password": password})
        assert reply.status == 200, reply
        return reply.json


@pytest.fixture
def api(client) -> Api:
    """The app over chalice's test client, on a fresh moto table."""
    return Api(client)


@pytest.fixture
def admin(api) -> dict:
    """A logged-in admin made with the create_admin command: the login body."""
    from chalicelib.create_admin import main

    assert main(["--email", "root@example.com", "--password", PASSWORD, "--name", "Root"]) == 0
    return api.login("root@example.com")


@pytest.fixture
def serialized_dynamodb(monkeypatch):
    """Serialise moto's DynamoDB request handling, as DynamoDB serialises transactions.

    In-process moto applies a transaction as check, write, and restore-a-deep-copy-on-failure with no
    lock, so racing threads can corrupt its tables (observed: a failed transaction's restore erasing a
    concurrent success, "dictionary changed size during iteration"). A per-request lock gives the
    isolation the real service guarantees while leaving every read-then-write gap in our code open.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.Lock()
    original = DynamoHandler.call_action

    def call_action(self):
        with lock:
            return original(self)

    monkeypatch.setattr(DynamoHandler, "call_action", call_action)


def table_items(prefix: str = "") -> list[dict]:
    """Every item whose pk starts with `prefix` (a test-only scan, in plain DynamoDB JSON)."""
    import boto3

    from chalicelib import settings

    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=settings.TABLE_NAME)
    return [item for page in pages for item in page["Items"] if item["pk"]["S"].startswith(prefix)]
