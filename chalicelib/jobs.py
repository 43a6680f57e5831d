"""Jobs: paid units of work. Creation debits credits in one transaction; settlement refunds exactly once."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import assets, credits, fleet, live, settings, views, webhooks
from chalicelib.contract import failures, jobtypes, keys
from chalicelib.contract.params import InvalidParams
from chalicelib.contract.statuses import ACTIVE, JOB_STATUSES, REFUNDED
from chalicelib.errors import Conflict, NotFound, PaymentRequired, TooManyRequests, ValidationError
from chalicelib.observability import logger, metrics, tracer
from chalicelib.ownership import get_owned
from chalicelib.paging import page
from chalicelib.store.aws import client
from chalicelib.store.db import Asset, Job, Marker, Project, User, now_iso, transaction
from chalicelib.tokens import Principal


# ---------------------------------------------------------------- creation
def _inputs(principal: Principal, project: Project, job_type: str, raw) -> tuple[dict, list[Asset]]:
    spec = jobtypes.JOB_TYPES[job_type].inputs
    if not isinstance(raw, dict):
        raise ValidationError("inputs must be an object", code="INVALID_INPUTS")
    unknown = sorted(set(raw) - set(spec))
    if unknown:
        raise ValidationError(
            f"unknown inputs for {job_type}: {', '.join(unknown)} (expected: {', '.join(spec)})", code="INVALID_INPUTS"
        )
    inputs, input_assets = {}, []
    for name, kinds in spec.items():
        value = raw.get(name)
        if kinds == ("text",):
            if not isinstance(value, str) or not value.strip() or len(value) > jobtypes.PROMPT_MAX_CHARS:
                raise ValidationError(
                    f"inputs.{name} must be a non-empty text of at most {jobtypes.PROMPT_MAX_CHARS} characters",
                    code="INVALID_INPUTS",
                )
            inputs[name] = value.strip()
            continue
        if not isinstance(value, str) or not value:
            raise ValidationError(f"inputs.{name} must be an asset id", code="INVALID_INPUTS")
        try:
            asset = get_owned(Asset, *keys.asset(value), principal, "asset")
        except NotFound:
            raise NotFound(f"inputs.{name}: asset not found", code="INPUT_NOT_FOUND") from None
        if asset.owner_id != project.owner_id:
            raise NotFound(f"inputs.{name}: asset not found", code="INPUT_NOT_FOUND")
        if asset.kind not in kinds:
            raise ValidationError(
                f"inputs.{name} must be a {' or '.join(kinds)} asset, not {asset.kind}", code="INVALID_INPUTS"
            )
        if asset.status == "REJECTED":
            raise ValidationError(f"inputs.{name} was rejected: {asset.reject_reason}", code="INPUT_REJECTED")
        if asset.source_job_id and not assets.usable(asset):
            raise Conflict(f"inputs.{name} is the output of a job that has not completed", code="INPUT_NOT_READY")
        inputs[name] = asset.id
        input_assets.append(asset)
    return inputs, input_assets


def _webhook(data: dict) -> str | None:
    url = data.get("webhookUrl")
    return None if url is None else webhooks.validate_url(url)


def _params(job_type: str, params) -> dict:
    try:
        return jobtypes.validate_params(job_type, params)
    except InvalidParams as exc:
        raise ValidationError(str(exc), code=exc.code) from None


@tracer.capture_method
def create(principal: Principal, data: dict) -> dict:
    """Validate, price and create a job; debit + job + ledger in one transaction; start it if inputs are READY."""
    job_type = data.get("type")
    if job_type not in jobtypes.JOB_TYPES:
        raise ValidationError(f"type must be one of {', '.join(jobtypes.JOB_TYPES)}", code="INVALID_TYPE")
    project_id = data.get("projectId")
    if not isinstance(project_id, str) or not project_id:
        raise ValidationError("projectId is required", code="INVALID_PROJECT")
    project = get_owned(Project, *keys.project(project_id), principal, "project")
    inputs, input_assets = _inputs(principal, project, job_type, data.get("inputs") or {})
    params = _params(job_type, data.get("params"))
    webhook_url = _webhook(data)
    video_seconds = None
    if job_type == "MOTION_CAPTURE":
        video = input_assets[0]
        if video.status != "READY":
            raise Conflict("the video must finish uploading first: its duration sets the price", code="INPUT_NOT_READY")
        video_seconds = float((video.metadata or {}).get("durationSeconds", 0))
    price = jobtypes.cost(job_type, video_seconds)
    user = User.get(*keys.user(project.owner_id))
    if webhook_url:
        webhooks.require_secret(user)
    tier = settings.TIERS[user.tier]
    job_id, now = str(uuid.uuid4()), now_iso()
    job = Job(
        *keys.job(job_id),
        id=job_id,
        project_id=project.id,
        owner_id=project.owner_id,
        type=job_type,
        status="PENDING",
        progress=0,
        credits_used=price,
        inputs=inputs,
        params=params,
        pipeline=jobtypes.plan(job_type, inputs, params),
        webhook_url=webhook_url,
        created_at=now,
        updated_at=now,
        gsi1pk=keys.project_partition(project.id),
        gsi1sk=keys.listed(keys.JOB_PREFIX, now, job_id),
        gsi2pk=keys.user_partition(project.owner_id),
        gsi2sk=keys.listed(keys.JOB_PREFIX, now, job_id),
        gsi3pk=keys.status_partition("PENDING"),
        gsi3sk=now,
    )
    try:
        with transaction() as tx:
            tx.update(
                user,
                actions=[User.credits.add(-price), User.active_jobs.add(1)],
                condition=(User.credits >= price)
                & (User.active_jobs < tier.max_concurrent_jobs)
                & (User.disabled == False),  # noqa: E712 (a PynamoDB condition)
            )
            tx.save(job, condition=Job.pk.does_not_exist())
            credits.add_entry(tx, user.id, "DEBIT", -price, now, job_id=job_id, reason=f"{job_type} job")
    except TransactWriteError:
        current = User.get(*keys.user(project.owner_id), consistent_read=True)
        if current.credits < price:
            raise PaymentRequired(
                f"this job costs {price} credits; the balance is {int(current.credits)}",
                details={"balance": int(current.credits), "cost": price},
            ) from None
        if current.active_jobs >= tier.max_concurrent_jobs:
            raise TooManyRequests(
                f"your tier runs at most {tier.max_concurrent_jobs} jobs at once",
                code="TOO_MANY_ACTIVE_JOBS",
                headers={"Retry-After": "30"},
            ) from None
        raise Conflict("the account cannot start jobs right now", code="ACCOUNT_UNAVAILABLE") from None
    metrics.add_metric(name="JobsCreated", unit="Count", value=1)
    metrics.add_metric(name="CreditsDebited", unit="Count", value=price)
    logger.info("job created", extra={"job_id": job_id, "type": job_type, "cost": price})
    if all(a.status == "READY" for a in input_assets):
        start(job)
    return views.job(job)


def queue_url(worker: str) -> str:
    """The task queue of a worker kind."""
    return {"gpu": settings.GPU_QUEUE_URL, "blender": settings.BLENDER_QUEUE_URL}[worker]


def execution_input(job_id: str, stages: list[dict]) -> dict:
    """The state machine's input for a job."""
    return {
        "jobId": job_id,
        "stageCount": len(stages),
        "stages": [
            {"index": i, "name": s["name"], "worker": s["worker"], "queueUrl": queue_url(s["worker"])}
            for i, s in enumerate(stages)
        ],
    }


