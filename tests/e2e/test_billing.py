"""Buying a plan as a user: with the CLI (`ai3d billing ...`) and in the web app in headless Chromium (card entry
through the Stripe emulator's Stripe.js stand-in), on a stack without workers (billing needs none)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import CliUser, run_browser_script
from tests.stackutil import ROOT, running_stack, wait_for

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def stack():
    """This module's own stack, without workers."""
    with running_stack(gpu_workers=0, blender_workers=0) as running:
        yield running


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
    wait_for(lambda: cli.balance() == before + 2000, "the paid invoice's credits", 60)
    status = cli("billing", "status").ok().json
    assert [(i["status"], i["amountPaidCents"]) for i in status["invoices"]] == [("paid", 2900)]
    assert "PRO plan, active" in cli("billing", "status", as_json=False).ok().out
    assert cli("billing", "cancel").ok().json["cancelAtPeriodEnd"] is True
    assert cli("billing", "cancel", "--resume").ok().json["cancelAtPeriodEnd"] is False
    down = cli("billing", "subscribe", "starter").ok().json  # live: a change of plan, from the period's end
    assert (down["tier"], down["nextPlan"]) == ("PRO", "STARTER")
    time.sleep(2)
    assert cli.balance() == before + 2000  # nothing granted twice, nothing for the coming downgrade


def test_browser_buys_a_plan_with_a_card(stack, tmp_path):
    """Sign up, choose PRO, enter a card in the Stripe.js stand-in, pay: the tier, credits and invoice show it."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    if not shutil.which("node") or not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("node and `npm ci` (playwright-core) are needed for the browser test")
    result = run_browser_script("billing_e2e.mjs", stack.web_url, str(tmp_path))
    assert result["ok"], f"{result.get('error')}\nsteps: {result['steps']}\nconsole: {result['consoleErrors']}"
    assert result["tierBefore"].startswith("FREE") and result["headerTier"] == "PRO"
    assert int(result["creditsAfter"].split()[0]) == int(result["creditsBefore"].split()[0]) + 2000
    assert result["invoices"] == 1 and any("invoice in_" in row for row in result["ledger"])
    assert result["status"].startswith("active")
    assert not result["violations"], result["violations"]  # Stripe.js and its API calls within the CSP
