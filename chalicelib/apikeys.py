"""API keys: long-lived bearer credentials for scripts, scoped (read / jobs / admin), rate-limited per key.

A key is `a3d_` + 32 random bytes (base64url), shown once at creation. Only its SHA-256 is stored, as the item's key:
a slow password hash protects low-entropy secrets from guessing, but 256 random bits cannot be guessed, so one
SHA-256 is enough and lets the authorizer find the key with one GetItem. Every request made with a key passes
`admit`, one conditional UpdateItem on the key's item that counts the request in the key's fixed rate window (and,
once per window, stamps lastUsedAt); the item is gone once revoked, so a revoked key stops at its next request,
whatever the authorizer's cache still says.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
import uuid
from typing import NamedTuple

from pynamodb.exceptions import UpdateError

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.errors import Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationError
from chalicelib.store.db import ApiKey, User, now_iso
from chalicelib.tokens import Principal

PREFIX = "a3d_"
SCOPES = ("read", "jobs", "admin")
_KEY_SHAPE = re.compile(r"^a3d_[A-Za-z0-9_-]{43}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_JOB_WRITES = ("/projects", "/assets", "/jobs")  # the routes a `jobs` key may write to


_CACHE_MAX = 10_000


class KeyAuth(NamedTuple):
    """What the authorizer learned from a valid key: its owner, the role it acts with, its digest and scopes."""

    user_id: str
    role: str
    digest: str
    scopes: tuple[str, ...]


_verdicts: dict[str, tuple[float, KeyAuth]] = {}  # the authorizer's verdicts, kept AUTH_CACHE_SECONDS (as sessions.py)


def digest_of(value: str) -> str:
    """The SHA-256 (hex) a key is stored and found by."""
    return hashlib.sha256(value.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    """True if a bearer value is meant as an API key (rather than an access token)."""
    return value.startswith(PREFIX)


def view(item: ApiKey) -> dict:
    """The API shape of a key: never the key itself."""
    return {
        "id": item.id,
        "name": item.name,
        "scopes": list(item.scopes),
        "prefix": item.prefix,
        "last4": item.last4,
        "createdAt": item.created_at,
        "lastUsedAt": item.last_used_at,
    }


def _validate(principal: Principal, data: dict) -> tuple[str, list[str]]:
    unknown = sorted(set(data) - {"name", "scopes"})
    if unknown:
        raise ValidationError(f"unknown fields: {', '.join(unknown)}", code="UNKNOWN_FIELD")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > settings.API_KEY_NAME_MAX or _CONTROL.search(name):
        raise ValidationError(
            f"name must be 1 to {settings.API_KEY_NAME_MAX} characters without control characters",
            code="INVALID_NAME",
        )
    scopes = data.get("scopes")
    if (
        not isinstance(scopes, list)
        or not scopes
        or not all(isinstance(s, str) and s in SCOPES for s in scopes)
        or len(set(scopes)) != len(scopes)
    ):
        raise ValidationError(f"scopes must be a non-empty list of distinct {', '.join(SCOPES)}", code="INVALID_SCOPES")
    if "admin" in scopes and not principal.is_admin:
        raise Forbidden("only admins may create a key with the admin scope", code="SCOPE_NOT_ALLOWED")
    return name.strip(), [s for s in SCOPES if s in scopes]


def _mine(user_id: str):
    return ApiKey.by_parent.query(keys.user_partition(user_id), ApiKey.gsi1sk.startswith(keys.API_KEY_PREFIX))


def create(principal: Principal, data: dict) -> dict:
    """Create a key: its view plus `key`, the value, which is never shown again."""
    name, scopes = _validate(principal, data)
    if sum(1 for _ in _mine(principal.user_id)) >= settings.API_KEYS_PER_USER:
        raise ValidationError(
            f"an account holds at most {settings.API_KEYS_PER_USER} keys: revoke one first", code="TOO_MANY_KEYS"
        )
    value = PREFIX + secrets.token_urlsafe(32)
    key_id, now = uuid.uuid4().hex, now_iso()
    item = ApiKey(
        *keys.api_key(digest_of(value)),
        id=key_id,
        user_id=principal.user_id,
        name=name,
        scopes=scopes,
        prefix=value[: len(PREFIX) + 4],
        last4=value[-4:],
        created_at=now,
        gsi1pk=keys.user_partition(principal.user_id),
        gsi1sk=keys.listed(keys.API_KEY_PREFIX, now, key_id),
    )
    item.save(condition=ApiKey.pk.does_not_exist())
    return {**view(item), "key": value}


def list_mine(principal: Principal) -> dict:
    """The caller's keys, oldest first: {items}."""
    return {"items": [view(item) for item in _mine(principal.user_id)]}


def revoke(principal: Principal, key_id: str) -> None:
    """Delete one of the caller's keys; requests made with it are refused from now on. NotFound if not theirs."""
    for item in _mine(principal.user_id):
        if item.id == key_id:
            item.delete()
            _verdicts.pop(item.pk.removeprefix(keys.API_KEY_PREFIX), None)
            return
    raise NotFound("API key not found")


