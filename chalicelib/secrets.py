"""The JWT, webhook and Stripe secrets: from Secrets Manager on AWS (cached a few minutes, so a rotation is picked
up), from the environment locally (the local stack generates them); a missing or short secret is refused, and on AWS
a webhook secret equal to the JWT secret."""

from __future__ import annotations

import hashlib
import hmac
import time

from chalicelib import settings

_cache: dict[str, tuple[float, str]] = {}  # secret ARN -> (fetched at, value)


def _fetch(arn: str) -> str:
    fetched = _cache.get(arn)
    if fetched is None or time.time() - fetched[0] > settings.SECRET_CACHE_SECONDS:
        from chalicelib.store.aws import client

        fetched = (time.time(), client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
        _cache[arn] = fetched
    return fetched[1]


def _checked(name: str, value: str, where: str = "") -> str:
    if not value:
        where = where or f"{name.upper()}_SECRET_ARN on AWS or {name.upper()}_SECRET locally"
        raise RuntimeError(f"no {name} secret: set {where} (`make run` generates it in its state dir)")
    if len(value) < settings.SECRET_MIN_LENGTH:
        raise RuntimeError(f"the {name} secret must be at least {settings.SECRET_MIN_LENGTH} characters")
    return value


def jwt_secret() -> str:
    """The access-token signing secret (JWT_SECRET_ARN on AWS, JWT_SECRET locally)."""
    return _checked("JWT", _fetch(settings.JWT_SECRET_ARN) if settings.JWT_SECRET_ARN else settings.JWT_SECRET)


def webhook_secret() -> str:
    """The webhook signing secret (WEBHOOK_SECRET_ARN on AWS, WEBHOOK_SECRET locally); on AWS never the JWT secret
    (checked where both are readable)."""
    value = _checked(
        "webhook", _fetch(settings.WEBHOOK_SECRET_ARN) if settings.WEBHOOK_SECRET_ARN else settings.WEBHOOK_SECRET
    )
    if settings.ON_AWS and settings.JWT_SECRET_ARN and value == jwt_secret():
        raise RuntimeError("refusing to run on AWS with the webhook secret equal to the JWT secret")
    return value


def paging_key() -> bytes:
    """The key that signs pagination cursors: derived from the JWT secret for this one use (a cursor's MAC is never
    a token's)."""
    return hmac.new(jwt_secret().encode(), b"ai3d pagination cursor v1", hashlib.sha256).digest()


_STRIPE_WHERE = "STRIPE_SECRET_ARN on AWS or STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET locally"


def _stripe(field: str, local: str) -> str:
    if settings.STRIPE_SECRET_ARN:
        import json

        try:
            return str(json.loads(_fetch(settings.STRIPE_SECRET_ARN))[field])
        except (ValueError, KeyError, TypeError):
            raise RuntimeError(f"the Stripe secret must be a JSON object with {field!r}") from None
    return local


def stripe_api_key() -> str:
    """The Stripe API key (`apiKey` of STRIPE_SECRET_ARN on AWS, STRIPE_API_KEY locally)."""
    return _checked("Stripe API key", _stripe("apiKey", settings.STRIPE_API_KEY), _STRIPE_WHERE)


def stripe_webhook_secret() -> str:
    """The secret Stripe signs its webhooks with (`webhookSecret` of STRIPE_SECRET_ARN, STRIPE_WEBHOOK_SECRET locally)."""
    return _checked("Stripe webhook", _stripe("webhookSecret", settings.STRIPE_WEBHOOK_SECRET), _STRIPE_WHERE)


def check_at_start() -> None:
    """On AWS, load and check each secret this function is given (its ARN is in the environment): a bad deployment
    fails at start, not on its first request."""
    if not settings.ON_AWS:
        return
    if settings.JWT_SECRET_ARN:
        jwt_secret()
    if settings.WEBHOOK_SECRET_ARN:
        webhook_secret()
    # the Stripe secret is not checked here: without it only billing answers 503 (chalicelib/billing/)
