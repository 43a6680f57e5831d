"""Opaque pagination cursors over DynamoDB queries."""

from __future__ import annotations

import base64
import json

from chalicelib import settings
from chalicelib.errors import ValidationError


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
    """The ExclusiveStartKey a `nextToken` stands for; refuses cursors from another listing."""
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise ValidationError("nextToken is not valid", code="INVALID_CURSOR") from exc
    if not isinstance(key, dict) or key.get(partition_attr, {}).get("S") != partition:
        raise ValidationError("nextToken does not belong to this listing", code="INVALID_CURSOR")
    return key


def encode(last_key: dict | None) -> str | None:
    """The `nextToken` for a query's last evaluated key."""
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


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
    return items, encode(result.last_evaluated_key)
