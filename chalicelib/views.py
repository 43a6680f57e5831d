"""Every JSON shape the API returns for a stored entity: users, projects, assets, jobs and subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib import fleet
from chalicelib.contract import keys, statuses
from chalicelib.store import storage
from chalicelib.store.db import Asset, Job, Project, Subscription, User


def user(item: User) -> dict:
    """The public view of a user (never the password hash)."""
    return {
        "id": item.id,
        "email": item.email,
        "name": item.name,
        "role": item.role,
        "tier": item.tier,
        "credits": int(item.credits),
        "disabled": bool(item.disabled),
        "createdAt": item.created_at,
        "webhookSecret": {"createdAt": item.webhook_secret_at} if item.webhook_salt else None,  # never the secret
    }


def project(item: Project) -> dict:
    """The API shape of a project."""
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "ownerId": item.owner_id,
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
    }


def download_link(item: Asset) -> dict:
    """A signed GET URL that saves the asset's file under its own name."""
    return storage.download_link(item.s3_key, item.filename, item.content_type)


def asset(item: Asset, with_url: bool = False) -> dict:
    """The API shape of an asset; with a short-lived signed download URL when READY and asked for."""
    data = {
        "id": item.id,
        "projectId": item.project_id,
        "kind": item.kind,
        "filename": item.filename,
        "contentType": item.content_type,
        "format": item.format,
        "sizeBytes": int(item.size_bytes),
        "status": item.status,
        "metadata": item.metadata or {},
        "createdAt": item.created_at,
        "updatedAt": item.updated_at,
    }
    if item.reject_reason:
        data["rejectReason"] = item.reject_reason
        data["rejectCode"] = item.reject_code or "REJECTED"
    if item.source_job_id:
        data["sourceJobId"], data["role"] = item.source_job_id, item.role
    if with_url and item.status == "READY":
        data["download"] = download_link(item)
    return data


def job(item: Job, with_urls: bool = False) -> dict:
    """The API shape of a job (while it waits for a worker, its place in line); outputs carry signed URLs when asked
    and the job is COMPLETED - never before, so a job cancelled as its files appear gives none away."""
    data = {
        **job_progress(item),
        "creditsUsed": int(item.credits_used),
        "inputs": item.inputs,
        "params": item.params,
        "result": item.result or {},
        "createdAt": item.created_at,
        "startedAt": item.started_at,
        "finishedAt": item.finished_at,
        "webhookUrl": item.webhook_url,
        "queue": fleet.queue(item) if item.status in statuses.ACTIVE else None,
        "outputs": [],
    }
    ids = [str(i) for i in item.outputs or []]
    if ids:
        found = {a.id: a for a in Asset.batch_get([keys.asset(i) for i in ids])}
        data["outputs"] = [
            {
                "assetId": i,
                "role": found[i].role,
                "kind": found[i].kind,
                "format": found[i].format,
                "filename": found[i].filename,
                "sizeBytes": int(found[i].size_bytes),
                **({"download": download_link(found[i])} if with_urls and item.status == "COMPLETED" else {}),
            }
            for i in ids
            if i in found
        ]
    return data


def job_progress(item: Job) -> dict:
    """A job's live state as WebSocket events carry it: status, stage and progress (no outputs, no URLs)."""
    return {
        "id": item.id,
        "projectId": item.project_id,
        "type": item.type,
        "status": item.status,
        "stage": item.stage,
        "progress": int(item.progress or 0),
        "progressMessage": item.progress_message,
        "error": (
            {"code": item.error.code, "message": item.error.message}
            if item.error and item.status in statuses.REFUNDED
            else None
        ),
        "updatedAt": item.updated_at,
    }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def subscription(item: Subscription | None, user_tier: str) -> dict:
    """The API shape of the caller's subscription (`status` "none" before the first one)."""
    if item is None or item.subscription_id is None:
        return {"status": "none", "tier": user_tier, "plan": None, "nextPlan": None, "cancelAtPeriodEnd": False}
    scheduled = item.plan_tier if item.plan_tier != item.paid_tier and item.status == "active" else None
    return {
        "id": item.subscription_id,
        "status": item.status,
        "tier": item.tier,
        "plan": item.paid_tier,
        "nextPlan": scheduled,  # a downgrade: billed from the end of the current period
        "priceCents": int(item.price_cents),
        "currentPeriodStart": _iso(item.current_period_start),
        "currentPeriodEnd": _iso(item.current_period_end),
        "cancelAtPeriodEnd": bool(item.cancel_at_period_end),
        "pastDueSince": _iso(item.past_due_since),
        "graceUntil": _iso(item.grace_until),
        "endedAt": _iso(item.ended_at),
    }


def invoice(item: dict, tier: str | None) -> dict:
    """The API shape of a Stripe invoice (read from Stripe, never stored)."""
    return {
        "id": item["id"],
        "status": item.get("status"),
        "tier": tier,
        "amountDueCents": int(item.get("amount_due") or 0),
        "amountPaidCents": int(item.get("amount_paid") or 0),
        "currency": item.get("currency"),
        "createdAt": _iso(item.get("created")),
        "periodStart": _iso(item.get("period_start")),
        "periodEnd": _iso(item.get("period_end")),
    }
