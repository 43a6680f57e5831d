"""The /health report: can we reach DynamoDB, S3, SQS and Step Functions, and are the workers alive."""

from __future__ import annotations

import time

from chalicelib import settings
from chalicelib.contract import keys
from chalicelib.store.aws import client
from chalicelib.store.db import WorkerHeartbeat

WORKERS = ("gpu", "blender")


def _check(fn) -> dict:
    try:
        fn()
        return {"status": "ok"}
    except Exception as exc:  # a health check reports every failure, whatever it is
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}


def _worker(name: str) -> dict:
    try:
        beat = WorkerHeartbeat.get(*keys.worker(name))
    except WorkerHeartbeat.DoesNotExist:
        return {"status": "error", "message": "no heartbeat yet"}
    except Exception as exc:
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}
    age = time.time() - beat.last_seen
    status = "ok" if age <= settings.WORKER_STALE_SECONDS else "error"
    return {"status": status, "lastHeartbeatSecondsAgo": round(age, 1), "state": beat.state, "pid": beat.pid}


def report() -> tuple[bool, dict]:
    """(all healthy, {dependency: {status, ...}})."""
    checks = {
        "dynamodb": _check(lambda: client("dynamodb").describe_table(TableName=settings.TABLE_NAME)),
        "s3": _check(lambda: client("s3").head_bucket(Bucket=settings.ASSETS_BUCKET)),
        "sqs": _check(
            lambda: [
                client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                for url in (
                    settings.UPLOAD_EVENTS_QUEUE_URL,
                    settings.GPU_QUEUE_URL,
                    settings.BLENDER_QUEUE_URL,
                    settings.JOB_EVENTS_QUEUE_URL,
                )
            ]
        ),
        "stepfunctions": _check(
            lambda: client("stepfunctions").describe_state_machine(stateMachineArn=settings.PIPELINE_STATE_MACHINE_ARN)
        ),
    }
    for name in WORKERS:
        checks[f"worker:{name}"] = _worker(name)
    return all(c["status"] == "ok" for c in checks.values()), checks
