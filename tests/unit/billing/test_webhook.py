"""The webhook in process (moto) against a real Stripe emulator process: each event handled once, replays and any
order converge on Stripe's state, concurrent deliveries grant an invoice's credits exactly once, bad signatures
change nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
import stripe

from chalicelib import settings
from chalicelib.billing import plans, subscriptions, webhook
from chalicelib.contract import keys
from chalicelib.errors import ValidationError
from chalicelib.store.db import Marker, Subscription, User
from chalicelib.tokens import Principal
from tests.stackutil import free_port

ROOT = Path(__file__).resolve().parents[3]
WEBHOOK_SECRET = "whsec_" + secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def emulator():
    """The patched Stripe emulator on a free port (no webhook delivery: the tests deliver events themselves)."""
    port = free_port()
    state = tempfile.mkdtemp(prefix="ai3d-stripe-")
    args = [sys.executable, "-m", "devstack.stripe_emulator.server", "--port", str(port), "--state-dir", state]
    process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(f"{base}/js.stripe.com/v3/", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def billing(aws, emulator, monkeypatch):
    """Settings on moto and the emulator; the catalog created; returns a Stripe client for the test's own calls."""
    key = "sk_test_" + secrets.token_urlsafe(32)  # a key of its own: connect() caches a client per key
    monkeypatch.setattr(settings, "STRIPE_API_BASE", emulator)
    monkeypatch.setattr(settings, "STRIPE_API_KEY", key)
    monkeypatch.setattr(settings, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    plans.ensure_catalog(key)
    plans.ensure_catalog(key)  # idempotent
    return stripe.StripeClient(key, base_addresses={"api": emulator})


def signed(event: dict, secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple[bytes, str]:
    """The payload and Stripe-Signature of an event."""
    payload = json.dumps(event).encode()
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), b"%d.%s" % (at, payload), hashlib.sha256).hexdigest()
    return payload, f"t={at},v1={digest}"


def subscribed_user(client, tier: str = "STARTER") -> tuple[str, str]:
    """A registered user subscribed to `tier` (its events not delivered yet): (user id, subscription id)."""
    from chalicelib import accounts

    user = accounts.create_user(f"u-{secrets.token_hex(4)}@example.com", "correct horse battery", "T")
    params = {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    method = client.v1.payment_methods.create(params=params).id
    view = subscriptions.start(Principal(user_id=user.id, role="USER"), {"plan": tier, "paymentMethod": method})
    return user.id, view["id"]


def events_about(client, customer: str) -> list[dict]:
    """Every event the emulator raised about a customer's objects, oldest first."""
    found = [e.to_dict() for e in client.v1.events.list(params={"limit": 100}).data]
    mine = [e for e in found if e["data"]["object"].get("customer") == customer]
    return sorted(mine, key=lambda e: e["created"])


def balance_and_ledger(user_id: str) -> tuple[int, int, int]:
    """(balance, sum of the ledger, invoice grant markers)."""
    from chalicelib.credits import ledger

    data = ledger(user_id, {"limit": "100"})
    markers = list(Marker.query(keys.user_partition(user_id), Marker.sk.startswith("INVOICE#")))
    return data["balance"], sum(e["amount"] for e in data["entries"]), len(markers)


def test_events_in_any_order_and_replayed_grant_each_invoice_once(billing):
    user_id, sub_id = subscribed_user(billing)
    customer = billing.v1.subscriptions.retrieve(sub_id).customer
    events = events_about(billing, customer)
    assert {"invoice.payment_succeeded", "customer.subscription.created"} <= {e["type"] for e in events}
    start_balance = User.get(*keys.user(user_id)).credits
    for event in reversed(events):  # newest first
        assert webhook.handle(*signed(event))["duplicate"] is False
    for event in events:  # all again: replays
        assert webhook.handle(*signed(event))["duplicate"] is True
    for event in events:  # late copies under new ids: applied, and change nothing
        webhook.handle(*signed(dict(event, id=event["id"] + "x")))
    balance, ledger_sum, markers = balance_and_ledger(user_id)
    assert balance == ledger_sum == start_balance + settings.TIERS["STARTER"].monthly_credits and markers == 1
    state = subscriptions.record(user_id)
    assert (state.status, state.tier) == ("active", "STARTER")
    assert User.get(*keys.user(user_id)).tier == "STARTER" and User.get(*keys.user(user_id)).billed


def test_concurrent_deliveries_grant_an_invoice_once(billing):
    user_id, sub_id = subscribed_user(billing, "PRO")
    customer = billing.v1.subscriptions.retrieve(sub_id).customer
    paid = next(e for e in events_about(billing, customer) if e["type"] == "invoice.payment_succeeded")
    copies = [dict(paid, id=f"{paid['id']}-{n}") for n in range(6)]  # as if Stripe retried under new ids
    errors: list[BaseException] = []

    def deliver(event: dict) -> None:
        try:
            webhook.handle(*signed(event))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(event,)) for event in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    balance, ledger_sum, markers = balance_and_ledger(user_id)
    assert balance == ledger_sum and markers == 1
    assert balance == settings.TIERS["FREE"].monthly_credits + settings.TIERS["PRO"].monthly_credits


