"""Admin metrics: jobs by status and the credits they moved over a period, the number of users, and billing (MRR,
live subscriptions by tier, churn; chalicelib/billing/metrics.py).

Read from the status index (gsi3, keyed by status and last update) and the user listing; it reads
every job of the period, which suits an admin dashboard at this scale (EMF metrics carry the same
numbers to CloudWatch on AWS).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib import accounts
from chalicelib.billing import metrics as billing_metrics
from chalicelib.contract import keys
from chalicelib.contract.statuses import JOB_STATUSES
from chalicelib.errors import ValidationError
from chalicelib.store.db import Job, User
from chalicelib.tokens import Principal


def _since(params: dict) -> str:
    raw = params.get("since")
    if raw is None:
        start = datetime.now(UTC) - timedelta(days=30)
    else:
        try:
            start = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError("since must be an ISO-8601 date or time", code="INVALID_SINCE") from exc
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    return start.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def report(principal: Principal, params: dict) -> dict:
    """GET /admin/metrics?since=: job counts and credits by status since a date (default 30 days), users and
    billing."""
    accounts.require_admin(principal)
    since = _since(params)
    jobs, credits = {}, {}
    for status in JOB_STATUSES:
        count = total = 0
        for job in Job.by_status.query(
            keys.status_partition(status), Job.gsi3sk >= since, attributes_to_get=["creditsUsed"]
        ):
            count += 1
            total += int(job.credits_used)
        jobs[status], credits[status] = count, total
    return {
        "since": since,
        "jobs": jobs,
        "credits": {
            "spent": credits["COMPLETED"],
            "refunded": credits["FAILED"] + credits["CANCELLED"],
            "held": credits["PENDING"] + credits["PROCESSING"],
        },
        "users": User.by_parent.count(keys.USERS),
        "billing": billing_metrics.report(since),
    }
