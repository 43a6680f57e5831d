"""The key layout of the one table and the bucket: every item key, index key and object key is built here.

  USER#<id>      / PROFILE            user             gsi1: USERS / <createdAt>#<id> (admin listing)
  USER#<id>      / LEDGER#<ts>#<id>   credit ledger entry
  USER#<id>      / GRANT#<yyyy-mm>    monthly grant marker (one per user per month)
  USER#<id>      / SUBSCRIPTION       the Stripe subscription  gsi1: SUBSCRIPTIONS / <createdAt>#<id> (metrics)
                                                        gsi3: BILLING#PAST_DUE / <grace until> (while past due)
  USER#<id>      / INVOICE#<id>       a paid Stripe invoice's credits were granted (one per invoice)
  STRIPE_EVENT#<id> / EVENT           a Stripe webhook event was handled (ttl)
  USER#<id>      / KNOWN#<address>    an address the user logged in from (ttl): not held back by the account's cap
  EMAIL#<email>  / EMAIL              unique-email claim
  REFRESH#<hash> / REFRESH            refresh token     gsi1: USER#<uid> / REFRESH#<hash>  (ttl)
  FAMILY#<id>    / FAMILY             refresh family    gsi1: USER#<uid> / FAMILY#<id>   (ttl)
  THROTTLE#<key> / THROTTLE           failure counter   (ttl): login:<email>|<address>, ip:<address>, email:<email>
  PROJECT#<id>   / PROJECT            project           gsi1: USER#<owner> / PROJECT#<createdAt>#<id>
  ASSET#<id>     / ASSET              asset             gsi1: PROJECT#<pid> / ASSET#<createdAt>#<id>
  JOB#<id>       / JOB                job               gsi1: PROJECT#<pid> / JOB#<createdAt>#<id>
                                                        gsi2: USER#<owner> / JOB#<createdAt>#<id>
                                                        gsi3: STATUS#<status> / <updatedAt>
  JOB#<id>       / SETTLEMENT         settlement marker (a job settles, and is refunded, exactly once)
  WORKER#<kind>  / INSTANCE#<name>    worker heartbeat, one per process (ttl)
  APIKEY#<hash>  / APIKEY             API key, by the SHA-256 of its value; its rate window
                                                        gsi1: USER#<uid> / APIKEY#<createdAt>#<id>
  IDEMPOTENCY#<uid>#<hash> / IDEMPOTENCY  a claimed Idempotency-Key and its first response (ttl)
  CONN#<id>      / CONN               a live-progress WebSocket connection (ttl)
                                                        gsi1: USER#<uid> / CONN#<id> (once authenticated)

Objects: uploads/<owner>/<project>/<asset>/source.<ext> (what a presigned form writes; deleted once judged),
verified/<owner>/<project>/<asset>/<etag>.<ext> (the judged upload's immutable copy, which the asset then names) and
outputs/<owner>/<project>/<job>/<stage>/<role>.<ext>. Everything a user owns is under a prefix ending in <owner>/.
"""

from __future__ import annotations

import uuid

Key = tuple[str, str]

USERS = "USERS"  # gsi1pk shared by every user (the admin listing)
PROJECT_PREFIX, ASSET_PREFIX, JOB_PREFIX = "PROJECT#", "ASSET#", "JOB#"
FAMILY_PREFIX, LEDGER_PREFIX, REFRESH_PREFIX = "FAMILY#", "LEDGER#", "REFRESH#"
API_KEY_PREFIX, CONNECTION_PREFIX = "APIKEY#", "CONN#"
UPLOADS, VERIFIED, OUTPUTS = "uploads", "verified", "outputs"
SUBSCRIPTIONS = "SUBSCRIPTIONS"  # gsi1pk shared by every subscription (admin metrics)
PAST_DUE = "BILLING#PAST_DUE"  # gsi3pk of the past-due subscriptions, by the end of their grace period


def user(user_id: str) -> Key:
    """A user's profile item."""
    return f"USER#{user_id}", "PROFILE"


def user_partition(user_id: str) -> str:
    """The partition of a user's items, and the gsi1/gsi2 partition of what the user owns."""
    return f"USER#{user_id}"


def subscription(user_id: str) -> Key:
    """A user's Stripe subscription record."""
    return f"USER#{user_id}", "SUBSCRIPTION"


def invoice_grant_sk(invoice_id: str) -> str:
    """The marker that a paid invoice's credits were granted (in the user's partition)."""
    return f"INVOICE#{invoice_id}"


def stripe_event(event_id: str) -> Key:
    """The marker that a Stripe webhook event was handled."""
    return f"STRIPE_EVENT#{event_id}", "EVENT"


