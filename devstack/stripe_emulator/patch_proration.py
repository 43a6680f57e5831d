"""Patch of the Stripe emulator: `proration_behavior` on subscription updates, as Stripe takes it.

The gap it fills: localstripe 1.15.10's subscription update knows only the legacy `prorate`; it refuses
`proration_behavior` (a 500) and always leaves an "Unused time" credit pending for the next invoice. Stripe's
values: `create_prorations` (leave the proration pending: upstream's behaviour), `none` (no proration: the new
price applies from the next period; the pending credit is removed), `always_invoice` (invoice the proration now and
charge it). localstripe prorates by whole previous invoices, not by the time left: that approximation stays.
The canary test tests/unit/devstack/test_stripe_emulator.py::test_localstripe_still_lacks_proration_behavior fails
once upstream takes the parameter: then drop this module.
"""

from __future__ import annotations

import inspect

BEHAVIORS = ("create_prorations", "none", "always_invoice")


def upstream_takes_proration_behavior() -> bool:
    """True once localstripe's own subscription update accepts `proration_behavior`."""
    from localstripe import resources

    return "proration_behavior" in inspect.signature(resources.Subscription._update).parameters


def apply() -> None:
    """Wrap localstripe's subscription update with `proration_behavior`."""
    from localstripe import resources as r

    if upstream_takes_proration_behavior():
        raise RuntimeError("localstripe now takes proration_behavior: drop devstack/stripe_emulator/patch_proration.py")
    original = r.Subscription._update

    def pending(customer: str) -> list:
        """The customer's invoice items not on an invoice yet."""
        return [ii for ii in r.InvoiceItem._api_list_all(None, customer=customer, limit=99)._list if ii.invoice is None]

    def _update(self, proration_behavior=None, **data):
        if proration_behavior is not None and proration_behavior not in BEHAVIORS:
            raise r.UserError(400, "Bad request")
        before = {item.id for item in pending(self.customer)}
        original(self, **data)
        created = [item for item in pending(self.customer) if item.id not in before]
        if proration_behavior == "none":
            for item in created:
                r.InvoiceItem._api_delete(item.id)
        elif proration_behavior == "always_invoice" and created:
            invoice = r.Invoice._api_create(customer=self.customer, subscription=self.id)
            r.Invoice._api_pay_invoice(invoice.id)

    r.Subscription._update = _update
