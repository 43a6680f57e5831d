"""The JWT and webhook signing secrets: from Secrets Manager on AWS (cached a few minutes, so a rotation is picked
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


def _checked(name: str, value: str) -> str:
    if not value:
        raise RuntimeError(
            f"no {name} secret: set {name.upper()}_SECRET_ARN on AWS or {name.upper()}_SECRET locally "
            "(`make run` generates both in its state dir)"
        )
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


def check_at_start() -> None:
    """On AWS, load and check each secret this function is given (its ARN is in the environment): a bad deployment
    fails at start, not on its first request."""
    if not settings.ON_AWS:
        return
    if settings.JWT_SECRET_ARN:
        jwt_secret()
    if settings.WEBHOOK_SECRET_ARN:
        webhook_secret()