def email(address: str) -> Key:
    """The claim that makes an email unique."""
    return f"EMAIL#{address}", "EMAIL"


def refresh_token(digest: str) -> Key:
    """A refresh token, by the SHA-256 of its value."""
    return f"{REFRESH_PREFIX}{digest}", "REFRESH"


def api_key(digest: str) -> Key:
    """An API key, by the SHA-256 of its value."""
    return f"{API_KEY_PREFIX}{digest}", "APIKEY"


def idempotency(user_id: str, digest: str) -> Key:
    """A caller's claim of an Idempotency-Key (digest: SHA-256 of the route and the key)."""
    return f"IDEMPOTENCY#{user_id}#{digest}", "IDEMPOTENCY"


def connection(connection_id: str) -> Key:
    """A WebSocket connection (API Gateway's connection id)."""
    return f"{CONNECTION_PREFIX}{connection_id}", "CONN"


def family(family_id: str) -> Key:
    """A refresh-token family (one login session)."""
    return f"FAMILY#{family_id}", "FAMILY"


def throttle(name: str) -> Key:
    """A failure counter, e.g. `email:<address>` or `ip:<address>`."""
    return f"THROTTLE#{name}", "THROTTLE"


def project(project_id: str) -> Key:
    """A project item."""
    return f"PROJECT#{project_id}", "PROJECT"


def project_partition(project_id: str) -> str:
    """The gsi1 partition of a project's assets and jobs."""
    return f"PROJECT#{project_id}"


def asset(asset_id: str) -> Key:
    """An asset item."""
    return f"ASSET#{asset_id}", "ASSET"


def job(job_id: str) -> Key:
    """A job item."""
    return f"JOB#{job_id}", "JOB"


def settlement(job_id: str) -> Key:
    """The marker that exists once a job is settled."""
    return f"JOB#{job_id}", "SETTLEMENT"


def worker(kind: str, name: str) -> Key:
    """One worker process's heartbeat item, under its kind."""
    return worker_partition(kind), f"INSTANCE#{name}"


def worker_partition(kind: str) -> str:
    """The partition of every heartbeat of a worker kind (gpu, blender)."""
    return f"WORKER#{kind}"


def status_partition(status: str) -> str:
    """The gsi3 partition of jobs in a status."""
    return f"STATUS#{status}"


def listed(prefix: str, created_at: str, item_id: str) -> str:
    """A gsi sort key that lists children oldest first: <PREFIX#><createdAt>#<id>."""
    return f"{prefix}{created_at}#{item_id}"


def ledger_sk(at: str, entry_id: str) -> str:
    """A ledger entry's sort key under its user."""
    return f"{LEDGER_PREFIX}{at}#{entry_id}"


def known_address_sk(address: str) -> str:
    """The sort key, under its user, of an address the user logged in from."""
    return f"KNOWN#{address}"


def grant_sk(month: str) -> str:
    """A monthly grant marker's sort key under its user (yyyy-mm)."""
    return f"GRANT#{month}"


def upload_object(owner_id: str, project_id: str, asset_id: str, ext: str) -> str:
    """The S3 key of an upload; nothing in it comes from the user."""
    return f"{UPLOADS}/{owner_id}/{project_id}/{asset_id}/source.{ext}"


def verified_object(owner_id: str, project_id: str, asset_id: str, etag: str, ext: str) -> str:
    """The S3 key of a judged upload's copy: no presigned form can write there, so what was judged stays."""
    return f"{VERIFIED}/{owner_id}/{project_id}/{asset_id}/{etag}.{ext}"


def asset_of_upload(key: str) -> str | None:
    """The asset id an upload key belongs to, or None for any other key."""
    parts = key.split("/")
    return parts[3] if len(parts) == 5 and parts[0] == UPLOADS else None


def output_object(owner_id: str, project_id: str, job_id: str, stage: str, role: str, ext: str) -> str:
    """The S3 key of a stage's output file (ext with its dot, lower case)."""
    return f"{OUTPUTS}/{owner_id}/{project_id}/{job_id}/{stage}/{role}{ext}"


def output_asset_id(job_id: str, stage: str, role: str) -> str:
    """The asset id of a stage output: derived, so a redelivered task overwrites instead of duplicating."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ai3d:{job_id}:{stage}:{role}"))


def output_filename(job_type: str, job_id: str, stage: str, role: str, ext: str) -> str:
    """The download name of a stage output."""
    return f"{job_type.lower()}-{job_id[:8]}-{stage}-{role}{ext}"
