"""The /health report: can we reach DynamoDB, S3, SQS and Step Functions, and are the workers alive."""

from __future__ import annotations

import time

from chalicelib import fleet, settings
from chalicelib.store.aws import client

WORKERS = ("gpu", "blender")


def _check(fn) -> dict:
    try:
        fn()
        return {"status": "ok"}
    except Exception as exc:  # a health check reports every failure, whatever it is
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}


def _workers(kind: str) -> dict:
    """A kind is healthy when any of its instances beat recently; every instance seen in the last day is listed."""
    try:
        found = fleet.instances(kind, fresh=True)
    except Exception as exc:
        return {"status": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}
    if not found:
        return {"status": "error", "message": "no heartbeat yet", "instances": []}
    now = time.time()
    listed = [i.view(now) for i in found]
    alive = [i for i in listed if i["status"] == "ok"]
    return {
        "status": "ok" if alive else "error",
        "alive": len(alive),
        "lastHeartbeatSecondsAgo": min(i["lastHeartbeatSecondsAgo"] for i in listed),
        "instances": listed,
    }


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
        checks[f"worker:{name}"] = _workers(name)
    return all(c["status"] == "ok" for c in checks.values()), checks
