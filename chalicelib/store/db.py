"""PynamoDB models of the one table (pk/sk plus three generic indexes; key layout in chalicelib/contract/keys.py)."""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import settings
from chalicelib.contract import keys


def now_iso() -> str:
    """UTC now as ISO-8601 with milliseconds and Z (the format Step Functions writes too)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@functools.cache
def _connection() -> Connection:
    return Connection(region=settings.REGION, host=_Meta.host)


def transaction() -> TransactWrite:
    """A TransactWrite on the table's endpoint; commits when its `with` block ends without an exception."""
    return TransactWrite(connection=_connection())


class _Meta:
    table_name = settings.TABLE_NAME
    region = settings.REGION
    host = os.environ.get("AWS_ENDPOINT_URL") or None


class Gsi1(GlobalSecondaryIndex):
    """Parent -> children listings, newest last in key order."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    """Owner -> jobs."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Gsi3(GlobalSecondaryIndex):
    """Job status -> jobs by last update (the sweeper's view)."""

    class Meta:
        index_name = "gsi3"
        projection = AllProjection()

    gsi3pk = UnicodeAttribute(hash_key=True)
    gsi3sk = UnicodeAttribute(range_key=True)


class Base(Model):
    """Common keys of every item."""

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class User(Base):
    """An account: credentials, role, tier and credit balance."""

    class Meta(_Meta):
        pass

    id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    password_hash = UnicodeAttribute(attr_name="passwordHash")
    role = UnicodeAttribute(default="USER")
    tier = UnicodeAttribute(default=settings.DEFAULT_TIER)
    credits = NumberAttribute(default=0)
    active_jobs = NumberAttribute(attr_name="activeJobs", default=0)
    disabled = BooleanAttribute(default=False)
    deleting = BooleanAttribute(null=True)  # the account is being erased (chalicelib/erasure.py)
    billed = BooleanAttribute(null=True)  # a paid Stripe subscription sets the tier and grants the credits
    token_version = NumberAttribute(attr_name="tokenVersion", default=0)  # bumped to revoke every access token
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    # the webhook signing secret is derived from the webhook master secret and this salt, never stored (webhooks.py)
    webhook_salt = UnicodeAttribute(attr_name="webhookSalt", null=True)
    webhook_secret_at = UnicodeAttribute(attr_name="webhookSecretAt", null=True)
    webhook_previous_salt = UnicodeAttribute(attr_name="webhookPreviousSalt", null=True)
    webhook_previous_until = NumberAttribute(attr_name="webhookPreviousUntil", null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()

    @staticmethod
    def key(user_id: str) -> tuple[str, str]:
        """(pk, sk) of a user."""
        return keys.user(user_id)


class EmailClaim(Base):
    """Makes an email unique: written in the same transaction as the user, conditioned on absence."""

    class Meta(_Meta):
        pass

    user_id = UnicodeAttribute(attr_name="userId")


class LedgerEntry(Base):
    """One credit movement: DEBIT (job), REFUND (job), GRANT (monthly or a paid invoice), ADJUST (admin)."""

    class Meta(_Meta):
        pass

    id = UnicodeAttribute()
    type = UnicodeAttribute()
    amount = NumberAttribute()
    job_id = UnicodeAttribute(attr_name="jobId", null=True)
    reason = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")


class Subscription(Base):
    """A user's Stripe customer and subscription as last read from Stripe, and the tier it gives (billing/)."""

    class Meta(_Meta):
        pass

    user_id = UnicodeAttribute(attr_name="userId")
    customer_id = UnicodeAttribute(attr_name="customerId")
    subscription_id = UnicodeAttribute(attr_name="subscriptionId", null=True)
    status = UnicodeAttribute(default="none")  # Stripe's: active, past_due, canceled, incomplete...; none before
    plan_tier = UnicodeAttribute(attr_name="planTier", null=True)  # the plan Stripe bills from the next period
    paid_tier = UnicodeAttribute(attr_name="paidTier", null=True)  # the plan of the latest paid invoice
    tier = UnicodeAttribute(default=settings.DEFAULT_TIER)  # what the account gets now
    price_cents = NumberAttribute(attr_name="priceCents", default=0)  # of plan_tier, per month (MRR)
    current_period_start = NumberAttribute(attr_name="currentPeriodStart", null=True)
    current_period_end = NumberAttribute(attr_name="currentPeriodEnd", null=True)
    cancel_at_period_end = BooleanAttribute(attr_name="cancelAtPeriodEnd", default=False)
    past_due_since = NumberAttribute(attr_name="pastDueSince", null=True)
    grace_until = NumberAttribute(attr_name="graceUntil", null=True)
    started_at = NumberAttribute(attr_name="startedAt", null=True)
    ended_at = NumberAttribute(attr_name="endedAt", null=True)
    starting_until = NumberAttribute(attr_name="startingUntil", null=True)  # a subscribe call in flight (one at once)
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    version = VersionAttribute()  # concurrent webhook syncs: the later write of a stale read fails and re-reads
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()
    by_status = Gsi3()


class Marker(Base):
    """An item whose only job is to exist once (refund done, monthly grant given, an address a user logged in from)."""

    class Meta(_Meta):
        pass

    created_at = UnicodeAttribute(attr_name="createdAt", null=True)
    ttl = NumberAttribute(null=True)


class RefreshToken(Base):
    """A refresh token, stored by the SHA-256 of its value; `used` flips once on rotation."""

    class Meta(_Meta):
        pass

    user_id = UnicodeAttribute(attr_name="userId")
    family_id = UnicodeAttribute(attr_name="familyId")
    used = BooleanAttribute(default=False)
    expires_at = NumberAttribute(attr_name="expiresAt")
    ttl = NumberAttribute()
    gsi1pk = UnicodeAttribute(null=True)  # USER#<uid>: found and erased with the account
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()


class TokenFamily(Base):
    """A chain of rotated refresh tokens from one login; revoking it ends that session."""

    class Meta(_Meta):
        pass

    user_id = UnicodeAttribute(attr_name="userId")
    revoked = BooleanAttribute(default=False)
    created_at = UnicodeAttribute(attr_name="createdAt")
    ttl = NumberAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()


class Throttle(Base):
    """A failure counter (an email and address, an address, an email; sign-ups per address) and its last failure."""

    class Meta(_Meta):
        pass

    failures = NumberAttribute(default=0)
    last = NumberAttribute(null=True)
    ttl = NumberAttribute()


class Project(Base):
    """A user's project: a folder of assets and jobs."""

    class Meta(_Meta):
        pass

    id = UnicodeAttribute()
    owner_id = UnicodeAttribute(attr_name="ownerId")
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()


class Asset(Base):
    """A file in S3 (uploaded or produced by a job) with its probed metadata."""

    class Meta(_Meta):
        pass

    id = UnicodeAttribute()
    project_id = UnicodeAttribute(attr_name="projectId")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    kind = UnicodeAttribute()
    filename = UnicodeAttribute()
    content_type = UnicodeAttribute(attr_name="contentType")
    format = UnicodeAttribute()
    size_bytes = NumberAttribute(attr_name="sizeBytes", default=0)
    status = UnicodeAttribute()  # PENDING_UPLOAD | READY | REJECTED
    reject_reason = UnicodeAttribute(attr_name="rejectReason", null=True)
    reject_code = UnicodeAttribute(attr_name="rejectCode", null=True)  # UNREADABLE_FILE, WRONG_FORMAT...
    s3_key = UnicodeAttribute(attr_name="key")
    metadata = JSONAttribute(default=dict)
    source_job_id = UnicodeAttribute(attr_name="sourceJobId", null=True)
    role = UnicodeAttribute(null=True)
    etag = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()


class ErrorInfo(MapAttribute):
    """A user-readable failure."""

    code = UnicodeAttribute()
    message = UnicodeAttribute()


class Job(Base):
    """A unit of paid work run by the pipeline state machine."""

    class Meta(_Meta):
        pass

    id = UnicodeAttribute()
    project_id = UnicodeAttribute(attr_name="projectId")
    owner_id = UnicodeAttribute(attr_name="ownerId")
    type = UnicodeAttribute()
    status = UnicodeAttribute()  # PENDING | PROCESSING | COMPLETED | FAILED | CANCELLED
    stage = UnicodeAttribute(null=True)
    progress = NumberAttribute(default=0)
    progress_message = UnicodeAttribute(attr_name="progressMessage", null=True)
    credits_used = NumberAttribute(attr_name="creditsUsed")
    inputs = JSONAttribute(default=dict)
    params = JSONAttribute(default=dict)
    pipeline = JSONAttribute(default=list)
    stage_outputs = JSONAttribute(attr_name="stageOutputs", null=True)
    outputs = ListAttribute(of=UnicodeAttribute, null=True)
    result = JSONAttribute(null=True)  # stage metadata by stage name
    error = ErrorInfo(null=True)
    execution_arn = UnicodeAttribute(attr_name="executionArn", null=True)
    # the current stage's task: queued by the state machine (MarkStage), claimed and leased by a worker
    queued_at = UnicodeAttribute(attr_name="queuedAt", null=True)
    queue_kind = UnicodeAttribute(attr_name="queueKind", null=True)
    claimed_by = UnicodeAttribute(attr_name="claimedBy", null=True)
    claimed_at = UnicodeAttribute(attr_name="claimedAt", null=True)
    lease_until = NumberAttribute(attr_name="leaseUntil", null=True)
    swept_at = NumberAttribute(attr_name="sweptAt", null=True)  # when the sweeper last asked Step Functions
    webhook_url = UnicodeAttribute(attr_name="webhookUrl", null=True)
    webhook_status = UnicodeAttribute(attr_name="webhookStatus", null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    started_at = UnicodeAttribute(attr_name="startedAt", null=True)
    finished_at = UnicodeAttribute(attr_name="finishedAt", null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    gsi3pk = UnicodeAttribute(null=True)
    gsi3sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()
    by_owner = Gsi2()
    by_status = Gsi3()


class ApiKey(Base):
    """An API key (stored by the SHA-256 of its value, never the value) with its scopes and its rate window."""

    class Meta(_Meta):
        pass

    id = UnicodeAttribute()
    user_id = UnicodeAttribute(attr_name="userId")
    name = UnicodeAttribute()
    scopes = ListAttribute(of=UnicodeAttribute)
    prefix = UnicodeAttribute()  # the first characters of the key, to recognise it
    last4 = UnicodeAttribute()
    created_at = UnicodeAttribute(attr_name="createdAt")
    last_used_at = UnicodeAttribute(attr_name="lastUsedAt", null=True)  # written once per rate window at most
    window = NumberAttribute(null=True)  # the current rate window's number (epoch seconds // window length)
    window_count = NumberAttribute(attr_name="windowCount", null=True)  # requests in that window
    gsi1pk = UnicodeAttribute(null=True)  # USER#<uid>: listed, and erased with the account
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()


class IdempotencyRecord(Base):
    """A claimed Idempotency-Key: the request's body hash, then the first response (expires with `ttl`)."""

    class Meta(_Meta):
        pass

    request_hash = UnicodeAttribute(attr_name="requestHash")
    state = UnicodeAttribute()  # IN_PROGRESS | DONE
    locked_until = NumberAttribute(attr_name="lockedUntil")  # an IN_PROGRESS claim older than this was abandoned
    status = NumberAttribute(null=True)
    response = JSONAttribute(null=True)
    expires_at = NumberAttribute(attr_name="expiresAt")
    ttl = NumberAttribute()


class LiveConnection(Base):
    """A live-progress WebSocket connection: whose it is once authenticated, and the jobs it follows."""

    class Meta(_Meta):
        pass

    user_id = UnicodeAttribute(attr_name="userId", null=True)
    jobs = ListAttribute(of=UnicodeAttribute, default=list)
    connected_at = UnicodeAttribute(attr_name="connectedAt")
    ttl = NumberAttribute()
    gsi1pk = UnicodeAttribute(null=True)  # USER#<uid>: the fan-out finds a user's connections
    gsi1sk = UnicodeAttribute(null=True)
    by_parent = Gsi1()


class WorkerHeartbeat(Base):
    """The last time a worker process said it was alive, and what it was doing."""

    class Meta(_Meta):
        pass

    kind = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    last_seen = NumberAttribute(attr_name="lastSeen")
    state = UnicodeAttribute(null=True)  # idle | busy:<stage>
    idle_since = NumberAttribute(attr_name="idleSince", null=True)
    stage_seconds = NumberAttribute(attr_name="stageSeconds", null=True)  # its moving average of stage durations
    host = UnicodeAttribute(null=True)
    pid = NumberAttribute(null=True)
