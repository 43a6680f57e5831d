"""POST /billing/webhook: Stripe's events, verified by their Stripe-Signature (timestamp within the tolerance),
handled once per event id, and applied by re-reading the invoice and subscription from Stripe, so a replayed,
late or reordered event changes nothing that Stripe's current state does not say. A paid invoice grants its
credits exactly once (the ledger marker is keyed by the invoice id)."""

from __future__ import annotations

import time
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib import credits, secrets, settings
from chalicelib.billing import subscriptions
from chalicelib.contract import keys
from chalicelib.errors import ValidationError
from chalicelib.observability import logger
from chalicelib.store import stripe_api
from chalicelib.store.db import Marker, now_iso

INVOICE_EVENTS = ("invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed")
SUBSCRIPTION_EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
EVENT_MEMORY_SECONDS = 30 * 24 * 3600  # Stripe retries an undelivered event for 3 days


def _verified(payload: bytes, signature: str | None) -> Any:
    if not signature:
        raise ValidationError("missing Stripe-Signature header", code="INVALID_SIGNATURE")
    try:
        secret = secrets.stripe_webhook_secret()
    except RuntimeError as exc:
        logger.error("billing is not configured", extra={"reason": str(exc)})
        raise stripe_api.StripeUnavailable("billing is not configured on this deployment") from exc
    try:
        return stripe_api.construct_event(payload, signature, secret)
    except stripe_api.BadSignature as exc:
        raise ValidationError("the Stripe signature does not verify (or is too old)", code="INVALID_SIGNATURE") from exc
    except ValueError as exc:
        raise ValidationError("the event is not valid JSON", code="INVALID_JSON") from exc


def _seen(event_id: str) -> bool:
    try:
        Marker.get(*keys.stripe_event(event_id), consistent_read=True)
    except Marker.DoesNotExist:
        return False
    return True


def _remember(event_id: str) -> None:
    marker = Marker(*keys.stripe_event(event_id), created_at=now_iso(), ttl=int(time.time()) + EVENT_MEMORY_SECONDS)
    try:
        marker.save(condition=Marker.pk.does_not_exist())
    except PutError:
        pass  # a concurrent delivery of the same event handled it too: both applied Stripe's same state


def _subscription_of(invoice: Any) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {} if hasattr(parent, "get") else {}
    found = details.get("subscription") or invoice.get("subscription")
    return found if isinstance(found, str) else getattr(found, "id", None)


def grant_paid_invoice(invoice: Any, item: Any) -> bool:
    """Grant a paid invoice's credits to the subscription record's user once; False if granted before or unpaid."""
    if invoice.get("status") != "paid" or invoice.get("customer") != item.customer_id:
        return False
    amount = subscriptions.invoice_credits(invoice)
    tier = subscriptions.invoice_tier(invoice) or settings.DEFAULT_TIER
    return credits.grant_invoice(item.user_id, invoice["id"], amount, f"invoice {invoice['id']} ({tier})", now_iso())


def _apply(event: Any) -> None:
    obj = event["data"]["object"]
    if event["type"] in INVOICE_EVENTS:
        invoice = stripe_api.call(subscriptions.client().v1.invoices.retrieve, obj["id"])  # its state now
        subscription_id = _subscription_of(invoice)
        item = subscriptions.sync(subscription_id) if subscription_id else None
        if item is not None and grant_paid_invoice(invoice, item):
            logger.info("invoice credits granted", extra={"invoice": invoice["id"], "user_id": item.user_id})
    elif event["type"] in SUBSCRIPTION_EVENTS:
        subscriptions.sync(obj["id"])


def handle(payload: bytes, signature: str | None) -> dict:
    """Verify and apply one Stripe event; a 400 for a bad signature (nothing changes), else 200 (Stripe stops
    retrying), `duplicate` when the event was handled before."""
    event = _verified(payload, signature)
    if _seen(event["id"]):
        return {"received": True, "duplicate": True}
    _apply(event)
    _remember(event["id"])  # after applying: a failure above makes Stripe retry, and applying again is harmless
    return {"received": True, "duplicate": False}
