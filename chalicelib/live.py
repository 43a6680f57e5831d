"""Live job progress over WebSocket: connections authenticate, follow their own jobs, and get each change pushed.

Protocol (docs/api.md): the client sends `{"action": "auth", "token": <access token or API key>}`, then
`{"action": "subscribe", "jobId": ...}` per job (or "*": all of one's jobs, later ones too); the server answers `authenticated` / `subscribed` (with the job's
current state) or `error`, and sends `{"type": "job", "job": {...}}` whenever the job changes. Changes reach the
job-events queue as `{"type": "live", "jobId"}` messages - from the workers (stage claimed, progress written) and from
settlement (COMPLETED, FAILED, CANCELLED) - and `publish` fans each out to the owner's connections following it.
"""

from __future__ import annotations

import json
import time

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from chalicelib import apikeys, sessions, settings, tokens, views
from chalicelib.contract import keys
from chalicelib.errors import AppError, NotFound, TooManyRequests, Unauthorized, ValidationError
from chalicelib.observability import logger
from chalicelib.store import push
from chalicelib.store.aws import client
from chalicelib.store.db import Job, LiveConnection, now_iso

MESSAGE_TYPE = "live"
ALL_JOBS = "*"  # subscribe to every job of the caller's, those created later included


def notify(job_id: str) -> None:
    """Queue a live event for a job that changed (the job-events Lambda fans it out)."""
    client("sqs").send_message(
        QueueUrl=settings.JOB_EVENTS_QUEUE_URL, MessageBody=json.dumps({"type": MESSAGE_TYPE, "jobId": job_id})
    )


def connect(connection_id: str) -> None:
    """Record a new connection (unauthenticated until its first message authenticates it)."""
    LiveConnection(
        *keys.connection(connection_id),
        connected_at=now_iso(),
        ttl=int(time.time()) + settings.CONNECTION_SECONDS,
    ).save()


def disconnect(connection_id: str) -> None:
    """Forget a closed connection."""
    LiveConnection(*keys.connection(connection_id)).delete()


def _user_of(token: object) -> str:
    """The user an access token or API key (any scope: following jobs is reading) belongs to, or Unauthorized."""
    if not isinstance(token, str) or not token:
        raise Unauthorized("auth needs a token: an access token or an API key", code="INVALID_TOKEN")
    if apikeys.looks_like_key(token):
        return apikeys.authenticate(token, fresh=True).user_id
    claims = tokens.verify_access_token(token)
    sessions.check(claims, fresh=True)
    return claims.user_id


def _connection(connection_id: str) -> LiveConnection:
    try:
        return LiveConnection.get(*keys.connection(connection_id), consistent_read=True)
    except LiveConnection.DoesNotExist:
        raise Unauthorized("unknown connection: connect again", code="UNKNOWN_CONNECTION") from None


def _connections_of(user_id: str) -> int:
    return sum(
        1
        for _ in LiveConnection.by_parent.query(
            keys.user_partition(user_id), LiveConnection.gsi1sk.startswith(keys.CONNECTION_PREFIX)
        )
    )


def _authenticate(connection_id: str, token: object) -> dict:
    user_id = _user_of(token)
    item = _connection(connection_id)
    if item.user_id and item.user_id != user_id:
        raise Unauthorized("this connection belongs to another user", code="INVALID_TOKEN")
    if not item.user_id and _connections_of(user_id) >= settings.CONNECTIONS_PER_USER:
        raise TooManyRequests(
            f"at most {settings.CONNECTIONS_PER_USER} live connections per account", code="TOO_MANY_CONNECTIONS"
        )
    item.update(
        actions=[
            LiveConnection.user_id.set(user_id),
            LiveConnection.gsi1pk.set(keys.user_partition(user_id)),
            LiveConnection.gsi1sk.set(keys.listed(keys.CONNECTION_PREFIX, item.connected_at, connection_id)),
        ]
    )
    return {"type": "authenticated", "userId": user_id}


