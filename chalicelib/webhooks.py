"""Job webhooks: an HMAC-signed POST when a job ends, retried with backoff through the job-events queue."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from chalicelib import secrets, settings, views
from chalicelib.contract import keys
from chalicelib.errors import ValidationError
from chalicelib.observability import logger
from chalicelib.store.aws import client
from chalicelib.store.db import Job

SIGNATURE_HEADER = "X-AI3D-Signature"  # "t=<unix seconds>,v1=<hex hmac-sha256 of '<t>.<body>'>"


def validate_url(url) -> str:
    """Accept an http(s) URL; on AWS only https to public addresses."""
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationError("webhookUrl must be a URL of at most 2000 characters", code="INVALID_WEBHOOK_URL")
    parts = urllib.parse.urlsplit(url)
    allowed = ("https",) if settings.ON_AWS else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise ValidationError(f"webhookUrl must be an {' or '.join(allowed)} URL", code="INVALID_WEBHOOK_URL")
    return url


def _public(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return all(ipaddress.ip_address(a).is_global for a in addresses)


def sign(body: bytes, timestamp: int) -> str:
    """The signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secrets.webhook_secret().encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def schedule(job_id: str, attempt: int) -> None:
    """Queue a delivery attempt (attempt n waits 5 * 4^(n-1) s, at most 15 min)."""
    delay = 0 if attempt == 0 else min(900, 5 * 4 ** (attempt - 1))
    client("sqs").send_message(
        QueueUrl=settings.JOB_EVENTS_QUEUE_URL,
        DelaySeconds=delay,
        MessageBody=json.dumps({"type": "webhook", "jobId": job_id, "attempt": attempt}),
    )


def deliver(job_id: str, attempt: int) -> bool:
    """POST the job's final state to its webhook; schedule a retry on failure. True when delivered."""
    try:
        job = Job.get(*keys.job(job_id), consistent_read=True)
    except Job.DoesNotExist:
        return False
    if not job.webhook_url or job.webhook_status == "DELIVERED":
        return False
    if settings.ON_AWS and not _public(urllib.parse.urlsplit(job.webhook_url).hostname or ""):
        job.update(actions=[Job.webhook_status.set("REFUSED")])
        return False
    payload = {"event": f"job.{job.status.lower()}", "job": views.job(job)}
    body = json.dumps(payload, separators=(",", ":")).encode()
    request = urllib.request.Request(
        job.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, int(time.time())),
            "X-AI3D-Delivery": f"{job_id}:{attempt}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        ok = False
    if ok:
        job.update(actions=[Job.webhook_status.set("DELIVERED")])
        return True
    if attempt + 1 < settings.WEBHOOK_MAX_ATTEMPTS:
        schedule(job_id, attempt + 1)
        job.update(actions=[Job.webhook_status.set(f"RETRYING:{attempt + 1}")])
    else:
        job.update(actions=[Job.webhook_status.set("FAILED")])
    logger.info("webhook delivery failed", extra={"job_id": job_id, "attempt": attempt})
    return False
