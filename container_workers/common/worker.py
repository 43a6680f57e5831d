"""The worker protocol: long-poll a task queue and run each Step Functions task through a stage function.

Per message: parse and validate it, skip it if the job is no longer running, claim the task on the job
(a conditional write: claimedBy, leaseUntil), download the inputs to a scratch dir, run the stage with a
progress callback (which writes progress to the job and is where a cancelled job stops), upload the
outputs as project assets, and answer Step Functions (SendTaskSuccess, or SendTaskFailure with error
BAD_INPUT = no retry / TRANSIENT = retry). While working, a keep-alive thread extends the message's
visibility and renews the lease; when either stops (the worker died), the message comes back to another
worker of the kind, which takes the task over once the lease has run out. A task that waits in the queue
holds no lease, so waiting is never a failure. The message is deleted only after the answer is sent.
SIGTERM lets the current task finish. Every process of a kind has its own name (WORKER_NAME, e.g. gpu-2)
and heartbeat item.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.contract import failures
from chalicelib.contract.statuses import TERMINAL
from container_workers.common import healthcheck
from container_workers.common.jobstore import JobStore, now_iso
from container_workers.common.stage import BadInputError, StageError, StageFn, StageResult, TransientError

LEASE_SECONDS = float(os.environ.get("WORKER_LEASE_SECONDS", "60"))  # a silent holder loses its task after this
VISIBILITY_SECONDS = int(LEASE_SECONDS) + 10  # the message comes back just after the lease has run out
KEEPALIVE_SECONDS = min(float(os.environ.get("WORKER_KEEPALIVE_SECONDS", "10")), LEASE_SECONDS / 3)
IDLE_HEARTBEAT_SECONDS = 10
MAX_TAKEOVERS = 2  # a task whose holders died this often is failed (it is likely what kills them)
GONE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


class JobStopped(Exception):
    """The job was cancelled or its task is gone: stop working on it."""


class Task:
    """One received message and the state shared between the stage and the keep-alive thread."""

    def __init__(self, message: dict):
        self.message = message
        self.body = json.loads(message["Body"])
        self.token: str = self.body["taskToken"]
        self.job_id: str = str(self.body["jobId"])
        self.stage: str = str(self.body["stage"])
        self.index = int(self.body.get("stageIndex", 0))
        self.count = max(1, int(self.body.get("stageCount", 1)))
        self.seq = self.index * 100 + int(self.body.get("attempt", 0))  # orders a job's tasks: stage, then retry
        self.stopped = threading.Event()
        self.reason = ""
        self.taken_over = False  # another worker holds the task now: it answers, not this one


class Worker:
    """A long-running process that serves the stages registered for one queue."""

    def __init__(self, kind: str, queue_url: str, stages: dict[str, StageFn], task_limit=None):
        self.kind = kind
        self.name = os.environ.get("WORKER_NAME") or f"{kind}-{socket.gethostname()}-{os.getpid()}"
        self.queue_url = queue_url
        self.stages = stages
        self.task_limit = task_limit  # optional context-manager factory enforcing per-task caps
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.sqs = boto3.client("sqs", region_name=region)
        self.sfn = boto3.client("stepfunctions", region_name=region)
        self.store = JobStore()
        self.log = Logger(service=f"ai3d-{kind}-worker")
        self.log.append_keys(worker=self.name)
        self.metrics = Metrics(namespace="AI3D", service=f"ai3d-{kind}-worker")
        self.stopping = threading.Event()
        self.state = "idle"
        self.idle_since: float | None = time.time()
        self.stage_seconds: float | None = None  # a moving average of this worker's stage durations

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        """Poll until SIGTERM/SIGINT; finish the task in hand before exiting."""
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        threading.Thread(target=self._beat, daemon=True).start()
        self.log.info("worker started", extra={"queue": self.queue_url, "stages": sorted(self.stages)})
        while not self.stopping.is_set():
            self.poll_once()
        self.log.info("worker stopped")

    def poll_once(self, wait_seconds: int = 2) -> int:
        """Receive at most one message and process it; returns how many were handled."""
        try:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=VISIBILITY_SECONDS,
                AttributeNames=["All"],
            )
        except (BotoCoreError, ClientError) as exc:
            self.log.warning("receive failed", extra={"error": str(exc)})
            self.stopping.wait(2)
            return 0
        messages = received.get("Messages", [])
        for message in messages:
            self.handle(message)
        return len(messages)

    def _beat(self) -> None:
        while not self.stopping.is_set():
            self._heartbeat()
            self.stopping.wait(IDLE_HEARTBEAT_SECONDS)

    def _heartbeat(self) -> None:
        healthcheck.touch()  # the container's HEALTHCHECK: this thread is alive
        try:
            self.store.heartbeat(self.kind, self.name, self.state, self.idle_since, self.stage_seconds)
        except (BotoCoreError, ClientError) as exc:
            self.log.warning("heartbeat failed", extra={"error": str(exc)})

    def _set_state(self, state: str) -> None:
        """Busy or idle, told at once (the sweeper and queue estimates read it)."""
        self.state = state
        self.idle_since = time.time() if state == "idle" else None
        self._heartbeat()

    # ------------------------------------------------------------------ one message
    def handle(self, message: dict) -> None:
        """Process one message end to end; never raises."""
        try:
            task = Task(message)
        except (ValueError, KeyError, TypeError) as exc:
            self.log.error(
                "dropping malformed task message", extra={"error": str(exc), "body": message.get("Body", "")[:200]}
            )
            self._delete(message)
            return
        self.log.append_keys(job_id=task.job_id, stage=task.stage)
        started = time.time()
        try:
            answered = self._process(task)
        finally:
            if self.state != "idle":
                self._set_state("idle")
            self.log.remove_keys(["job_id", "stage"])
        if answered:
            self._delete(message)
        self.metrics.add_metric(name="StageSeconds", unit=MetricUnit.Seconds, value=time.time() - started)
        self.metrics.flush_metrics()

    def _process(self, task: Task) -> bool:
        """Run the task; True once Step Functions has its answer (or no longer wants one)."""
        job = self.store.job(task.job_id)
        if job is None or job["status"] in TERMINAL:
            self.log.info("skipping task of a finished job", extra={"status": job and job["status"]})
            return self._fail(task, "CANCELLED", "the job is no longer running", retryable=False, record=False)
        pipeline = job.get("pipeline") or []
        if task.index >= len(pipeline) or pipeline[task.index]["name"] != task.stage or task.stage not in self.stages:
            return self._fail(
                task, "UNKNOWN_STAGE", f"stage {task.stage!r} is not served by the {self.kind} worker", retryable=False
            )
        try:
            claim = self.store.claim(task.job_id, task.stage, task.seq, self.name, LEASE_SECONDS)
        except (BotoCoreError, ClientError) as exc:
            self.log.warning("could not claim the task; it comes back shortly", extra={"error": str(exc)})
            self._defer(task, 5)
            return False
        if claim.outcome != "claimed":
            return self._not_claimed(task, claim)
        if claim.takeovers >= MAX_TAKEOVERS:
            self.store.release(task.job_id, task.seq, self.name)
            message = (
                f"the {task.stage} stage stopped {claim.takeovers} workers before finishing; it was not tried again"
            )
            return self._fail(task, failures.WORKER_LOST[0], message, retryable=False)
        spec = pipeline[task.index]
        self._set_state(f"busy:{task.stage}")
        queued = None if claim.takeovers else round(time.time() - _epoch(job.get("queuedAt")), 3)
        self.log.info(
            "task started",
            extra={
                "receiveCount": task.message.get("Attributes", {}).get("ApproximateReceiveCount"),
                "queuedSeconds": queued,
                **({"takenOverFrom": claim.previous} if claim.takeovers else {}),
            },
        )
        keepalive = threading.Thread(target=self._keepalive, args=(task,), daemon=True)
        keepalive.start()
        try:
            with tempfile.TemporaryDirectory(prefix=f"ai3d-{task.job_id[:8]}-{task.stage}-") as scratch:
                inputs = self._download_inputs(job, spec, Path(scratch) / "in")
                workdir = Path(scratch) / "out"
                workdir.mkdir()
                started, started_iso = time.time(), now_iso()
                result = self._run_stage(task, spec, inputs, workdir)
                if task.stopped.is_set():
                    raise JobStopped(task.reason)
                seconds = time.time() - started
                self.stage_seconds = seconds if self.stage_seconds is None else 0.7 * self.stage_seconds + 0.3 * seconds
                timing = {
                    "workerStartedAt": started_iso,
                    "stageSeconds": round(seconds, 3),
                    "worker": self.name,
                    **({"queuedSeconds": queued} if queued is not None else {"takeovers": claim.takeovers}),
                }
                published = self.store.publish_outputs(
                    job, task.stage, result.outputs, {**result.metadata, "timing": timing}
                )
                if published is None:
                    raise JobStopped("the job ended while its outputs were published")
            self.sfn.send_task_success(
                taskToken=task.token, output=json.dumps({"stage": task.stage, "outputs": published})
            )
            self.log.info("task succeeded", extra={"outputs": [p["role"] for p in published]})
            self.metrics.add_metric(name="StageSucceeded", unit=MetricUnit.Count, value=1)
            return True
        except JobStopped as exc:
            self.log.info("task stopped", extra={"reason": str(exc)})
            if task.taken_over:
                return False  # neither answer nor delete: the message and the task belong to the new holder
            return self._fail(task, "CANCELLED", str(exc) or "the job was cancelled", retryable=False, record=False)
        except StageError as exc:
            self.log.info(
                "stage refused the task", extra={"code": exc.code, "error": exc.message, "retryable": exc.retryable}
            )
            return self._fail(task, exc.code, exc.message, retryable=exc.retryable)
        except (BotoCoreError, ClientError) as exc:
            self.log.warning("AWS call failed during the task", extra={"error": str(exc)})
            return self._fail(
                task, "TRANSIENT_ERROR", "a storage error interrupted processing; retrying", retryable=True
            )
        except Exception:
            self.log.exception("stage crashed")
            return self._fail(task, "PROCESSING_ERROR", f"the {task.stage} stage failed unexpectedly", retryable=True)
        finally:
            task.stopped.set()
            keepalive.join(timeout=KEEPALIVE_SECONDS + 5)
            try:
                self.store.release(task.job_id, task.seq, self.name)
            except (BotoCoreError, ClientError) as exc:
                self.log.warning("could not release the lease (it runs out by itself)", extra={"error": str(exc)})

    def _not_claimed(self, task: Task, claim) -> bool:
        """A task this worker may not run: finished job (answer it), older task (drop it), or held by a live worker."""
        if claim.outcome == "finished":
            return self._fail(task, "CANCELLED", "the job is no longer running", retryable=False, record=False)
        if claim.outcome == "stale":
            self.log.info("dropping the message of a task that was already replaced")
            return True
        wait = max(1, min(43200, int(claim.held_until - time.time()) + 2))
        self.log.info(
            "task held by a live worker; looking again when its lease ends",
            extra={"holder": claim.previous, "seconds": wait},
        )
        self._defer(task, wait)
        return False

    def _defer(self, task: Task, seconds: int) -> None:
        """Let the message come back in `seconds` (to this worker or another)."""
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=task.message["ReceiptHandle"], VisibilityTimeout=seconds
            )
        except (BotoCoreError, ClientError) as exc:
            self.log.warning("could not defer the message", extra={"error": str(exc)})

    def _download_inputs(self, job: dict, spec: dict, folder: Path) -> dict[str, Path]:
        inputs = {}
        for role, ref in (spec.get("inputs") or {}).items():
            if "asset" in ref:
                asset = self.store.asset(ref["asset"])
                if not asset or asset.get("status") != "READY":
                    raise BadInputError("INPUT_MISSING", f"input {role} ({ref['asset']}) is not available")
                key, suffix = asset["key"], "." + asset["format"]
            else:
                produced = (job.get("stageOutputs") or {}).get(ref["stage"], {}).get(ref["role"])
                if not produced:
                    raise BadInputError("INPUT_MISSING", f"stage {ref['stage']} produced no {ref['role']}")
                key, suffix = produced["key"], Path(produced["key"]).suffix
            try:
                inputs[role] = self.store.download(key, folder / f"{role}{suffix}")
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("404", "NoSuchKey"):
                    raise BadInputError("INPUT_MISSING", f"input {role} no longer exists") from exc
                raise TransientError("TRANSIENT_ERROR", "could not download the input") from exc
        return inputs

    def _run_stage(self, task: Task, spec: dict, inputs: dict[str, Path], workdir: Path) -> StageResult:
        last = {"at": 0.0, "pct": -1}

        def progress(pct: float, message: str) -> None:
            if task.stopped.is_set():
                raise JobStopped(task.reason)
            overall = int((task.index * 100 + max(0.0, min(100.0, pct))) / task.count)
            now = time.time()
            if overall > last["pct"] and (now - last["at"] >= 0.5 or overall - last["pct"] >= 5):
                last.update(at=now, pct=overall)
                if not self.store.progress(task.job_id, overall, f"{task.stage}: {message}"):
                    task.reason = "the job is no longer running"
                    task.stopped.set()
                    raise JobStopped(task.reason)

        progress(0, "started")
        stage_fn = self.stages[task.stage]
        if self.task_limit is None:
            return stage_fn(inputs, dict(spec.get("params") or {}), workdir, progress)
        with self.task_limit():
            return stage_fn(inputs, dict(spec.get("params") or {}), workdir, progress)

    def _keepalive(self, task: Task) -> None:
        """Extend the message's visibility and renew the lease until the task ends; stop it if the lease is lost.

        What can starve it: nothing in the stage (it is its own thread, and the stage's C extensions release the
        GIL); a frozen process (SIGSTOP, swap storm) stops it, and that is exactly when another worker should take over.
        """
        while not task.stopped.wait(KEEPALIVE_SECONDS):
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=task.message["ReceiptHandle"],
                    VisibilityTimeout=VISIBILITY_SECONDS,
                )
            except (BotoCoreError, ClientError) as exc:
                self.log.warning("could not extend the message's visibility", extra={"error": str(exc)})
            try:
                if not self.store.renew(task.job_id, task.seq, self.name, LEASE_SECONDS):
                    job = self.store.job(task.job_id) or {}
                    task.taken_over = job.get("status") == "PROCESSING" and job.get("claimedBy") != self.name
                    task.reason = "another worker took the task over" if task.taken_over else "the job ended"
                    task.stopped.set()
            except (BotoCoreError, ClientError) as exc:
                self.log.warning("could not renew the lease", extra={"error": str(exc)})

    # ------------------------------------------------------------------ answers
    def _fail(self, task: Task, code: str, message: str, retryable: bool, record: bool = True) -> bool:
        if record:
            try:
                self.store.record_error(task.job_id, code, message)
            except (BotoCoreError, ClientError) as exc:
                self.log.warning("could not record the error", extra={"error": str(exc)})
        try:
            self.sfn.send_task_failure(
                taskToken=task.token,
                error=failures.RETRY if retryable else failures.FINAL,
                cause=failures.worker_cause(code, message),
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in GONE:
                self.log.warning("could not answer the task; it will be redelivered", extra={"error": str(exc)})
                return False
        self.metrics.add_metric(name="StageFailed", unit=MetricUnit.Count, value=1)
        return True

    def _delete(self, message: dict) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except ClientError as exc:
            self.log.warning("could not delete the message", extra={"error": str(exc)})


def _epoch(iso: str | None) -> float:
    """Seconds since the epoch of an ISO-8601 UTC time (now when missing)."""
    if not iso:
        return time.time()
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
