"""Patch of the emulator: make moto's DynamoDB writes atomic, as DynamoDB's are: one lock around every conditional write.

The moto gap it fills: moto checks a condition and then writes without a lock, so two threads (two
server requests) can both pass `attribute_not_exists` or `credits >= :price`. Real DynamoDB never
lets that happen, and the platform's guarantees (unique emails, credits never overspent, refunds
once) rest on it.

Checked against moto 5.2.5 (the gap is there). The canary test
tests/unit/devstack/test_emulator_canaries.py::test_moto_still_lets_racing_conditional_puts_both_succeed
runs unpatched moto and fails once moto closes the gap: then drop this module.
"""

from __future__ import annotations

import functools
import threading

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def serialize_dynamodb_writes() -> None:
    """Patch moto's DynamoDB backend so each write runs under one lock (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_serialized", False):
            continue

        @functools.wraps(method)
        def locked(self, *args, __method=method, **kwargs):
            with _LOCK:
                return __method(self, *args, **kwargs)

        locked._serialized = True
        setattr(DynamoDBBackend, name, locked)
