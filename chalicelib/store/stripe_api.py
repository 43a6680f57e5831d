"""Stripe I/O only, through the official SDK: one client per API key, created lazily and reused; Stripe's errors
become domain errors (a declined card a 402 PAYMENT_FAILED, a refused request a 400, an outage a 503). The SDK is
imported at the first Stripe call, never at cold start (`import stripe` takes about a second)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from chalicelib import settings
from chalicelib.errors import AppError, PaymentRequired, ValidationError

if TYPE_CHECKING:
    import stripe


class BadSignature(Exception):
    """A webhook whose Stripe-Signature does not verify (wrong secret, tampered body, or outside the tolerance)."""


class StripeUnavailable(AppError):
    """Stripe could not be reached or failed: nothing was changed on our side; try again."""

    status, code = 503, "BILLING_UNAVAILABLE"


@functools.cache
def connect(api_key: str) -> stripe.StripeClient:
    """The shared client for `api_key`, talking to settings.STRIPE_API_BASE (Stripe, or the local emulator)."""
    import stripe

    http = stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
    return stripe.StripeClient(
        api_key, base_addresses={"api": settings.STRIPE_API_BASE}, http_client=http, max_network_retries=2
    )


@contextmanager
def errors() -> Iterator[None]:
    """Map Stripe's exceptions to domain errors for the block."""
    import stripe

    try:
        yield
    except stripe.CardError as exc:
        raise PaymentRequired(exc.user_message or "the card was declined", code="PAYMENT_FAILED") from exc
    except stripe.InvalidRequestError as exc:
        raise ValidationError(exc.user_message or "Stripe refused the request", code="BILLING_REFUSED") from exc
    except stripe.StripeError as exc:
        raise StripeUnavailable("the payment provider failed; nothing was charged twice, try again") from exc


def call(api: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one SDK call with the error mapping."""
    with errors():
        return api(*args, **kwargs)


def ensure(client: stripe.StripeClient, kind: str, object_id: str, params: dict) -> Any:
    """Retrieve `kind` ("products" or "plans") `object_id`, creating it with `params` if absent (idempotent)."""
    import stripe

    service = getattr(client.v1, kind)
    try:
        return service.retrieve(object_id)
    except stripe.InvalidRequestError as exc:
        if exc.http_status != 404:
            raise
    return call(service.create, params={"id": object_id, **params})


def construct_event(payload: bytes, signature: str, secret: str) -> stripe.Event:
    """The verified event; BadSignature, or ValueError for a body that is not an event."""
    import stripe

    try:
        return stripe.Webhook.construct_event(
            payload, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise BadSignature(str(exc)) from exc
