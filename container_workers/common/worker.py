"""The worker protocol: long-poll a task queue and run each Step Functions task through a stage function.

Per message: parse and validate it, skip it if the job is no longer running, download the inputs to
a scratch dir, run the stage with a progress callback (which writes progress to the job and is
where a cancelled job stops), upload the outputs as project assets, and answer Step Functions
(SendTaskSuccess, or SendTaskFailure with error BAD_INPUT = no retry / TRANSIENT = retry). While
working, a keep-alive thread extends the message's visibility and sends task heartbeats. The
message is deleted only after the answer is sent. SIGTERM lets the current task finish.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.contract.statuses import TERMINAL
from container_workers.common.jobstore import JobStore, now_iso
from container_workers.common.stage import BadInputError, StageError, StageFn, StageResult, TransientError

KEEPALIVE_SECONDS = float(os.environ.get("WORKER_KEEPALIVE_SECONDS", "10"))
VISIBILITY_SECONDS = 30
IDLE_HEARTBEAT_SECONDS = 10


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
        self.stopped = threading.Event()
        self.reason = ""


class Worker:
    """A long-running process that serves the stages registered for one queue."""

    def __init__(self, name: str, queue_url: str, stages: dict[str, StageFn], task_limit=None):
        self.name = name
        self.queue_url = queue_url
        self.stages = stages
        self.task_limit = task_limit  # optional context-manager factory enforcing per-task caps
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.sqs = boto3.client("sqs", region_name=region)
        self.sfn = boto3.client("stepfunctions", region_name=region)
        self.store = JobStore()
        self.log = Logger(service=f"ai3d-{name}-worker")
        self.metrics = Metrics(namespace="AI3D", service=f"ai3d-{name}-worker")
        self.stopping = threading.Event()
        self.state = "idle"

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
            try:
                self.store.heartbeat(self.name, self.state)
            except (BotoCoreError, ClientError) as exc:
                self.log.warning("heartbeat failed", extra={"error": str(exc)})
            self.stopping.wait(IDLE_HEARTBEAT_SECONDS)

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
            self.state = "idle"
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
                task, "UNKNOWN_STAGE", f"stage {task.stage!r} is not served by the {self.name} worker", retryable=False
            )
        spec = pipeline[task.index]
        self.state = f"busy:{task.stage}"
        self.log.info(
            "task started", extra={"receiveCount": task.message.get("Attributes", {}).get("ApproximateReceiveCount")}
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
                timing = {"workerStartedAt": started_iso, "stageSeconds": round(time.time() - started, 3)}
                published = self.store.publish_outputs(
                    job, task.stage, result.outputs, {**result.metadata, "timing": timing}
                )
            self.sfn.send_task_success(
                taskToken=task.token, output=json.dumps({"stage": task.stage, "outputs": published})
            )
            self.log.info("task succeeded", extra={"outputs": [p["role"] for p in published]})
            self.metrics.add_metric(name="StageSucceeded", unit=MetricUnit.Count, value=1)
            return True
        except JobStopped as exc:
            self.log.info("task stopped", extra={"reason": str(exc)})
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
        """Extend visibility, heartbeat the task and watch for cancellation until the task ends."""
        while not task.stopped.wait(KEEPALIVE_SECONDS):
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=task.message["ReceiptHandle"],
                    VisibilityTimeout=VISIBILITY_SECONDS,
                )
                self.sfn.send_task_heartbeat(taskToken=task.token)
                if self.store.status(task.job_id) in TERMINAL:
                    task.reason = "the job was cancelled"
                    task.stopped.set()
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                    task.reason = f"the task is gone ({code})"
                    task.stopped.set()
                else:
                    self.log.warning("keep-alive failed", extra={"error": str(exc)})
            except BotoCoreError as exc:
                self.log.warning("keep-alive failed", extra={"error": str(exc)})

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
                error="TRANSIENT" if retryable else "BAD_INPUT",
                cause=json.dumps({"code": code, "message": message})[:32000],
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                self.log.warning("could not answer the task; it will be redelivered", extra={"error": str(exc)})
                return False
        self.metrics.add_metric(name="StageFailed", unit=MetricUnit.Count, value=1)
        return True

    def _delete(self, message: dict) -> None:
        try:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        except ClientError as exc:
            self.log.warning("could not delete the message", extra={"error": str(exc)})
