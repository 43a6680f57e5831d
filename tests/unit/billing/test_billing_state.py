"""The pure parts of billing: what an invoice grants, which tier it pays for, and the tier a subscription gives."""

from __future__ import annotations

from chalicelib import settings
from chalicelib.billing import plans, subscriptions
from chalicelib.store.db import Subscription


def line(tier: str, amount: int, shape: str = "plan") -> dict:
    """An invoice line as the emulator (`plan`) or API 2025-03-31+ (`pricing`) shapes it."""
    if shape == "plan":
        return {"amount": amount, "plan": {"id": plans.plan_id(tier)}}
    return {"amount": amount, "pricing": {"price_details": {"price": plans.plan_id(tier)}}}


def invoice(*lines: dict, status: str = "paid") -> dict:
    """An invoice with these lines."""
    return {"id": "in_1", "status": status, "lines": {"data": list(lines)}}


def record(**fields) -> Subscription:
    """A subscription record (never saved)."""
    return Subscription("USER#u", "SUBSCRIPTION", user_id="u", customer_id="cus_1", created_at="", **fields)


def sub(status: str = "active", tier: str = "STARTER", latest: dict | None = None, **fields) -> dict:
    """A Stripe subscription as retrieved with its latest invoice expanded."""
    return {
        "id": "sub_1",
        "status": status,
        "customer": "cus_1",
        "items": {"data": [{"id": "si_1", "plan": {"id": plans.plan_id(tier)}}]},
        "current_period_start": 1_800_000_000,
        "current_period_end": 1_802_592_000,
        "latest_invoice": latest,
        **fields,
    }


def test_a_cycle_invoice_grants_its_tiers_monthly_credits():
    assert subscriptions.invoice_credits(invoice(line("PRO", 2900))) == settings.TIERS["PRO"].monthly_credits
    assert subscriptions.invoice_tier(invoice(line("PRO", 2900, "pricing"))) == "PRO"


def test_an_upgrade_invoice_grants_the_difference_and_pays_for_the_new_tier():
    upgrade = invoice(line("PRO", 2900), line("STARTER", -900))
    expected = settings.TIERS["PRO"].monthly_credits - settings.TIERS["STARTER"].monthly_credits
    assert subscriptions.invoice_credits(upgrade) == expected
    assert subscriptions.invoice_tier(upgrade) == "PRO"


def test_credits_are_never_negative_and_unknown_lines_grant_nothing():
    assert subscriptions.invoice_credits(invoice(line("STARTER", -900))) == 0
    assert subscriptions.invoice_credits(invoice({"amount": 500, "plan": {"id": "someone-elses"}})) == 0
    assert subscriptions.invoice_tier(invoice()) is None


def test_tier_follows_status_and_grace():
    now = 1_800_000_100.0
    assert subscriptions.effective_tier(record(status="active", paid_tier="PRO"), now) == "PRO"
    within = record(status="past_due", paid_tier="PRO", grace_until=int(now) + 1)
    assert subscriptions.effective_tier(within, now) == "PRO"
    after = record(status="past_due", paid_tier="PRO", grace_until=int(now) - 1)
    assert subscriptions.effective_tier(after, now) == "FREE"
    for status in ("canceled", "incomplete", "incomplete_expired", "unpaid"):
        assert subscriptions.effective_tier(record(status=status, paid_tier="PRO"), now) == "FREE"


def test_past_due_starts_the_grace_once_and_a_payment_ends_it():
    item, now = record(), 1_800_000_000.0
    subscriptions.apply_state(item, sub(latest=invoice(line("STARTER", 900))), now)
    assert (item.tier, item.paid_tier, item.gsi3pk) == ("STARTER", "STARTER", None)
    subscriptions.apply_state(item, sub("past_due", latest=invoice(line("STARTER", 900), status="open")), now)
    first = item.grace_until
    assert first == int(now + settings.BILLING_GRACE_SECONDS) and item.tier == "STARTER" and item.gsi3pk
    subscriptions.apply_state(item, sub("past_due", latest=invoice(line("STARTER", 900), status="open")), now + 60)
    assert item.grace_until == first  # a later event does not extend the grace
    subscriptions.apply_state(item, sub(latest=invoice(line("STARTER", 900))), now + 120)
    assert item.past_due_since is None and item.grace_until is None and item.gsi3pk is None


def test_a_downgrade_keeps_the_paid_tier_until_its_invoice_is_paid():
    item, now = record(), 1_800_000_000.0
    subscriptions.apply_state(item, sub(tier="STARTER", latest=invoice(line("PRO", 2900))), now)
    assert (item.plan_tier, item.paid_tier, item.tier) == ("STARTER", "PRO", "PRO")
    subscriptions.apply_state(item, sub(tier="STARTER", latest=invoice(line("STARTER", 900))), now)
    assert item.tier == "STARTER" and item.price_cents == settings.PLAN_PRICES_CENTS["STARTER"]


def test_the_period_is_read_from_the_item_on_newer_api_versions():
    item = record()
    newer = sub(latest=invoice(line("STARTER", 900)))
    del newer["current_period_end"]
    newer["items"]["data"][0]["current_period_end"] = 1_900_000_000
    subscriptions.apply_state(item, newer, 1_800_000_000.0)
    assert item.current_period_end == 1_900_000_000


def test_the_api_imports_the_stripe_sdk_only_when_billing_calls_stripe():
    """`import stripe` takes about a second: a cold start of any function must not pay it (docs/benchmarks.md)."""
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, app; print('stripe' in sys.modules)"
    root = Path(__file__).resolve().parents[3]
    shown = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False"