def authenticate(value: str, fresh: bool = False) -> KeyAuth:
    """The authorizer's check of a key: it exists and its owner may still use the API; Unauthorized otherwise. The
    key acts with the ADMIN role only if it has the admin scope and its owner is (still) an admin. Verdicts are kept
    AUTH_CACHE_SECONDS, like API Gateway's cache of them (`fresh` skips it): revocation does not wait for either
    (`admit` refuses a deleted key at its next request), a disabled owner's writes neither."""
    if not _KEY_SHAPE.match(value):
        raise Unauthorized("invalid API key", code="INVALID_API_KEY")
    digest, now = digest_of(value), time.monotonic()
    hit = _verdicts.get(digest)
    if hit is not None and not fresh and now - hit[0] <= settings.AUTH_CACHE_SECONDS:
        return hit[1]
    try:
        item = ApiKey.get(*keys.api_key(digest), consistent_read=True)
    except ApiKey.DoesNotExist:
        raise Unauthorized("invalid or revoked API key", code="INVALID_API_KEY") from None
    user = _active_user(item.user_id)
    role = "ADMIN" if user.role == "ADMIN" and "admin" in item.scopes else "USER"
    verdict = KeyAuth(item.user_id, role, digest, tuple(str(s) for s in item.scopes))
    if len(_verdicts) > _CACHE_MAX:
        _verdicts.clear()
    _verdicts[digest] = (now, verdict)
    return verdict


def _active_user(user_id: str) -> User:
    try:
        user = User.get(*keys.user(user_id), consistent_read=True, attributes_to_get=["disabled", "deleting", "role"])
    except User.DoesNotExist:
        raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE") from None
    if user.disabled or user.deleting:
        raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE")
    return user


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None when no key may make it (managing keys and the account needs a session).
    `path` with or without the /v1 prefix: both name the same route."""
    versioned = f"/{settings.API_VERSION}/"
    if path.startswith(versioned):
        path = path[len(versioned) - 1 :]
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/api-keys") or path == "/auth/logout-all":
        return None
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path.startswith(_JOB_WRITES):
        return "jobs"
    return None


def _allowed(scopes: tuple[str, ...], needed: str | None) -> bool:
    return needed is not None and (needed in scopes or (needed == "read" and bool(scopes)))


def admit(auth: KeyAuth, method: str, path: str, now: float | None = None) -> dict[str, str]:
    """Let one request made with a key through, or raise: 401 once revoked, 429 over its rate, 403 out of its scopes
    (and 401 for a write once its owner is disabled). The RateLimit-* headers to answer with."""
    now = time.time() if now is None else now
    count, reset = _count(auth.digest, now)
    limit = settings.API_KEY_RATE_LIMIT
    headers = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - count)),
        "RateLimit-Reset": str(reset),
    }
    if count > limit:
        raise TooManyRequests(
            f"this API key may make {limit} requests per {settings.API_KEY_RATE_WINDOW_SECONDS} s",
            code="RATE_LIMITED",
            headers={**headers, "Retry-After": str(reset)},
        )
    if not _allowed(auth.scopes, required_scope(method, path)):
        needed = required_scope(method, path)
        message = f"this API key lacks the {needed} scope" if needed else "this request needs a session, not a key"
        raise Forbidden(message, code="SCOPE_REQUIRED", headers=headers)
    if method not in ("GET", "HEAD", "OPTIONS"):
        _active_user(auth.user_id)
    return headers


def _conditional_failure(exc: UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def _count(digest: str, now: float) -> tuple[int, int]:
    """Count one request in the key's current window, atomically: (requests in the window so far, seconds until it
    ends). Opening a window also stamps lastUsedAt, so that is written at most once per window. Unauthorized once
    the key is gone."""
    length = settings.API_KEY_RATE_WINDOW_SECONDS
    window = int(now // length)
    reset = max(1, math.ceil((window + 1) * length - now))
    item = ApiKey(*keys.api_key(digest))
    for _ in range(3):
        try:  # the usual case: the window is open, count in it (fails, creating nothing, if the key is gone)
            item.update(actions=[ApiKey.window_count.add(1)], condition=ApiKey.window == window)
            return int(item.window_count), reset
        except UpdateError as exc:
            if not _conditional_failure(exc):
                raise
        try:  # open this window (unless a concurrent request just did)
            item.update(
                actions=[ApiKey.window.set(window), ApiKey.window_count.set(1), ApiKey.last_used_at.set(now_iso())],
                condition=ApiKey.pk.exists() & (ApiKey.window.does_not_exist() | (ApiKey.window < window)),
            )
            return 1, reset
        except UpdateError as exc:
            if not _conditional_failure(exc):
                raise
        try:
            ApiKey.get(*keys.api_key(digest), consistent_read=True, attributes_to_get=["pk"])
        except ApiKey.DoesNotExist:
            raise Unauthorized("invalid or revoked API key", code="INVALID_API_KEY") from None
    return 1, reset  # another process's clock keeps the key in a later window: count nothing rather than refuse