def test_bad_signatures_change_nothing(billing):
    user_id, sub_id = subscribed_user(billing)
    customer = billing.v1.subscriptions.retrieve(sub_id).customer
    paid = next(e for e in events_about(billing, customer) if e["type"] == "invoice.payment_succeeded")
    payload, good = signed(paid)
    attempts = (
        signed(paid, "whsec_not-the-secret"),
        signed(paid, at=int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS - 10),
        (payload.replace(b"invoice.payment_succeeded", b"invoice.paid"), good),  # tampered after signing
        (payload, ""),
    )
    for body, signature in attempts:
        with pytest.raises(ValidationError) as refused:
            webhook.handle(body, signature or None)
        assert refused.value.code == "INVALID_SIGNATURE"
    assert balance_and_ledger(user_id)[2] == 0
    with pytest.raises(Marker.DoesNotExist):
        Marker.get(*keys.stripe_event(paid["id"]))


def test_the_monthly_grant_skips_subscribers(billing):
    from chalicelib import credits

    user_id, sub_id = subscribed_user(billing)
    customer = billing.v1.subscriptions.retrieve(sub_id).customer
    for event in events_about(billing, customer):
        webhook.handle(*signed(event))
    before = balance_and_ledger(user_id)
    credits.grant_all("2099-01-01T00:00:00.000Z")
    assert balance_and_ledger(user_id) == before  # the invoices grant a subscriber's credits, not the month


def test_admin_metrics_count_mrr_tiers_and_churn(billing):
    from chalicelib.billing import metrics

    since = "2000-01-01T00:00:00.000Z"
    before = metrics.report(since)
    starter_user, starter = subscribed_user(billing, "STARTER")
    pro_user, pro = subscribed_user(billing, "PRO")
    billing.v1.subscriptions.cancel(pro)  # the PRO subscription ends
    for sub_id in (starter, pro):
        subscriptions.sync(sub_id)
    after = metrics.report(since)
    assert after["mrrCents"] - before["mrrCents"] == settings.PLAN_PRICES_CENTS["STARTER"]
    assert after["activeByTier"]["STARTER"] - before["activeByTier"]["STARTER"] == 1
    assert after["activeByTier"]["PRO"] == before["activeByTier"]["PRO"]
    assert (after["started"] - before["started"], after["churned"] - before["churned"]) == (2, 1)
    assert 0 < after["churnRate"] <= 1


def test_a_second_subscribe_while_one_is_in_flight_is_refused(billing):
    from chalicelib import accounts
    from chalicelib.errors import Conflict

    user = accounts.create_user(f"u-{secrets.token_hex(4)}@example.com", "correct horse battery", "T")
    principal = Principal(user_id=user.id, role="USER")
    params = {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    item = subscriptions._customer(user)
    item.update(actions=[Subscription.starting_until.set(int(time.time()) + 60)])  # another call holds the lock
    with pytest.raises(Conflict) as busy:
        subscriptions.start(
            principal, {"plan": "PRO", "paymentMethod": billing.v1.payment_methods.create(params=params).id}
        )
    assert busy.value.code == "BILLING_BUSY"
    assert billing.v1.subscriptions.list(params={"customer": item.customer_id}).data == []
    subscriptions._release_start(user.id)
    view = subscriptions.start(
        principal, {"plan": "PRO", "paymentMethod": billing.v1.payment_methods.create(params=params).id}
    )
    assert view["status"] == "active" and subscriptions.record(user.id).starting_until is None  # released


def test_the_sweeper_drops_an_expired_past_due_subscription_to_free(billing):
    user_id, sub_id = subscribed_user(billing, "STARTER")
    item = subscriptions.record(user_id)
    assert item.tier == "STARTER"
    item.status, item.past_due_since, item.grace_until = "past_due", 1_000, 2_000  # failed long ago
    item.tier = subscriptions.effective_tier(item, 1_500)
    subscriptions._index(item)
    subscriptions._save(item)
    assert User.get(*keys.user(user_id)).tier == "STARTER"
    assert subscriptions.expire_grace(now=1_900) == 0  # still within the grace
    assert subscriptions.expire_grace(now=2_100) == 1
    assert subscriptions.record(user_id).tier == "FREE" and User.get(*keys.user(user_id)).tier == "FREE"
    assert subscriptions.expire_grace(now=2_200) == 0  # off the index
