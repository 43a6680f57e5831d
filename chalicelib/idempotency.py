"""Idempotency-Key: a retried POST /jobs or asset creation returns its first response instead of acting twice.

The key is scoped to the caller and the route (its path with ids); the record also holds the SHA-256 of the request
(method, path and the body as canonical JSON). The first request claims the key with a conditional put (absent,
expired, or an abandoned claim); a request that finds the key claimed with another body gets 422, one that finds the
first response replays it (`Idempotent-Replayed: true`), one that finds it still in progress waits up to
IDEMPOTENCY_WAIT_SECONDS for it, then gets 409. Only successful (2xx) responses are kept: a refused request charged
nothing and releases its key, so a retry after fixing the cause may use it again.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable

from pynamodb.exceptions import DeleteError, PutError

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.errors import AppError, Conflict, ValidationError
from chalicelib.store.db import IdempotencyRecord

HEADER = "Idempotency-Key"
_KEY_SHAPE = re.compile(r"^[\x21-\x7e]+$")


class KeyReused(AppError):
    """The Idempotency-Key was used before with another request."""

    status, code = 422, "IDEMPOTENCY_KEY_REUSED"


def _request_hash(method: str, path: str, body: dict) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(value: str) -> str:
    """The header's value, or a 400 unless it is 1 to IDEMPOTENCY_KEY_MAX printable ASCII characters."""
    if not _KEY_SHAPE.match(value) or len(value) > settings.IDEMPOTENCY_KEY_MAX:
        raise ValidationError(
            f"{HEADER} must be 1 to {settings.IDEMPOTENCY_KEY_MAX} printable ASCII characters without spaces",
            code="INVALID_IDEMPOTENCY_KEY",
        )
    return value


def run(
    user_id: str,
    key: str | None,
    method: str,
    path: str,
    body: dict,
    handle: Callable[[], tuple[int, dict]],
    now: Callable[[], float] = time.time,
) -> tuple[int, dict, dict[str, str]]:
    """(status, body, extra headers) of the request: `handle()`'s answer, or the first answer given to this key."""
    if key is None:
        status, answer = handle()
        return status, answer, {}
    key = validate_key(key)
    scope = hashlib.sha256(f"{method} {path} {key}".encode()).hexdigest()
    request_hash = _request_hash(method, path, body)
    record = _claim(user_id, scope, request_hash, now())
    if record is not None:
        return _replay(record, request_hash)
    try:
        status, answer = handle()
    except BaseException:
        _release(user_id, scope)
        raise
    if 200 <= status < 300:
        IdempotencyRecord(*keys.idempotency(user_id, scope)).update(
            actions=[
                IdempotencyRecord.state.set("DONE"),
                IdempotencyRecord.status.set(status),
                IdempotencyRecord.response.set(answer),
            ]
        )
    else:
        _release(user_id, scope)
    return status, answer, {}


def _release(user_id: str, scope: str) -> None:
    """Free a key whose request was refused (it charged nothing), so that a corrected retry may use it."""
    try:
        IdempotencyRecord(*keys.idempotency(user_id, scope)).delete(condition=IdempotencyRecord.state == "IN_PROGRESS")
    except DeleteError:
        pass  # taken over meanwhile: not ours to free


def _claim(user_id: str, scope: str, request_hash: str, at: float) -> IdempotencyRecord | None:
    """Claim the key (None), or the record that holds it already."""
    expires = int(at) + settings.IDEMPOTENCY_SECONDS
    record = IdempotencyRecord(
        *keys.idempotency(user_id, scope),
        request_hash=request_hash,
        state="IN_PROGRESS",
        locked_until=int(at) + settings.IDEMPOTENCY_LOCK_SECONDS,
        expires_at=expires,
        ttl=expires,
    )
    free = (
        IdempotencyRecord.pk.does_not_exist()
        | (IdempotencyRecord.expires_at < int(at))  # DynamoDB's TTL deletes late: expiry is checked here too
        | ((IdempotencyRecord.state == "IN_PROGRESS") & (IdempotencyRecord.locked_until < int(at)))
    )
    for _ in range(3):
        try:
            record.save(condition=free)
            return None
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:
            return IdempotencyRecord.get(*keys.idempotency(user_id, scope), consistent_read=True)
        except IdempotencyRecord.DoesNotExist:
            continue  # released between our put and our read: claim it again
    raise Conflict(f"a request with this {HEADER} is in flight; retry shortly", code="IDEMPOTENCY_IN_PROGRESS")


def _replay(record: IdempotencyRecord, request_hash: str) -> tuple[int, dict, dict[str, str]]:
    if record.request_hash != request_hash:
        raise KeyReused(f"this {HEADER} was used with another request; use a new key for a new request")
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while record.state != "DONE":
        if time.monotonic() > deadline:
            raise Conflict(
                f"a request with this {HEADER} is still in progress; retry shortly",
                code="IDEMPOTENCY_IN_PROGRESS",
                headers={"Retry-After": "1"},
            )
        time.sleep(0.1)
        try:
            record = IdempotencyRecord.get(record.pk, record.sk, consistent_read=True)
        except IdempotencyRecord.DoesNotExist:  # the first request was refused and released the key
            raise Conflict(
                f"the first request with this {HEADER} was refused; retry it", code="IDEMPOTENCY_RETRY"
            ) from None
    return int(record.status or 200), record.response or {}, {"Idempotent-Replayed": "true"}
