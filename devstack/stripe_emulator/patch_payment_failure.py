"""Patch of the Stripe emulator: a declined charge of an invoice fails the invoice, as on Stripe.

The gap it fills: localstripe 1.15.10 pays an invoice (POST /v1/invoices/<id>/pay, and a subscription's first
invoice) with a no-op failure callback, so when the card is declined (e.g. 4000000000000341) the invoice just stays
open: no `invoice.payment_failed` event and the subscription never becomes `past_due`. Stripe sends the event and
marks a renewing subscription past_due (a first invoice leaves it `incomplete`). This runs localstripe's own failure
handling (event, subscription state) after such a payment. The canary test
tests/unit/devstack/test_stripe_emulator.py::test_localstripe_still_ignores_declined_invoice_payments fails once
upstream handles it: then drop this module.
"""

from __future__ import annotations


def apply() -> None:
    """Wrap localstripe's invoice payment with Stripe's handling of a declined charge."""
    from localstripe import resources as r

    original = r.Invoice._api_pay_invoice.__func__

    @classmethod  # type: ignore[misc]
    def _api_pay_invoice(cls, id):
        invoice = original(cls, id)
        charge = invoice.charge
        if invoice.status == "open" and charge is not None and charge.status == "failed":
            invoice._on_payment_failure_now()
        return invoice

    r.Invoice._api_pay_invoice = _api_pay_invoice
    # the HTTP route was bound when localstripe was imported (apply this before importing localstripe.server)
    bound = r.Invoice._api_pay_invoice
    r.extra_apis[:] = [(m, url, bound if url == "/v1/invoices/{id}/pay" else f) for m, url, f in r.extra_apis]
