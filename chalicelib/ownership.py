"""The one place that decides who may see a record: its owner or an ADMIN; anyone else gets 404."""

from __future__ import annotations

from chalicelib.errors import NotFound
from chalicelib.tokens import Principal


def get_owned(model_cls, pk: str, sk: str, principal: Principal, what: str):
    """Load an item the caller may see, or raise NotFound (never revealing that it exists)."""
    try:
        item = model_cls.get(pk, sk, consistent_read=True)
    except model_cls.DoesNotExist:
        raise NotFound(f"{what} not found") from None
    if item.owner_id != principal.user_id and not principal.is_admin:
        raise NotFound(f"{what} not found")
    return item
