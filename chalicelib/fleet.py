"""The worker fleet as the table sees it: the instances alive per kind, the tasks waiting for them, and queue estimates.

Each worker process writes its own heartbeat item (WORKER#<kind> / INSTANCE#<name>: last seen, busy or idle since
when, its average stage time). A job's current task waits from the moment the state machine queues it (MarkStage:
queuedAt, queueKind) until a worker claims it (claimedBy, leaseUntil); a lease that ran out puts it back in line.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import NamedTuple

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.contract.statuses import ACTIVE
from chalicelib.store.db import Job, WorkerHeartbeat

DEFAULT_STAGE_SECONDS = 30.0  # until the workers of a kind have timed a stage
CACHE_SECONDS = 5.0


class Instance(NamedTuple):
    """One worker process, from its heartbeat."""

    name: str
    last_seen: float
    state: str
    idle_since: float | None
    stage_seconds: float | None
    pid: int | None

    def view(self, now: float) -> dict:
        """The /health shape of an instance."""
        return {
            "name": self.name,
            "status": "ok" if now - self.last_seen <= settings.WORKER_STALE_SECONDS else "error",
            "lastHeartbeatSecondsAgo": round(now - self.last_seen, 1),
            "state": self.state,
            "pid": self.pid,
        }


_cache: dict[str, tuple[float, list[Instance]]] = {}


def instances(kind: str, fresh: bool = False) -> list[Instance]:
    """Every instance of a kind that beat within the last day (heartbeat items expire after that), newest first."""
    now = time.time()
    cached = _cache.get(kind)
    if cached and not fresh and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    found = [
        Instance(
            name=str(beat.name or beat.sk.removeprefix("INSTANCE#")),
            last_seen=float(beat.last_seen),
            state=str(beat.state or "idle"),
            idle_since=float(beat.idle_since) if beat.idle_since is not None else None,
            stage_seconds=float(beat.stage_seconds) if beat.stage_seconds is not None else None,
            pid=int(beat.pid) if beat.pid is not None else None,
        )
        for beat in WorkerHeartbeat.query(keys.worker_partition(kind))
    ]
    found.sort(key=lambda i: -i.last_seen)
    _cache[kind] = (now, found)
    return found


def alive(kind: str, now: float | None = None) -> list[Instance]:
    """The instances of a kind whose heartbeat is recent."""
    now = now or time.time()
    return [i for i in instances(kind) if now - i.last_seen <= settings.WORKER_STALE_SECONDS]


def epoch(iso: str | None) -> float:
    """Seconds since the epoch of an ISO-8601 UTC time (0 when missing)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else 0.0


def task_kind(job: Job) -> str | None:
    """The worker kind the job's current (or, not started yet, first) stage waits for."""
    if job.queue_kind:
        return str(job.queue_kind)
    return str(job.pipeline[0]["worker"]) if job.pipeline else None


def held(job: Job, now: float) -> bool:
    """True while a worker holds the job's task with a lease that has not run out."""
    return job.lease_until is not None and float(job.lease_until) > now


def waiting_since(job: Job, now: float) -> float | None:
    """When the job's current task became free for any worker (queued, or its last lease ended); None while held."""
    if held(job, now):
        return None
    if job.lease_until is not None:
        return float(job.lease_until)
    return epoch(job.queued_at or job.started_at or job.created_at)


def _ahead(job: Job, kind: str, now: float) -> int:
    """How many tasks for the same kind have waited longer (key order of gsi3: the time their stage was queued)."""
    free = Job.lease_until.does_not_exist() | (Job.lease_until < now)
    before = Job.gsi3sk < job.gsi3sk if job.status == "PROCESSING" and job.gsi3sk else None
    return Job.by_status.count(
        keys.status_partition("PROCESSING"),
        range_key_condition=before,
        filter_condition=(Job.queue_kind == kind) & free & (Job.id != job.id),
    )


def queue(job: Job, now: float | None = None) -> dict | None:
    """While the job's task waits for a worker: its place in line and an estimated start; None otherwise.

    The estimate: the live workers of the kind each take the next task when they finish theirs, and a stage takes
    as long as the workers' recent average.
    """
    now = now or time.time()
    if job.status not in ACTIVE or not job.execution_arn or held(job, now):
        return None
    kind = task_kind(job)
    if kind is None:
        return None
    ahead = _ahead(job, kind, now)
    workers = alive(kind, now)
    idle = sum(1 for w in workers if not w.state.startswith("busy"))
    timed = [w.stage_seconds for w in workers if w.stage_seconds]
    per_stage = sum(timed) / len(timed) if timed else DEFAULT_STAGE_SECONDS
    if not workers:
        estimate = None
    elif ahead < idle:
        estimate = 0
    else:
        waves = (ahead - idle) // len(
            workers
        ) + 1  # the first wave starts when a busy worker finishes, on average half-way
        estimate = round((waves - 0.5) * per_stage)
    return {
        "worker": kind,
        "position": ahead + 1,
        "ahead": ahead,
        "workersAlive": len(workers),
        "estimatedStartSeconds": estimate,
        "waitingSeconds": round(max(0.0, now - (waiting_since(job, now) or now)), 1),
    }
