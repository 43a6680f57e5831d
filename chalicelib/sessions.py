"""Revocation: whether a verified access token may still be used. Its user must exist, be enabled and not being
deleted, still be at the token's version (logout-all, a password change, disabling, deletion and a role change bump
it), and its session (the refresh-token family it came from) must not be logged out.

The authorizer reads this at most every AUTH_CACHE_SECONDS per user and session (cached in the process); API Gateway
caches the authorizer's verdict for AUTHORIZER_TTL_SECONDS more, so a revocation takes effect everywhere within their
sum (30 s). Writes re-read it uncached (`fresh`), so they stop at once; and a process that revokes forgets its own
cached verdicts (locally the authorizer runs in the API's process: revocation is immediate there)."""

from __future__ import annotations

import time
from typing import NamedTuple

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.errors import Unauthorized
from chalicelib.store.db import TokenFamily, User
from chalicelib.tokens import Claims

_CACHE_MAX = 10_000


class _State(NamedTuple):
    exists: bool
    active: bool
    token_version: int
    role: str
    session_live: bool


_cache: dict[tuple[str, str], tuple[float, _State]] = {}


def _load(user_id: str, session_id: str) -> _State:
    try:
        user = User.get(
            *keys.user(user_id),
            consistent_read=True,
            attributes_to_get=["tokenVersion", "disabled", "deleting", "role"],
        )
    except User.DoesNotExist:
        return _State(False, False, -1, "", False)
    try:
        family = TokenFamily.get(
            *keys.family(session_id), consistent_read=True, attributes_to_get=["userId", "revoked"]
        )
        live = family.user_id == user_id and not family.revoked
    except TokenFamily.DoesNotExist:
        live = False
    active = not user.disabled and not user.deleting
    return _State(True, active, int(user.token_version or 0), user.role, live)


def check(claims: Claims, fresh: bool = False) -> str:
    """The caller's stored role if the token may still be used; Unauthorized otherwise. `fresh` skips the cache."""
    now = time.monotonic()
    key = (claims.user_id, claims.session_id)
    hit = _cache.get(key)
    if fresh or hit is None or now - hit[0] > settings.AUTH_CACHE_SECONDS:
        if len(_cache) > _CACHE_MAX:
            _cache.clear()
        hit = _cache[key] = (now, _load(claims.user_id, claims.session_id))
    state = hit[1]
    if not state.exists or not state.active:
        raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE")
    if state.token_version != claims.token_version or not state.session_live:
        raise Unauthorized("this access token was revoked: log in again", code="TOKEN_REVOKED")
    return state.role


def forget(user_id: str) -> None:
    """Drop this process's cached verdicts about a user (after revoking something of theirs)."""
    for key in [k for k in _cache if k[0] == user_id]:
        _cache.pop(key, None)
