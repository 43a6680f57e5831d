"""Subscriptions over HTTP against the stack and its Stripe emulator: subscribe, webhooks -> tier and credits,
upgrade, downgrade at period end, payment failure -> PAST_DUE -> FREE, cancel and resume; replayed, late and
badly signed webhooks change nothing; the credit ledger sums to the balance throughout.

The emulator has no clock: where Stripe would end a period by itself, the test does what Stripe does then (creates
and charges the cycle's invoice, or deletes a subscription cancelled at period end) through the emulator's API."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest
import requests
import stripe

from tests.stackutil import ApiUser, running_stack, wait_for

GRACE_SECONDS = 15
CREDITS = {"FREE": 100, "STARTER": 500, "PRO": 2000}


@pytest.fixture(scope="module")
def stack():
    """A stack without workers (billing needs none) and a short past-due grace period."""
    grace = {"BILLING_GRACE_SECONDS": str(GRACE_SECONDS)}
    with running_stack(gpu_workers=0, blender_workers=0, extra_env=grace) as running:
        yield running


@pytest.fixture(scope="module")
def secrets(stack) -> dict:
    """The stack's generated secrets (its Stripe API key and webhook secret among them)."""
    return json.loads((Path(stack.log_path).parent / "secrets.json").read_text())


@pytest.fixture(scope="module")
def stripe_client(stack, secrets):
    """The Stripe SDK on the emulator, as Stripe.js (cards) and Stripe's own clock (period ends) use it."""
    return stripe.StripeClient(secrets["STRIPE_API_KEY"], base_addresses={"api": stack.stripe_url})


