"""Canaries: vanilla localstripe still has each gap a devstack/stripe_emulator/patch_*.py closes (a failure names
the patch to drop); and the patched emulator keeps its snapshot in the state dir it is given."""

from __future__ import annotations

import inspect
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import stripe

from devstack.stripe_emulator import patch_persistence, patch_proration
from tests.stackutil import free_port

ROOT = Path(__file__).resolve().parents[3]


def test_localstripe_still_lacks_proration_behavior():
    assert not patch_proration.upstream_takes_proration_behavior(), (
        "localstripe now takes proration_behavior: drop devstack/stripe_emulator/patch_proration.py"
    )


def test_localstripe_still_uses_a_fixed_snapshot_path():
    from localstripe import resources

    source = inspect.getsource(resources.Store.dump_to_disk) + inspect.getsource(resources.Store.try_load_from_disk)
    assert source.count(patch_persistence.UPSTREAM_PATH) == 2, (
        "localstripe no longer writes /tmp/localstripe.pickle: drop devstack/stripe_emulator/patch_persistence.py"
    )


def test_localstripe_still_ignores_declined_invoice_payments():
    from localstripe import resources

    source = inspect.getsource(resources.Invoice._api_pay_invoice)
    assert "on_failure_now=lambda: None" in source, (
        "localstripe changed how it pays invoices: check whether a declined charge now fails the invoice, and if so "
        "drop devstack/stripe_emulator/patch_payment_failure.py"
    )


def test_the_patched_emulator_snapshots_into_its_state_dir_and_restores_from_it():
    state, port = Path(tempfile.mkdtemp(prefix="ai3d-stripe-")), free_port()
    args = [sys.executable, "-m", "devstack.stripe_emulator.server", "--port", str(port), "--state-dir", str(state)]
    base = f"http://127.0.0.1:{port}"

    def run() -> subprocess.Popen:
        process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/js.stripe.com/v3/", timeout=1).ok:
                    return process
            except requests.RequestException:
                time.sleep(0.2)
        raise AssertionError("the Stripe emulator did not start")

    client = stripe.StripeClient("sk_test_snapshot", base_addresses={"api": base})
    process = run()
    try:
        customer = client.v1.customers.create(params={"email": "a@example.com"}).id
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (state / "stripe.pickle").exists()
    process = run()
    try:
        assert client.v1.customers.retrieve(customer).email == "a@example.com"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_state_dir_from_before_billing_gets_the_stripe_secrets_added(tmp_path):
    import json

    from devstack import state

    (tmp_path / state.SECRETS_FILE).write_text(json.dumps({"JWT_SECRET": "j" * 40, "WEBHOOK_SECRET": "w" * 40}))
    values = state.local_secrets(tmp_path)
    assert values["JWT_SECRET"] == "j" * 40 and values["WEBHOOK_SECRET"] == "w" * 40  # kept
    assert values["STRIPE_API_KEY"].startswith("sk_test_") and values["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    assert state.local_secrets(tmp_path) == values  # written back: the same at the next start


def test_localstripe_still_lacks_create_payment_method():
    from devstack.stripe_emulator import patch_stripe_js

    assert patch_stripe_js.UPSTREAM_STUB in patch_stripe_js.upstream_script(), (
        "localstripe's Stripe.js stand-in changed createPaymentMethod: check it creates a PaymentMethod with the "
        "publishable key, then drop devstack/stripe_emulator/patch_stripe_js.py"
    )
    assert "/v1/payment_methods" in patch_stripe_js.patched_script()