def start(job: Job) -> None:
    """Start the job's state machine (idempotent: the execution is named after the job)."""
    sfn = client("stepfunctions")
    try:
        arn = sfn.start_execution(
            stateMachineArn=settings.PIPELINE_STATE_MACHINE_ARN,
            name=job.id,
            input=json.dumps(execution_input(job.id, job.pipeline)),
        )["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        return
    except Exception:
        logger.exception("could not start the pipeline", extra={"job_id": job.id})
        settle(
            job.id, "FAILED", {"code": "START_FAILED", "message": "the job could not be started; credits were returned"}
        )
        return
    try:
        job.update(
            actions=[Job.execution_arn.set(arn), Job.started_at.set(now_iso()), Job.updated_at.set(now_iso())],
            condition=Job.status.is_in(*ACTIVE),
        )
    except UpdateError:
        pass  # finished (or cancelled) already


def resume(job: Job) -> bool:
    """Start a job's pipeline again from the stage it was at, because its execution no longer exists (a local
    emulator keeps data but no execution across a restart); False if the job ended meanwhile. The outputs of the
    stages before are on the job, so those stages do not run again."""
    index = next((i for i, stage in enumerate(job.pipeline) if stage["name"] == job.stage), 0)
    execution = execution_input(job.id, job.pipeline)
    execution["stages"] = execution["stages"][index:]
    sfn = client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=settings.PIPELINE_STATE_MACHINE_ARN,
        name=f"{job.id}-resumed-{uuid.uuid4().hex[:8]}",
        input=json.dumps(execution),
    )["executionArn"]
    try:
        job.update(
            actions=[Job.execution_arn.set(arn), Job.updated_at.set(now_iso())], condition=Job.status.is_in(*ACTIVE)
        )
    except UpdateError:
        sfn.stop_execution(executionArn=arn, error="CANCELLED", cause="the job ended before it was resumed")
        return False
    logger.info("job resumed", extra={"job_id": job.id, "stage": job.stage})
    return True