def _subscribe(connection_id: str, job_id: object) -> dict:
    item = _connection(connection_id)
    if not item.user_id:
        raise Unauthorized("authenticate first: {action: auth, token}", code="NOT_AUTHENTICATED")
    if not isinstance(job_id, str) or not job_id or len(job_id) > 100:
        raise ValidationError("jobId must be a job id or *", code="INVALID_JOB_ID")
    if job_id == ALL_JOBS:
        _follow(item, ALL_JOBS)
        return {"type": "subscribed", "jobId": ALL_JOBS}
    try:
        job = Job.get(*keys.job(job_id), consistent_read=True)
    except Job.DoesNotExist:
        raise NotFound("job not found") from None
    if job.owner_id != item.user_id:  # only one's own jobs, admins included: never reveal another's
        raise NotFound("job not found")
    _follow(item, job_id)
    return {"type": "subscribed", "jobId": job_id, "job": views.job_progress(job)}


def _follow(item: LiveConnection, job_id: str) -> None:
    if job_id in item.jobs:
        return
    if len(item.jobs) >= settings.CONNECTION_MAX_JOBS:
        raise ValidationError(
            f"a connection follows at most {settings.CONNECTION_MAX_JOBS} jobs", code="TOO_MANY_SUBSCRIPTIONS"
        )
    try:
        item.update(
            actions=[LiveConnection.jobs.set(LiveConnection.jobs.append([job_id]))],
            condition=LiveConnection.user_id == item.user_id,
        )
    except UpdateError:
        raise Unauthorized("unknown connection: connect again", code="UNKNOWN_CONNECTION") from None


def handle(connection_id: str, raw: str) -> dict:
    """Answer one client message: the reply to send back (an `error` message for a refused one)."""
    try:
        if len(raw.encode()) > settings.WEBSOCKET_MESSAGE_MAX:
            raise ValidationError("message too large", code="MESSAGE_TOO_LARGE")
        try:
            message = json.loads(raw)
        except ValueError:
            raise ValidationError("messages are JSON objects", code="INVALID_JSON") from None
        if not isinstance(message, dict):
            raise ValidationError("messages are JSON objects", code="INVALID_JSON")
        action = message.get("action")
        if action == "auth":
            return _authenticate(connection_id, message.get("token"))
        if action == "subscribe":
            return _subscribe(connection_id, message.get("jobId"))
        if action == "ping":
            return {"type": "pong"}
        raise ValidationError("action must be auth, subscribe or ping", code="INVALID_ACTION")
    except AppError as exc:
        return {"type": "error", "status": exc.status, "code": exc.code, "message": exc.message}


def reply(connection_id: str, message: dict) -> None:
    """Send one message to a connection (forget it if it is gone)."""
    if not push.send(connection_id, message):
        disconnect(connection_id)


def publish(job_id: str) -> int:
    """Push a job's current state to every connection of its owner that follows it; how many got it."""
    if not push.configured():
        return 0
    try:
        job = Job.get(*keys.job(job_id), consistent_read=True)
    except Job.DoesNotExist:
        return 0
    event = {"type": "job", "job": views.job_progress(job)}
    sent = 0
    for item in LiveConnection.by_parent.query(
        keys.user_partition(job.owner_id), LiveConnection.gsi1sk.startswith(keys.CONNECTION_PREFIX)
    ):
        if item.user_id != job.owner_id or (job_id not in item.jobs and ALL_JOBS not in item.jobs):
            continue
        connection_id = item.pk.removeprefix(keys.CONNECTION_PREFIX)
        try:
            delivered = push.send(connection_id, event)
        except (ClientError, BotoCoreError):  # best effort: a throttled push must not fail the whole batch
            logger.warning("live event not delivered", extra={"job_id": job_id, "connection": connection_id})
            continue
        if delivered:
            sent += 1
        else:
            item.delete()
    logger.debug("live event published", extra={"job_id": job_id, "connections": sent})
    return sent
