"""Buying a plan as a user: with the CLI (`ai3d billing ...`) and in the web app in headless Chromium (card entry
through the Stripe emulator's Stripe.js stand-in), on a stack without workers (billing needs none)."""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import CliUser
from tests.stackutil import start_stack, stop_stack_process


@pytest.fixture(scope="module")
def stack():
    """This module's own stack, without workers."""
    running = start_stack(gpu_workers=0, blender_workers=0)
    yield running
    stop_stack_process(running.process)


def wait_for(check, what: str, timeout: float = 30):
    """Poll `check` until it returns something truthy."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_cli_plans_subscribe_status_change_cancel_resume(stack, tmp_path):
    cli = CliUser(stack.api_url, tmp_path / "config").register()
    plans = cli("billing", "plans").ok().json
    assert [p["tier"] for p in plans] == ["FREE", "STARTER", "PRO", "ENTERPRISE"]
    assert "PER MONTH" in cli("billing", "plans", as_json=False).ok().out
    assert cli("billing", "status").ok().json["status"] == "none"
    missing = cli("billing", "subscribe", "pro")
    assert missing.code == 2 and "--payment-method" in missing.error_line
    assert cli("billing", "subscribe", "GOLD", "--payment-method", "pm_card_visa").code == 2  # a 400
    before = cli.balance()
    sub = cli("billing", "subscribe", "pro", "--payment-method", "pm_card_visa").ok().json
    assert (sub["status"], sub["tier"], sub["plan"]) == ("active", "PRO", "PRO")
    wait_for(lambda: cli.balance() == before + 2000, "the paid invoice's credits")
    status = cli("billing", "status").ok().json
    assert [(i["status"], i["amountPaidCents"]) for i in status["invoices"]] == [("paid", 2900)]
    assert "PRO plan, active" in cli("billing", "status", as_json=False).ok().out
    assert cli("billing", "cancel").ok().json["cancelAtPeriodEnd"] is True
    assert cli("billing", "cancel", "--resume").ok().json["cancelAtPeriodEnd"] is False
    down = cli("billing", "subscribe", "starter").ok().json  # live: a change of plan, from the period's end
    assert (down["tier"], down["nextPlan"]) == ("PRO", "STARTER")
    time.sleep(2)
    assert cli.balance() == before + 2000  # nothing granted twice, nothing for the coming downgrade