def recover_lost_executions(now: float | None = None) -> dict[str, int]:
    """After executions were lost (a local emulator restarted): resume each started job whose execution no longer
    exists, and settle each job that completed within the hour but whose report was lost (no SETTLEMENT marker)."""
    now = now or time.time()
    sfn = client("stepfunctions")
    done = {"resumed": 0, "settled": 0}
    for status in ACTIVE:
        for job in Job.by_status.query(keys.status_partition(status)):
            if job.status not in ACTIVE or not job.execution_arn:
                continue
            try:
                sfn.describe_execution(executionArn=job.execution_arn)
                continue
            except sfn.exceptions.ExecutionDoesNotExist:
                done["resumed"] += resume(job)
    since = datetime.fromtimestamp(now - 3600, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for job in Job.by_status.query(keys.status_partition("COMPLETED"), Job.gsi3sk >= since):
        try:
            Marker.get(*keys.settlement(job.id), consistent_read=True)
        except Marker.DoesNotExist:
            done["settled"] += settle(job.id, "COMPLETED")
    return done


def start_waiting(asset: Asset) -> None:
    """After an upload is judged: start the PENDING jobs waiting for it, or fail them if it was rejected."""
    for job in Job.by_parent.query(
        keys.project_partition(asset.project_id),
        Job.gsi1sk.startswith(keys.JOB_PREFIX),
        filter_condition=Job.status == "PENDING",
    ):
        if asset.id not in job.inputs.values() or job.execution_arn:
            continue
        if asset.status == "REJECTED":
            settle(
                job.id,
                "FAILED",
                {"code": "INPUT_REJECTED", "message": f"the input was rejected: {asset.reject_reason}"},
            )
            continue
        ids = [v for k, v in job.inputs.items() if k.endswith("AssetId")]
        ready = [a for a in Asset.batch_get([keys.asset(i) for i in ids]) if a.status == "READY"]
        if len(ready) == len(ids):
            start(job)


# ---------------------------------------------------------------- reading
def get(principal: Principal, job_id: str) -> Job:
    """A job the caller may see, or NotFound."""
    return get_owned(Job, *keys.job(job_id), principal, "job")


def list_jobs(principal: Principal, params: dict) -> dict:
    """Jobs of a project (projectId) or of the caller, newest first, optionally by status."""
    status = params.get("status")
    if status is not None and status not in JOB_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(JOB_STATUSES)}", code="INVALID_STATUS")
    condition = (Job.status == status) if status else None
    if params.get("projectId"):
        project = get_owned(Project, *keys.project(params["projectId"]), principal, "project")
        items, token = page(
            Job.by_parent,
            "gsi1pk",
            keys.project_partition(project.id),
            params,
            Job.gsi1sk.startswith(keys.JOB_PREFIX),
            filter_condition=condition,
        )
    else:
        items, token = page(
            Job.by_owner,
            "gsi2pk",
            keys.user_partition(principal.user_id),
            params,
            Job.gsi2sk.startswith(keys.JOB_PREFIX),
            filter_condition=condition,
        )
    return {"items": [views.job(j) for j in items], "nextToken": token}


