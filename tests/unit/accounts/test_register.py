"""POST /auth/register: validation, normalisation, the one-transaction account creation and its uniqueness."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest

from chalicelib import accounts, settings
from chalicelib.errors import Conflict
from chalicelib.store.db import EmailClaim, LedgerEntry, Marker, User

from .conftest import PASSWORD, table_items


def test_register_returns_user_and_tokens(api):
    data = api.register("Ann@Example.com", name="Ann")
    assert set(data) == {"user", "accessToken", "refreshToken", "expiresIn"}
    user = data["user"]
    assert set(user) == {"id", "email", "name", "role", "tier", "credits", "disabled", "createdAt", "webhookSecret"}
    assert user["email"] == "ann@example.com"
    assert (user["role"], user["tier"], user["disabled"]) == ("USER", "FREE", False)
    assert user["credits"] == settings.TIERS["FREE"].monthly_credits
    me = api.call("GET", "/users/me", token=data["accessToken"])
    assert me.status == 200 and me.json == user


def test_register_writes_user_claim_grant_and_marker(api):
    user = api.register("bob@example.com")["user"]
    stored = User.get(*User.key(user["id"]))
    assert stored.gsi1pk == "USERS" and stored.gsi1sk == f"{stored.created_at}#{stored.id}"
    assert bcrypt.checkpw(PASSWORD.encode(), stored.password_hash.encode())
    assert stored.password_hash.startswith(f"$2b${settings.BCRYPT_ROUNDS:02d}$")
    assert EmailClaim.get("EMAIL#bob@example.com", "EMAIL").user_id == user["id"]
    entries = list(LedgerEntry.query(f"USER#{user['id']}", LedgerEntry.sk.startswith("LEDGER#")))
    assert [(e.type, e.amount) for e in entries] == [("GRANT", settings.TIERS["FREE"].monthly_credits)]
    assert entries[0].sk == f"LEDGER#{entries[0].created_at}#{entries[0].id}"
    month = stored.created_at[:7]
    assert Marker.get(f"USER#{user['id']}", f"GRANT#{month}").created_at == stored.created_at
    assert "passwordHash" not in str(
        api.call("GET", "/users/me", token=api.login("bob@example.com")["accessToken"]).json
    )


@pytest.mark.parametrize("variant", ["  CARL@example.COM ", "carl@example.com", "\uff43arl@example.com"])
def test_email_is_normalised_and_unique(api, variant):
    api.register("carl@example.com")
    reply = api.call("POST", "/auth/register", {"email": variant, "password": PASSWORD, "name": "Other"})
    assert reply.status == 409 and reply.json["error"]["code"] == "EMAIL_TAKEN"


@pytest.mark.parametrize(
    "body, code",
    [
        ({"email": "a@example.com", "password": "short", "name": "A"}, "WEAK_PASSWORD"),
        ({"email": "longname@example.com", "password": "LongName@Example.com", "name": "A"}, "WEAK_PASSWORD"),
        ({"email": "longname@example.com", "password": "longname", "name": "A"}, "WEAK_PASSWORD"),
        ({"email": "a@example.com", "password": "\u00e9" * 37, "name": "A"}, "PASSWORD_TOO_LONG"),  # 74 bytes, 37 chars
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, "INVALID_EMAIL"),
        ({"email": 42, "password": PASSWORD, "name": "A"}, "INVALID_EMAIL"),
        ({"email": "a@example.com", "password": PASSWORD}, "VALIDATION_ERROR"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "   "}, "VALIDATION_ERROR"),
        ({"email": "a@example.com", "password": PASSWORD, "name": "A", "role": "ADMIN"}, "UNKNOWN_FIELD"),
        ("not json", "INVALID_JSON"),
        ("[1, 2]", "INVALID_JSON"),
    ],
)
def test_register_rejects_bad_input(api, body, code):
    reply = api.call("POST", "/auth/register", body)
    assert reply.status == 400, reply
    assert reply.json["error"]["code"] == code
    assert set(reply.json["error"]) == {"code", "message"}
    assert table_items("USER#") == [] and table_items("EMAIL#") == []


def test_password_of_exactly_72_bytes_is_accepted(api):
    api.register("max@example.com", password="\u00e9" * 36)  # 72 bytes
    api.login("max@example.com", password="\u00e9" * 36)


def test_fifty_concurrent_registrations_create_one_user(aws, serialized_dynamodb):
    barrier = threading.Barrier(50)

    def sign_up(i: int) -> str:
        barrier.wait()
        try:
            accounts.create_user("race@example.com", PASSWORD, f"racer {i}")
            return "created"
        except Conflict as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(sign_up, range(50)))
    assert outcomes == {"created": 1, "EMAIL_TAKEN": 49}
    profiles = [i for i in table_items("USER#") if i["sk"]["S"] == "PROFILE"]
    assert len(profiles) == 1
    owner = profiles[0]["pk"]["S"]
    assert len(table_items("EMAIL#")) == 1
    assert {i["pk"]["S"] for i in table_items("USER#")} == {owner}  # no orphan ledger entries or markers
    assert len([i for i in table_items(owner) if i["sk"]["S"].startswith("LEDGER#")]) == 1


def test_sign_ups_from_one_address_are_throttled(client, monkeypatch):
    import json

    from chalicelib import settings

    monkeypatch.setattr(settings, "REGISTER_MAX_PER_ADDRESS", 3)
    codes = []
    for i in range(5):
        response = client.http.post(
            "/auth/register",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"email": f"flood{i}@example.com", "password": "correct horse battery", "name": "F"}),
        )
        codes.append(response.status_code)
    assert codes == [201, 201, 201, 429, 429]
    assert int(response.headers["Retry-After"]) > 0
    assert json.loads(response.body)["error"]["code"] == "TOO_MANY_REQUESTS"
