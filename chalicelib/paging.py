"""Pagination cursors over DynamoDB queries: opaque and tamper-evident (signed for their listing, 400 when forged)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from chalicelib import secrets, settings
from chalicelib.errors import ValidationError

MAC_BYTES = 16  # a truncated HMAC-SHA256: 128 bits to forge


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))


def _mac(partition: str, payload: str) -> bytes:
    message = f"{partition}\n{payload}".encode()
    return hmac.new(secrets.paging_key(), message, hashlib.sha256).digest()[:MAC_BYTES]


def limit(params: dict, default: int = 20) -> int:
    """The `limit` query parameter, checked to be 1..PAGE_SIZE_MAX."""
    raw = params.get("limit", default)
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise ValidationError("limit must be a whole number", code="INVALID_LIMIT") from exc
    if not 1 <= value <= settings.PAGE_SIZE_MAX:
        raise ValidationError(f"limit must be between 1 and {settings.PAGE_SIZE_MAX}", code="INVALID_LIMIT")
    return value


def decode(token: str | None, partition_attr: str, partition: str) -> dict | None:
    """The ExclusiveStartKey a `nextToken` stands for; 400 for a cursor this listing did not sign."""
    if not token:
        return None
    payload, _, mac = token.partition(".")
    try:
        valid = hmac.compare_digest(_unb64(mac), _mac(partition, payload))
        key = json.loads(_unb64(payload)) if valid else None
    except (ValueError, TypeError, UnicodeError):
        valid = False
    if not valid or not isinstance(key, dict) or key.get(partition_attr, {}).get("S") != partition:
        raise ValidationError("nextToken is not valid for this listing", code="INVALID_CURSOR")
    return key


def encode(last_key: dict | None, partition: str) -> str | None:
    """The `nextToken` for a query's last evaluated key, signed for its listing (`partition`)."""
    if not last_key:
        return None
    payload = _b64(json.dumps(last_key, separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(partition, payload))}"


def page(
    index,
    partition_attr: str,
    partition: str,
    params: dict,
    range_condition=None,
    newest_first: bool = True,
    filter_condition=None,
) -> tuple[list, str | None]:
    """Query one page of a PynamoDB index partition; returns (items, nextToken)."""
    from pynamodb.exceptions import QueryError

    try:
        result = index.query(
            partition,
            range_condition,
            filter_condition=filter_condition,
            limit=limit(params),
            scan_index_forward=not newest_first,
            last_evaluated_key=decode(params.get("nextToken"), partition_attr, partition),
        )
        items = list(result)
    except QueryError as exc:
        raise ValidationError("nextToken is not valid", code="INVALID_CURSOR") from exc
    return items, encode(result.last_evaluated_key, partition)
