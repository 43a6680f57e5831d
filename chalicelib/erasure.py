"""Account deletion. DELETE /users/me marks the account as being deleted - from then on it cannot log in, refresh,
use any access token or write (sessions.py), and its email is free - and queues its erasure, which deletes
everything the account owns, asynchronously and completely, in rounds through the job-events queue: its running jobs
are cancelled, then its jobs, projects, assets, every object under its prefixes in the bucket, its ledger and grant
markers, its sessions and refresh tokens go, and the user item last. A round that fails is retried by the queue;
each step is idempotent."""

from __future__ import annotations

import json

from pynamodb.exceptions import TransactWriteError

from chalicelib import accounts, assets, jobs, settings
from chalicelib.contract import keys
from chalicelib.errors import Unauthorized
from chalicelib.observability import logger
from chalicelib.store import storage
from chalicelib.store.aws import client
from chalicelib.store.db import (
    ApiKey,
    Asset,
    EmailClaim,
    Job,
    LedgerEntry,
    Marker,
    Project,
    RefreshToken,
    TokenFamily,
    User,
    transaction,
)
from chalicelib.tokens import Principal

MESSAGE_TYPE = "erase-account"
ROUND_ITEMS = 200  # items deleted per round; a round that reaches it queues the next


def request(principal: Principal) -> dict:
    """DELETE /users/me: mark the caller's account as being deleted, free its email, end its sessions and queue the
    erasure of everything it owns; {id, status: "DELETING"} (202)."""
    user = accounts.active_user(principal.user_id)
    try:
        with transaction() as tx:
            tx.update(
                user,
                actions=[User.deleting.set(True), User.token_version.add(1)],
                condition=User.pk.exists() & User.deleting.does_not_exist(),
            )
            tx.delete(EmailClaim(*keys.email(user.email)), condition=EmailClaim.user_id == user.id)
    except TransactWriteError:
        raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE") from None
    accounts.revoke_sessions(user.id)
    queue(user.id)
    return {"id": user.id, "status": "DELETING"}


def queue(user_id: str) -> None:
    """Queue (the next round of) an account's erasure."""
    client("sqs").send_message(
        QueueUrl=settings.JOB_EVENTS_QUEUE_URL, MessageBody=json.dumps({"type": MESSAGE_TYPE, "userId": user_id})
    )


class _Budget:
    """How many more items this round may delete."""

    def __init__(self, items: int):
        self.left = items

    def spend(self) -> bool:
        """Count one deletion; False once the round is used up."""
        self.left -= 1
        return self.left >= 0


def erase(user_id: str) -> bool:
    """One round of an account's erasure (the job-events handler); True when nothing of it is left, else the next
    round is queued. Only an account marked as being deleted is erased."""
    try:
        user = User.get(*keys.user(user_id), consistent_read=True)
    except User.DoesNotExist:
        return True
    if not user.deleting:
        logger.warning("erasure asked for an account that is not being deleted", extra={"user_id": user_id})
        return True
    budget = _Budget(ROUND_ITEMS)
    done = _jobs(user_id, budget) and _projects(user_id, budget) and _objects(user_id, budget)
    done = done and _owned_items(user_id, budget)
    if not done:
        queue(user_id)
        return False
    user.delete()
    logger.info("account erased", extra={"user_id": user_id})
    return True


def _jobs(user_id: str, budget: _Budget) -> bool:
    for job in Job.by_owner.query(keys.user_partition(user_id), Job.gsi2sk.startswith(keys.JOB_PREFIX)):
        if not budget.spend():
            return False
        jobs.cancel_if_running(job, reason="the account was deleted")
        Marker(*keys.settlement(job.id)).delete()
        job.delete()
    return True


def _projects(user_id: str, budget: _Budget) -> bool:
    for project in Project.by_parent.query(
        keys.user_partition(user_id), Project.gsi1sk.startswith(keys.PROJECT_PREFIX)
    ):
        for asset in Asset.by_parent.query(
            keys.project_partition(project.id), Asset.gsi1sk.startswith(keys.ASSET_PREFIX)
        ):
            if not budget.spend():
                return False
            assets.remove(asset)
        for job in Job.by_parent.query(keys.project_partition(project.id), Job.gsi1sk.startswith(keys.JOB_PREFIX)):
            if not budget.spend():  # another owner's job in this project (none is made so; erased all the same)
                return False
            jobs.cancel_if_running(job, reason="the account was deleted")
            job.delete()
        if not budget.spend():
            return False
        project.delete()
    return True


def _objects(user_id: str, budget: _Budget) -> bool:
    """Every object under the account's prefixes, whatever record it had or lacked."""
    for prefix in (keys.UPLOADS, keys.VERIFIED, keys.OUTPUTS):
        for key in storage.keys_under(f"{prefix}/{user_id}/"):
            if not budget.spend():
                return False
            storage.delete(key)
    return True


def _owned_items(user_id: str, budget: _Budget) -> bool:
    """Ledger entries, grant and known-address markers (the user's partition), sessions, refresh tokens and API keys
    (its gsi1 partition)."""
    partition = keys.user_partition(user_id)
    owned = ((LedgerEntry, keys.LEDGER_PREFIX), (Marker, keys.grant_sk("")), (Marker, keys.known_address_sk("")))
    for model, prefix in owned:
        for item in model.query(partition, model.sk.startswith(prefix)):
            if not budget.spend():
                return False
            item.delete()
    for index_model, prefix in (
        (TokenFamily, keys.FAMILY_PREFIX),
        (RefreshToken, keys.REFRESH_PREFIX),
        (ApiKey, keys.API_KEY_PREFIX),
    ):
        for item in index_model.by_parent.query(partition, index_model.gsi1sk.startswith(prefix)):
            if not budget.spend():
                return False
            item.delete()
    return True