# ---------------------------------------------------------------- ending
@tracer.capture_method
def settle(job_id: str, outcome: str, error: dict | None = None) -> bool:
    """Finish a job exactly once: mark FAILED/CANCELLED (or accept COMPLETED), free its slot, refund if not completed.

    One transaction holds the job update, the SETTLEMENT marker (condition: absent), the user's
    balance/slot update and the REFUND ledger entry, so however many paths report an ending,
    the refund happens once. Returns True if this call settled the job.
    """
    try:
        job = Job.get(*keys.job(job_id), consistent_read=True)
    except Job.DoesNotExist:
        return False
    now = now_iso()
    refund = outcome in REFUNDED
    user = User(*keys.user(job.owner_id))
    try:
        with transaction() as tx:
            tx.save(Marker(*keys.settlement(job_id), created_at=now), condition=Marker.pk.does_not_exist())
            if refund:
                actions: list[Action] = [
                    Job.status.set(outcome),
                    Job.finished_at.set(now),
                    Job.updated_at.set(now),
                    Job.gsi3pk.set(keys.status_partition(outcome)),
                    Job.gsi3sk.set(now),
                ]
                if error:
                    actions.append(Job.error.set(error))
                tx.update(job, actions=actions, condition=Job.status.is_in(*ACTIVE))
                tx.update(
                    user,
                    actions=[User.credits.add(int(job.credits_used)), User.active_jobs.add(-1)],
                    condition=User.pk.exists(),
                )
                credits.add_entry(
                    tx,
                    job.owner_id,
                    "REFUND",
                    int(job.credits_used),
                    now,
                    job_id=job_id,
                    reason=f"{job.type} job {outcome.lower()}",
                )
            else:
                tx.condition_check(Job, job.pk, job.sk, condition=Job.status == "COMPLETED")
                tx.update(user, actions=[User.active_jobs.add(-1)], condition=User.pk.exists())
    except TransactWriteError:
        logger.info("job already settled or not in a settleable state", extra={"job_id": job_id, "outcome": outcome})
        return False
    metrics.add_metric(name=f"Jobs{outcome.title()}", unit="Count", value=1)
    metrics.add_metric(name="JobSeconds", unit="Seconds", value=max(0.0, time.time() - _epoch(job.created_at)))
    if refund:
        metrics.add_metric(name="CreditsRefunded", unit="Count", value=int(job.credits_used))
        assets.discard_outputs(job_id, job.project_id)  # unreachable already (views.job, assets.usable): now gone
    logger.info("job settled", extra={"job_id": job_id, "outcome": outcome, "refund": refund})
    live.notify(job_id)
    if job.webhook_url:
        webhooks.schedule(job_id, attempt=0)
    return True


def _error_from_pipeline(job: Job, event_error: dict | None) -> dict:
    """A user-readable error for a failed execution: the worker's own words when it left them, else the error name's."""
    if job.error and job.error.code:
        return {"code": job.error.code, "message": job.error.message}
    return failures.job_error(event_error)


def on_pipeline_event(message: dict) -> None:
    """Handle a state machine's report (job-events queue): settle COMPLETED or FAILED."""
    job_id = str(message.get("jobId", ""))
    try:
        job = Job.get(*keys.job(job_id), consistent_read=True)
    except Job.DoesNotExist:
        logger.warning("pipeline event for an unknown job", extra={"job_id": job_id})
        return
    if message.get("status") == "COMPLETED":
        settle(job_id, "COMPLETED")
    else:
        settle(job_id, "FAILED", _error_from_pipeline(job, message.get("error")))


