"""The worker's view of the platform's table and bucket: read a job, report progress, record outputs.

Keys, statuses and content types come from the shared contract (`chalicelib.contract`, which the worker
images copy: pure Python, no AWS imports).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.contract import formats, keys
from chalicelib.contract.statuses import TERMINAL


def now_iso() -> str:
    """UTC now, ISO-8601 with milliseconds and Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(pair: keys.Key) -> dict:
    """A contract key (pk, sk) as a DynamoDB Key."""
    return {"pk": pair[0], "sk": pair[1]}


def _plain(value):
    """DynamoDB Decimals -> int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class JobStore:
    """DynamoDB + S3 operations a worker performs for one job."""

    def __init__(self, table_name: str | None = None, bucket: str | None = None):
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.table = boto3.resource("dynamodb", region_name=region).Table(table_name or os.environ["TABLE_NAME"])
        self.s3 = boto3.client("s3", region_name=region)
        self.bucket = bucket or os.environ["ASSETS_BUCKET"]
        self.sqs = boto3.client("sqs", region_name=region)
        self.events_queue_url = os.environ.get("JOB_EVENTS_QUEUE_URL", "")  # live progress goes out through it

    def job(self, job_id: str) -> dict | None:
        """The job item (JSON attributes decoded), or None."""
        item = self.table.get_item(Key=_key(keys.job(job_id)), ConsistentRead=True).get("Item")
        if not item:
            return None
        item = _plain(item)
        for name in ("inputs", "params", "pipeline", "stageOutputs", "result"):
            if isinstance(item.get(name), str):
                item[name] = json.loads(item[name])
        return item

    def asset(self, asset_id: str) -> dict | None:
        """An asset item, or None."""
        item = self.table.get_item(Key=_key(keys.asset(asset_id))).get("Item")
        return _plain(item) if item else None

    def status(self, job_id: str) -> str | None:
        """The job's current status."""
        item = self.table.get_item(
            Key=_key(keys.job(job_id)),
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
            ConsistentRead=True,
        ).get("Item")
        return item["status"] if item else None

    def progress(self, job_id: str, percent: int, message: str) -> bool:
        """Raise the job's progress (never lowers it); False when the job is no longer PROCESSING."""
        try:
            self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression="SET progress = :p, progressMessage = :m, updatedAt = :now",
                ConditionExpression="#s = :processing AND (attribute_not_exists(progress) OR progress <= :p)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":p": percent,
                    ":m": message[:200],
                    ":now": now_iso(),
                    ":processing": "PROCESSING",
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self.status(job_id) == "PROCESSING"
        self.announce(job_id)
        return True

    def announce(self, job_id: str) -> None:
        """Tell live followers the job changed (a `live` message on the job-events queue, fanned out by the API's
        event function); a failure only costs the followers this one update."""
        if not self.events_queue_url:
            return
        try:
            self.sqs.send_message(
                QueueUrl=self.events_queue_url, MessageBody=json.dumps({"type": "live", "jobId": job_id})
            )
        except (ClientError, BotoCoreError) as exc:
            logging.getLogger(__name__).warning("live progress not announced for %s: %s", job_id, exc)

    def record_error(self, job_id: str, code: str, message: str) -> None:
        """Remember why a stage failed, for the user (kept only while the job is not finished)."""
        terminal = {f":t{i}": status for i, status in enumerate(TERMINAL)}
        try:
            self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression="SET #e = :e, updatedAt = :now",
                ConditionExpression=f"NOT #s IN ({', '.join(terminal)})",
                ExpressionAttributeNames={"#e": "error", "#s": "status"},
                ExpressionAttributeValues={
                    ":e": {"code": code, "message": message[:500]},
                    ":now": now_iso(),
                    **terminal,
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def download(self, key: str, dest: Path) -> Path:
        """Fetch an object to a local file."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(self.bucket, key, str(dest))
        return dest

    def publish_outputs(self, job: dict, stage: str, outputs: list, metadata: dict) -> list[dict] | None:
        """Upload a stage's files, make each an asset of the job's project, and note them on the job - only while the
        job is PROCESSING: if it was cancelled meanwhile, what was written is removed again and None is returned.

        Asset ids are derived from (job, stage, role) so a redelivered task overwrites, never duplicates. Until the
        job is COMPLETED the API hands out no download of them (chalicelib/assets.py: usable).
        """
        job_id, project_id, owner_id = job["id"], job["projectId"], job["ownerId"]
        published, by_role = [], {}
        for out in outputs:
            path = Path(out.path)
            ext = path.suffix.lower()
            asset_id = keys.output_asset_id(job_id, stage, out.role)
            key = keys.output_object(owner_id, project_id, job_id, stage, out.role, ext)
            content_type = (
                formats.CONTENT_TYPES.get(ext.lstrip("."))
                or mimetypes.guess_type(path.name)[0]
                or formats.content_type(ext)
            )
            filename = keys.output_filename(job["type"], job_id, stage, out.role, ext)
            self.s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
            now = now_iso()
            self.table.put_item(
                Item={
                    **_key(keys.asset(asset_id)),
                    "id": asset_id,
                    "projectId": project_id,
                    "ownerId": owner_id,
                    "kind": out.kind,
                    "filename": filename,
                    "contentType": content_type,
                    "format": ext.lstrip("."),
                    "sizeBytes": path.stat().st_size,
                    "status": "READY",
                    "key": key,
                    "metadata": json.dumps({"role": out.role, "stage": stage}),
                    "sourceJobId": job_id,
                    "role": out.role,
                    "createdAt": now,
                    "updatedAt": now,
                    "gsi1pk": keys.project_partition(project_id),
                    "gsi1sk": keys.listed(keys.ASSET_PREFIX, now, asset_id),
                }
            )
            published.append({"assetId": asset_id, "key": key, "role": out.role, "kind": out.kind})
            by_role[out.role] = {"assetId": asset_id, "key": key}
        try:
            self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression="SET stageOutputs = :so, outputs = list_append(if_not_exists(outputs, :empty), :ids), "
                "#r = :r, updatedAt = :now REMOVE #e",
                ConditionExpression="#s = :processing",
                ExpressionAttributeNames={"#r": "result", "#e": "error", "#s": "status"},
                ExpressionAttributeValues={
                    ":so": json.dumps({**(job.get("stageOutputs") or {}), stage: by_role}),
                    ":ids": [p["assetId"] for p in published if p["assetId"] not in (job.get("outputs") or [])],
                    ":empty": [],
                    ":r": json.dumps({**(job.get("result") or {}), stage: metadata}, default=str),
                    ":now": now_iso(),
                    ":processing": "PROCESSING",
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            for made in published:  # the job ended (cancelled) while the files went up: take them back
                self.s3.delete_object(Bucket=self.bucket, Key=made["key"])
                self.table.delete_item(Key=_key(keys.asset(made["assetId"])))
            return None
        return published

    def claim(self, job_id: str, stage: str, seq: int, holder: str, lease_seconds: float) -> Claim:
        """Take the task for this worker: a fresh claim, or a takeover of one whose lease ran out (its holder died).

        `seq` orders a job's tasks (stage index and attempt): a claim for an older task never wins over a newer one.
        """
        now = time.time()
        values = {
            ":me": holder,
            ":at": now_iso(),
            ":until": _decimal(now + lease_seconds),
            ":seq": seq,
            ":stage": stage,
            ":processing": "PROCESSING",
        }
        names = {"#s": "status", "#stage": "stage"}
        claimed = "SET claimedBy = :me, claimedAt = :at, leaseUntil = :until, claimSeq = :seq"
        running = "#s = :processing AND #stage = :stage"
        try:  # a task nobody claimed yet (or an older task's claim)
            self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression=f"{claimed}, claimTakeovers = :zero",
                ConditionExpression=f"{running} AND (attribute_not_exists(claimSeq) OR claimSeq < :seq)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":zero": 0},
            )
            return Claim("claimed")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        try:  # this very task, whose holder stopped renewing its lease
            item = self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression=f"{claimed} ADD claimTakeovers :one",
                ConditionExpression=f"{running} AND claimSeq = :seq AND leaseUntil < :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":one": 1, ":now": _decimal(now)},
                ReturnValues="ALL_OLD",
            )["Attributes"]
            return Claim(
                "claimed", takeovers=int(item.get("claimTakeovers", 0)) + 1, previous=str(item.get("claimedBy"))
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        job = self.job(job_id) or {}
        if job.get("status") != "PROCESSING":
            return Claim("finished")
        if job.get("stage") != stage or int(job.get("claimSeq", -1)) > seq:
            return Claim("stale")
        return Claim("held", held_until=float(job.get("leaseUntil", now)), previous=str(job.get("claimedBy")))

    def renew(self, job_id: str, seq: int, holder: str, lease_seconds: float) -> bool:
        """Extend this worker's lease; False when the job ended or another worker took the task over."""
        try:
            self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression="SET leaseUntil = :until",
                ConditionExpression="#s = :processing AND claimedBy = :me AND claimSeq = :seq",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":until": _decimal(time.time() + lease_seconds),
                    ":processing": "PROCESSING",
                    ":me": holder,
                    ":seq": seq,
                },
            )
            return True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False

    def release(self, job_id: str, seq: int, holder: str) -> None:
        """End this worker's lease now (the task is answered): the job counts as waiting again from this moment."""
        try:
            self.table.update_item(
                Key=_key(keys.job(job_id)),
                UpdateExpression="SET leaseUntil = :now",
                ConditionExpression="claimedBy = :me AND claimSeq = :seq",
                ExpressionAttributeValues={":now": _decimal(time.time()), ":me": holder, ":seq": seq},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def heartbeat(
        self, kind: str, name: str, state: str, idle_since: float | None, stage_seconds: float | None
    ) -> None:
        """Tell /health, the sweeper and queue estimates this worker instance is alive, and what it is doing."""
        now = time.time()
        self.table.put_item(
            Item={
                **_key(keys.worker(kind, name)),
                "kind": kind,
                "name": name,
                "lastSeen": _decimal(now),
                "pid": os.getpid(),
                "host": os.uname().nodename,
                "state": state,
                "ttl": int(now + 86400),
                **({"idleSince": _decimal(idle_since)} if idle_since is not None else {}),
                **({"stageSeconds": _decimal(stage_seconds)} if stage_seconds is not None else {}),
            }
        )


class Claim:
    """What claiming a task found: claimed (maybe as a takeover), stale (a newer task exists), held, or finished."""

    def __init__(self, outcome: str, takeovers: int = 0, held_until: float = 0.0, previous: str = ""):
        self.outcome = outcome
        self.takeovers = takeovers
        self.held_until = held_until
        self.previous = previous


def _decimal(value: float) -> Decimal:
    """A float as DynamoDB stores numbers (milliseconds kept)."""
    return Decimal(str(round(value, 3)))
