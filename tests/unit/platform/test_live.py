"""Live progress protocol in-process: authentication first, only one's own jobs, malformed messages answered."""

import json

from chalicelib import live, settings
from chalicelib.contract import keys
from chalicelib.store.db import LiveConnection
from tests.unit.platform.helpers import call, register


def _job(client, user) -> str:
    pid = call(client, "POST", "/projects", user, {"name": "p"})[1]["id"]
    body = {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "a tall man"}}
    return call(client, "POST", "/jobs", user, body)[1]["id"]


def test_a_connection_authenticates_then_follows_only_its_own_jobs(client):
    alice, bob = register(client), register(client)
    mine, theirs = _job(client, alice), _job(client, bob)
    live.connect("c1")
    assert live.handle("c1", json.dumps({"action": "subscribe", "jobId": mine}))["code"] == "NOT_AUTHENTICATED"
    token = alice["headers"]["Authorization"].split()[1]
    assert live.handle("c1", json.dumps({"action": "auth", "token": token})) == {
        "type": "authenticated",
        "userId": alice["id"],
    }
    assert live.handle("c1", json.dumps({"action": "subscribe", "jobId": theirs}))["code"] == "NOT_FOUND"
    answer = live.handle("c1", json.dumps({"action": "subscribe", "jobId": mine}))
    assert answer["type"] == "subscribed" and answer["job"]["id"] == mine and answer["job"]["status"] == "PENDING"
    assert live.handle("c1", json.dumps({"action": "subscribe", "jobId": "*"})) == {"type": "subscribed", "jobId": "*"}
    stored = LiveConnection.get(*keys.connection("c1"))
    assert stored.jobs == [mine, "*"] and stored.user_id == alice["id"] and stored.ttl > 0
    # the connection is alice's: bob's token cannot take it over
    bob_token = bob["headers"]["Authorization"].split()[1]
    assert live.handle("c1", json.dumps({"action": "auth", "token": bob_token}))["status"] == 401
    live.disconnect("c1")
    assert live.handle("c1", json.dumps({"action": "subscribe", "jobId": mine}))["code"] == "UNKNOWN_CONNECTION"


def test_malformed_messages_get_an_error_message(aws):
    live.connect("c2")
    for raw, code in (
        ("not json", "INVALID_JSON"),
        ("[1]", "INVALID_JSON"),
        ('{"action": "fly"}', "INVALID_ACTION"),
        ('{"action": "auth"}', "INVALID_TOKEN"),
        ('{"action": "auth", "token": "a3d_nope"}', "INVALID_API_KEY"),
        ("x" * (settings.WEBSOCKET_MESSAGE_MAX + 1), "MESSAGE_TOO_LARGE"),
    ):
        answer = live.handle("c2", raw)
        assert answer["type"] == "error" and answer["code"] == code, (raw[:20], answer)
    assert live.handle("c2", '{"action": "ping"}') == {"type": "pong"}


def test_connections_per_account_are_capped(client, monkeypatch):
    monkeypatch.setattr(settings, "CONNECTIONS_PER_USER", 1)
    alice = register(client)
    token = alice["headers"]["Authorization"].split()[1]
    live.connect("a1")
    live.connect("a2")
    assert live.handle("a1", json.dumps({"action": "auth", "token": token}))["type"] == "authenticated"
    refused = live.handle("a2", json.dumps({"action": "auth", "token": token}))
    assert (refused["status"], refused["code"]) == (429, "TOO_MANY_CONNECTIONS")
    live.disconnect("a1")
    assert live.handle("a2", json.dumps({"action": "auth", "token": token}))["type"] == "authenticated"