def cancel(principal: Principal, job_id: str) -> dict:
    """Cancel a PENDING or PROCESSING job: stop its execution and refund it. 409 once it has ended - also when it
    completed in the same instant: the job's status decides, in one conditional write, which of the two happened."""
    job = get(principal, job_id)
    if job.status not in ACTIVE or not cancel_if_running(job, reason="cancelled by the user"):
        status = Job.get(job.pk, job.sk, consistent_read=True).status
        raise Conflict(f"the job is already {status}", code="JOB_NOT_ACTIVE")
    return views.job(Job.get(job.pk, job.sk, consistent_read=True))


def cancel_if_running(job: Job, reason: str) -> bool:
    """Cancel a job if it is still active (used by cancel and by project deletion); True if this call cancelled it."""
    if job.status not in ACTIVE:
        return False
    if not settle(job.id, "CANCELLED", {"code": "CANCELLED", "message": reason}):
        return False
    if job.execution_arn:
        try:
            client("stepfunctions").stop_execution(executionArn=job.execution_arn, error="CANCELLED", cause=reason)
        except Exception:
            logger.exception("could not stop the execution", extra={"job_id": job.id})
    return True


def sweep(now: float | None = None) -> int:
    """Fail and refund the jobs that can no longer finish: their execution ended unreported, their task was lost, or
    their input never arrived. Healthy jobs cost no Step Functions call: see `_suspicion`."""
    now = now or time.time()
    swept = 0
    for status in ACTIVE:
        for job in Job.by_status.query(keys.status_partition(status)):
            if job.status not in ACTIVE:
                continue
            if job.execution_arn:
                error = _check_execution(job, now)
                if error is None:
                    continue
            else:
                age = now - _epoch(job.created_at)
                if age < settings.UPLOAD_URL_SECONDS + 300:
                    continue
                error = {
                    "code": "INPUT_NEVER_UPLOADED",
                    "message": "the input was never uploaded; credits were returned",
                }
            if settle(job.id, "FAILED", error):
                swept += 1
    return swept


def _suspicion(job: Job, now: float) -> str | None:
    """Why the sweeper should ask Step Functions about a started job, or None (the usual case).

    A task a worker holds (a live lease) is healthy; so is one waiting in a queue whose workers are busy, for hours
    if need be. "lost": the task has been free for TASK_LOST_SECONDS while a worker of its kind sat idle the whole
    time - an idle worker long-polling the queue would have taken it, so its message is gone (dead-lettered).
    "quiet": no write to the job for SWEEP_RECHECK_SECONDS (checked once per that period), which finds executions
    that ended without reporting.
    """
    if fleet.held(job, now):
        return None
    since, kind = fleet.waiting_since(job, now), fleet.task_kind(job)
    if since and kind and now - since > settings.TASK_LOST_SECONDS:
        idle = [w for w in fleet.alive(kind, now) if w.idle_since is not None and w.idle_since < since]
        if idle:
            return "lost"
    if now - max(_epoch(job.updated_at), float(job.swept_at or 0)) > settings.SWEEP_RECHECK_SECONDS:
        return "quiet"
    return None


def _check_execution(job: Job, now: float) -> dict | None:
    """The error to settle a suspicious job with, after one DescribeExecution; None when it may go on."""
    suspicion = _suspicion(job, now)
    if suspicion is None:
        return None
    sfn = client("stepfunctions")
    try:
        execution = sfn.describe_execution(executionArn=job.execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        execution = {"status": "GONE"}
    if execution["status"] != "RUNNING":
        return {
            "code": "PIPELINE_ENDED",
            "message": f"processing ended ({execution['status'].lower()}); credits were returned",
        }
    if suspicion == "lost":
        code, message = failures.WORKER_LOST
        logger.warning("task lost: stopping the execution", extra={"job_id": job.id, "kind": fleet.task_kind(job)})
        try:
            sfn.stop_execution(executionArn=job.execution_arn, error=code, cause=message)
        except Exception:
            logger.exception("could not stop the execution", extra={"job_id": job.id})
        return {"code": code, "message": message}
    try:
        job.update(actions=[Job.swept_at.set(now)], condition=Job.status.is_in(*ACTIVE))
    except UpdateError:
        pass  # it ended meanwhile
    return None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