def card(client, number: str = "4242424242424242") -> str:
    """A PaymentMethod id for a test card, as Stripe.js creates it in the browser."""
    params = {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    return client.v1.payment_methods.create(params=params).id


def ledger(user: ApiUser) -> dict:
    """The balance and every ledger entry; asserts they agree (the view reads the balance, then the entries: a
    grant landing in between shows in one read only, so a disagreement is read again before it counts)."""
    for _ in range(5):
        data = user.call("GET", "/users/me/credits", params={"limit": 100}).json()
        if sum(e["amount"] for e in data["entries"]) == data["balance"]:
            return data
        time.sleep(0.5)
    raise AssertionError(f"the ledger does not sum to the balance: {data}")


def invoice_grants(user: ApiUser) -> list[dict]:
    """The ledger's invoice grants."""
    return [e for e in ledger(user)["entries"] if (e["reason"] or "").startswith("invoice ")]


def subscription(user: ApiUser) -> dict:
    """GET /billing/subscription."""
    response = user.call("GET", "/billing/subscription")
    assert response.status_code == 200, response.text
    return response.json()


def subscribe(user: ApiUser, client, plan: str = "STARTER") -> dict:
    """Subscribe and wait for the first invoice's credits."""
    response = user.call("POST", "/billing/subscription", json={"plan": plan, "paymentMethod": card(client)})
    assert response.status_code == 201, response.text
    wait_for(lambda: len(invoice_grants(user)) == 1, "the first invoice's credits", 60)
    return response.json()


def sign(payload: bytes, secret: str, at: int | None = None) -> str:
    """A Stripe-Signature header as Stripe computes it."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), b"%d.%s" % (at, payload), hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def post_event(stack, event: dict, signature: str) -> requests.Response:
    """Deliver one event to the webhook endpoint."""
    payload = json.dumps(event).encode()
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json; charset=utf-8"}
    return requests.post(f"{stack.api_url}/billing/webhook", data=payload, headers=headers, timeout=30)


def events_of(client, kind: str, object_id: str) -> list[dict]:
    """The emulator's events of a type about one object, as delivered."""
    found = client.v1.events.list(params={"type": kind, "limit": 100}).data
    return [e.to_dict() for e in found if e["data"]["object"]["id"] == object_id]


def end_of_period(client, customer: str, subscription_id: str):
    """What Stripe does when a period ends: invoice the next period and charge the default card."""
    invoice = client.v1.invoices.create(params={"customer": customer, "subscription": subscription_id})
    try:
        return client.v1.invoices.pay(invoice.id)
    except stripe.CardError:
        return client.v1.invoices.retrieve(invoice.id)


def customer_of(client, subscription_id: str) -> str:
    """The Stripe customer of a subscription."""
    return client.v1.subscriptions.retrieve(subscription_id).customer


def test_plans_list_paid_tiers_with_prices(stack):
    user = ApiUser(stack.api_url)
    plans = {p["tier"]: p for p in user.call("GET", "/billing/plans").json()["plans"]}
    assert plans["FREE"]["priceCents"] == 0
    assert plans["STARTER"]["priceCents"] == 900 and plans["PRO"]["monthlyCredits"] == 2000


def test_subscribe_paid_invoice_webhook_sets_tier_and_grants_credits_once(stack, stripe_client):
    user = ApiUser(stack.api_url)
    before = ledger(user)["balance"]
    project = user.project()
    video = {"filename": "long.mp4", "contentType": "video/mp4", "sizeBytes": 100 * 1024 * 1024, "kind": "VIDEO"}
    refused = user.call("POST", f"/projects/{project}/assets", json=video)
    assert refused.status_code == 413 and refused.json()["error"]["code"] == "FILE_TOO_LARGE"  # FREE: 50 MB
    sub = subscribe(user, stripe_client, "STARTER")
    assert sub["status"] == "active" and sub["tier"] == "STARTER" and not sub["cancelAtPeriodEnd"]
    time.sleep(3)  # every event of the subscription delivered (invoice.created, payment_succeeded, ...)
    assert len(invoice_grants(user)) == 1
    assert ledger(user)["balance"] == before + CREDITS["STARTER"]
    me = user.call("GET", "/users/me").json()
    assert me["tier"] == "STARTER"  # the tier's limits follow the subscription
    assert user.call("POST", f"/projects/{project}/assets", json=video).status_code == 201  # STARTER: 200 MB
    invoices = user.call("GET", "/billing/invoices").json()["invoices"]
    assert [(i["status"], i["amountPaidCents"], i["tier"]) for i in invoices] == [("paid", 900, "STARTER")]
    # a second subscription while one is live is refused
    again = user.call("POST", "/billing/subscription", json={"plan": "PRO", "paymentMethod": card(stripe_client)})
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_SUBSCRIBED"


def test_declined_card_is_402_and_leaves_no_subscription(stack, stripe_client):
    user = ApiUser(stack.api_url)
    method = card(stripe_client, "4000000000000341")  # attaches, then fails when charged
    response = user.call("POST", "/billing/subscription", json={"plan": "PRO", "paymentMethod": method})
    assert response.status_code == 402, response.text
    assert response.json()["error"]["code"] == "PAYMENT_FAILED"
    time.sleep(2.5)
    assert subscription(user)["tier"] == "FREE" and invoice_grants(user) == []


def test_bad_input_is_refused(stack, stripe_client):
    user = ApiUser(stack.api_url)
    for data in ({"plan": "GOLD", "paymentMethod": "pm_x"}, {"plan": "PRO", "paymentMethod": "card"}, {"plan": "FREE"}):
        response = user.call("POST", "/billing/subscription", json=data)
        assert response.status_code == 400, (data, response.text)
    assert user.call("PATCH", "/billing/subscription", json={"plan": "PRO"}).status_code == 404
    assert user.call("DELETE", "/billing/subscription").status_code == 404
    unauthenticated = requests.get(f"{stack.api_url}/billing/subscription", timeout=10)
    assert unauthenticated.status_code == 401


def test_replayed_late_and_badly_signed_webhooks_change_nothing(stack, stripe_client, secrets):
    user = ApiUser(stack.api_url)
    sub = subscribe(user, stripe_client, "PRO")
    time.sleep(2.5)
    state, balance = subscription(user), ledger(user)["balance"]
    paid = events_of(
        stripe_client,
        "invoice.payment_succeeded",
        stripe_client.v1.invoices.list(params={"customer": customer_of(stripe_client, sub["id"])}).data[0].id,
    )
    assert len(paid) == 1
    webhook_secret = secrets["STRIPE_WEBHOOK_SECRET"]
    # replayed: the same event again, correctly signed
    replay = post_event(stack, paid[0], sign(json.dumps(paid[0]).encode(), webhook_secret))
    assert replay.status_code == 200 and replay.json() == {"received": True, "duplicate": True}
    # late and out of order: the subscription's creation (status incomplete then) and a payment failure of the paid
    # invoice, first delivered now under new ids
    created = events_of(stripe_client, "customer.subscription.created", sub["id"])[0]
    failed = dict(paid[0], id=paid[0]["id"] + "late", type="invoice.payment_failed")
    for event in (dict(created, id=created["id"] + "late"), failed):
        response = post_event(stack, event, sign(json.dumps(event).encode(), webhook_secret))
        assert response.status_code == 200 and response.json()["duplicate"] is False, response.text
    assert subscription(user) == state and ledger(user)["balance"] == balance
    # badly signed: a wrong secret, a stale timestamp, no signature -> 400, nothing changes
    forged = dict(paid[0], id="evt_forged")
    payload = json.dumps(forged).encode()
    for signature in (sign(payload, "whsec_wrong"), sign(payload, webhook_secret, int(time.time()) - 3600), ""):
        response = post_event(stack, forged, signature)
        assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert subscription(user) == state and ledger(user)["balance"] == balance and len(invoice_grants(user)) == 1


def test_upgrade_now_and_downgrade_at_period_end(stack, stripe_client):
    user = ApiUser(stack.api_url)
    sub = subscribe(user, stripe_client, "STARTER")
    start = ledger(user)["balance"]
    up = user.call("PATCH", "/billing/subscription", json={"plan": "PRO"})
    assert up.status_code == 200, up.text
    assert up.json()["tier"] == "PRO" and up.json()["nextPlan"] is None
    wait_for(lambda: len(invoice_grants(user)) == 2, "the upgrade invoice's credits", 60)
    assert ledger(user)["balance"] == start + CREDITS["PRO"] - CREDITS["STARTER"]  # the difference, once
    customer = customer_of(stripe_client, sub["id"])
    upgrade = stripe_client.v1.invoices.list(params={"customer": customer}).data
    assert sorted(i.amount_paid for i in upgrade) == [900, 2000]  # 29.00 - 9.00 unused: invoiced at once
    down = user.call("PATCH", "/billing/subscription", json={"plan": "STARTER"})
    assert down.status_code == 200, down.text
    assert (down.json()["tier"], down.json()["plan"], down.json()["nextPlan"]) == ("PRO", "PRO", "STARTER")
    time.sleep(2.5)
    assert subscription(user)["tier"] == "PRO" and len(invoice_grants(user)) == 2  # until the period ends
    renewal = end_of_period(stripe_client, customer, sub["id"])
    assert renewal.status == "paid" and renewal.amount_paid == 900
    wait_for(lambda: subscription(user)["tier"] == "STARTER", "the downgrade at the period's end", 60)
    wait_for(lambda: len(invoice_grants(user)) == 3, "the renewal's credits", 60)
    assert ledger(user)["balance"] == start + CREDITS["PRO"] - CREDITS["STARTER"] + CREDITS["STARTER"]
    assert user.call("GET", "/users/me").json()["tier"] == "STARTER"


def test_payment_failure_past_due_then_free_after_grace(stack, stripe_client):
    user = ApiUser(stack.api_url)
    sub = subscribe(user, stripe_client, "STARTER")
    balance = ledger(user)["balance"]
    customer = customer_of(stripe_client, sub["id"])
    failing = card(stripe_client, "4000000000000341")  # the customer's new card: declined when charged
    stripe_client.v1.payment_methods.attach(failing, params={"customer": customer})
    stripe_client.v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": failing}})
    renewal = end_of_period(stripe_client, customer, sub["id"])
    assert renewal.status == "open"
    state = wait_for(lambda: (s := subscription(user))["status"] == "past_due" and s, "past due", 60)
    assert state["tier"] == "STARTER" and state["graceUntil"]  # still served during the grace period
    # the sweeper runs every 3 s here; a loaded machine can stall it for a minute
    wait_for(lambda: subscription(user)["tier"] == "FREE", "FREE after the grace period", GRACE_SECONDS + 120)
    assert user.call("GET", "/users/me").json()["tier"] == "FREE"
    assert ledger(user)["balance"] == balance and len(invoice_grants(user)) == 1  # an unpaid invoice grants nothing


def test_cancel_resume_and_end_at_period_end(stack, stripe_client):
    user = ApiUser(stack.api_url)
    sub = subscribe(user, stripe_client, "PRO")
    cancelled = user.call("DELETE", "/billing/subscription")
    assert cancelled.status_code == 200 and cancelled.json()["cancelAtPeriodEnd"] is True
    assert cancelled.json()["tier"] == "PRO"  # paid until the period ends
    resumed = user.call("POST", "/billing/subscription/resume")
    assert resumed.status_code == 200 and resumed.json()["cancelAtPeriodEnd"] is False
    assert user.call("POST", "/billing/subscription/resume").status_code == 409
    assert user.call("DELETE", "/billing/subscription").json()["cancelAtPeriodEnd"] is True
    stripe_client.v1.subscriptions.cancel(sub["id"])  # the period ended: Stripe deletes the subscription
    wait_for(lambda: subscription(user)["status"] == "canceled", "the deletion webhook", 60)
    assert subscription(user)["tier"] == "FREE" and user.call("GET", "/users/me").json()["tier"] == "FREE"
    assert len(invoice_grants(user)) == 1


def test_admin_metrics_show_mrr_subscriptions_by_tier_and_churn(stack, stripe_client):
    from tests.stackutil import make_admin

    admin = make_admin(stack)
    before = admin.call("GET", "/admin/metrics").json()["billing"]
    user = ApiUser(stack.api_url)
    subscribe(user, stripe_client, "PRO")
    after = admin.call("GET", "/admin/metrics").json()["billing"]
    assert after["mrrCents"] - before["mrrCents"] == 2900
    assert after["activeByTier"]["PRO"] - before["activeByTier"]["PRO"] == 1
    assert after["started"] - before["started"] == 1 and after["currency"] == "usd"
    assert user.call("GET", "/admin/metrics").status_code == 403


def test_deleting_the_account_ends_its_subscription(stack, stripe_client):
    user = ApiUser(stack.api_url)
    sub = subscribe(user, stripe_client, "STARTER")
    assert user.call("DELETE", "/users/me").status_code == 202
    assert stripe_client.v1.subscriptions.retrieve(sub["id"]).status == "canceled"  # nothing more is charged


def test_undoing_a_downgrade_charges_nothing(stack, stripe_client):
    user = ApiUser(stack.api_url)
    sub = subscribe(user, stripe_client, "PRO")
    down = user.call("PATCH", "/billing/subscription", json={"plan": "STARTER"}).json()
    assert (down["tier"], down["nextPlan"]) == ("PRO", "STARTER")
    back = user.call("PATCH", "/billing/subscription", json={"plan": "PRO"})
    assert back.status_code == 200 and (back.json()["tier"], back.json()["nextPlan"]) == ("PRO", None)
    assert user.call("PATCH", "/billing/subscription", json={"plan": "PRO"}).json()["error"]["code"] == "SAME_PLAN"
    time.sleep(2.5)
    invoices = stripe_client.v1.invoices.list(params={"customer": customer_of(stripe_client, sub["id"])}).data
    assert [i.amount_paid for i in invoices] == [2900] and len(invoice_grants(user)) == 1
