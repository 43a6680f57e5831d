"""The credit ledger: every balance change writes a LedgerEntry in the same DynamoDB transaction as the change."""

from __future__ import annotations

import uuid

from pynamodb.transactions import TransactWrite

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.errors import Unauthorized
from chalicelib.store.db import LedgerEntry, Marker, User, transaction

ENTRY_TYPES = ("DEBIT", "REFUND", "GRANT", "ADJUST")


def month_of(at: str) -> str:
    """The grant month ("yyyy-mm") of an ISO-8601 timestamp."""
    return at[:7]


def add_entry(
    tx: TransactWrite,
    user_id: str,
    entry_type: str,
    amount: int,
    at: str,
    *,
    reason: str | None = None,
    job_id: str | None = None,
) -> LedgerEntry:
    """Put one ledger entry (sk LEDGER#<at>#<id>) into `tx`; the caller updates the balance in the same `tx`."""
    if entry_type not in ENTRY_TYPES:
        raise ValueError(f"unknown ledger entry type {entry_type!r}")
    entry_id = uuid.uuid4().hex
    entry = LedgerEntry(
        keys.user_partition(user_id),
        keys.ledger_sk(at, entry_id),
        id=entry_id,
        type=entry_type,
        amount=amount,
        reason=reason,
        job_id=job_id,
        created_at=at,
    )
    tx.save(entry, condition=LedgerEntry.pk.does_not_exist())
    return entry


def add_grant(tx: TransactWrite, user_id: str, tier: str, at: str) -> int:
    """Put the month's GRANT entry and its marker (USER#<id> / GRANT#<yyyy-mm>, only if absent) into `tx`; return the amount."""
    amount = settings.TIERS[tier].monthly_credits
    month = month_of(at)
    add_entry(tx, user_id, "GRANT", amount, at, reason=f"monthly grant {month} ({tier})")
    tx.save(
        Marker(keys.user_partition(user_id), keys.grant_sk(month), created_at=at), condition=Marker.pk.does_not_exist()
    )
    return amount


def grant_invoice(user_id: str, invoice_id: str, amount: int, reason: str, at: str) -> bool:
    """Credit a paid invoice's credits once: the GRANT entry, the balance and the marker USER#<id> / INVOICE#<id>
    (only if absent) in one transaction; False when this invoice was granted before."""
    from pynamodb.exceptions import TransactWriteError

    try:
        with transaction() as tx:
            add_entry(tx, user_id, "GRANT", amount, at, reason=reason)
            marker = Marker(keys.user_partition(user_id), keys.invoice_grant_sk(invoice_id), created_at=at)
            tx.save(marker, condition=Marker.pk.does_not_exist())
            tx.update(User(*keys.user(user_id)), actions=[User.credits.add(amount)], condition=User.pk.exists())
    except TransactWriteError:
        return False
    return True


def ledger(user_id: str, params: dict) -> dict:
    """The caller's balance and ledger page (newest first)."""
    from chalicelib.paging import decode, encode, limit

    try:
        user = User.get(*keys.user(user_id), consistent_read=True)
    except User.DoesNotExist:
        raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE") from None
    result = LedgerEntry.query(
        keys.user_partition(user_id),
        LedgerEntry.sk.startswith(keys.LEDGER_PREFIX),
        scan_index_forward=False,
        limit=limit(params, 50),
        last_evaluated_key=decode(params.get("nextToken"), "pk", keys.user_partition(user_id)),
    )
    entries = [
        {
            "id": e.id,
            "type": e.type,
            "amount": int(e.amount),
            "jobId": e.job_id,
            "reason": e.reason,
            "createdAt": e.created_at,
        }
        for e in result
    ]
    return {
        "balance": int(user.credits),
        "tier": user.tier,
        "monthlyCredits": settings.TIERS[user.tier].monthly_credits,
        "entries": entries,
        "nextToken": encode(result.last_evaluated_key, keys.user_partition(user_id)),
    }


def grant_month(user: User, at: str) -> bool:
    """Give one user this month's credits unless already given (the GRANT marker decides); True if granted."""
    from pynamodb.exceptions import TransactWriteError

    try:
        with transaction() as tx:
            amount = add_grant(tx, user.id, user.tier, at)
            tx.update(user, actions=[User.credits.add(amount)], condition=User.pk.exists())
    except TransactWriteError:
        return False
    return True


def grant_all(at: str) -> int:
    """The scheduled monthly grant: every enabled user gets the month's credits once; returns how many got them."""
    granted = 0
    for user in User.by_parent.query(keys.USERS):
        # a subscriber's credits come with each paid invoice (chalicelib/billing/), not with the month
        if not user.disabled and not user.deleting and not user.billed and grant_month(user, at):
            granted += 1
    return granted
