"""Liveness by lease: claims and takeovers, a sweeper that asks Step Functions only about suspicious jobs, queue
positions, and every pipeline error name mapped to words."""

from __future__ import annotations

import time

import pytest

from chalicelib import jobs, settings
from chalicelib.contract import failures
from chalicelib.store.aws import client as aws_client
from chalicelib.store.db import Job, WorkerHeartbeat, now_iso
from container_workers.common.jobstore import JobStore
from tests.unit.platform.helpers import call
from tests.unit.platform.test_jobs import model_asset


def _job(client, user, pid) -> str:
    ticket = model_asset(client, user, pid)
    body = {"projectId": pid, "type": "OPTIMIZE", "inputs": {"modelAssetId": ticket["asset"]["id"]}}
    status, job = call(client, "POST", "/jobs", user, {**body, "params": {"ratio": 0.5}})
    assert status == 202 and Job.get(f"JOB#{job['id']}", "JOB").execution_arn
    return job["id"]


def _queue(job_id: str, queued_at: str, **fields) -> Job:
    """Put a started job in the blender queue as MarkStage does."""
    job = Job.get(f"JOB#{job_id}", "JOB")
    actions = [
        Job.status.set("PROCESSING"),
        Job.stage.set("optimize"),
        Job.queued_at.set(queued_at),
        Job.queue_kind.set("blender"),
        Job.gsi3pk.set("STATUS#PROCESSING"),
        Job.gsi3sk.set(queued_at),
    ]
    actions += [getattr(Job, name).set(value) for name, value in fields.items()]
    job.update(actions=actions)
    return Job.get(f"JOB#{job_id}", "JOB", consistent_read=True)


def _worker(name: str, state: str = "idle", idle_since: float | None = None, stage_seconds: float | None = None):
    WorkerHeartbeat(
        "WORKER#blender",
        f"INSTANCE#{name}",
        name=name,
        kind="blender",
        last_seen=time.time(),
        state=state,
        idle_since=idle_since,
        stage_seconds=stage_seconds,
    ).save()
    from chalicelib import fleet

    fleet._cache.clear()


@pytest.fixture
def alice(client):
    from tests.unit.platform.helpers import register

    user = register(client)
    from chalicelib.store.db import User

    User.get(f"USER#{user['id']}", "PROFILE").update(actions=[User.tier.set("ENTERPRISE")])
    return user, call(client, "POST", "/projects", user, {"name": "p"})[1]["id"]


@pytest.fixture
def describe_calls():
    """Counts DescribeExecution calls made by the API's Step Functions client."""
    calls = []
    sfn = aws_client("stepfunctions")
    handler = lambda **kwargs: calls.append(kwargs["params"])  # noqa: E731
    sfn.meta.events.register("before-call.sfn.DescribeExecution", handler)
    yield calls
    sfn.meta.events.unregister("before-call.sfn.DescribeExecution", handler)


def test_claim_renew_and_take_over_a_task_whose_holder_went_silent(client, alice, aws):
    user, pid = alice
    job_id = _job(client, user, pid)
    _queue(job_id, now_iso())
    store = JobStore(aws["TABLE_NAME"], aws["ASSETS_BUCKET"])
    assert store.claim(job_id, "optimize", 0, "blender-1", lease_seconds=60).outcome == "claimed"
    held = store.claim(job_id, "optimize", 0, "blender-2", lease_seconds=60)
    assert held.outcome == "held" and held.previous == "blender-1" and held.held_until > time.time() + 50
    assert store.renew(job_id, 0, "blender-1", lease_seconds=0.01)  # ... and then blender-1 goes silent
    time.sleep(0.05)
    taken = store.claim(job_id, "optimize", 0, "blender-2", lease_seconds=60)
    assert (taken.outcome, taken.takeovers, taken.previous) == ("claimed", 1, "blender-1")
    assert not store.renew(job_id, 0, "blender-1", lease_seconds=60)  # the old holder learns it lost the task
    assert store.renew(job_id, 0, "blender-2", lease_seconds=60)
    assert store.claim(job_id, "retarget", 100, "blender-1", 60).outcome == "stale"  # not the job's current stage
    store.release(job_id, 0, "blender-2")
    assert Job.get(f"JOB#{job_id}", "JOB", consistent_read=True).lease_until <= time.time()
    jobs.settle(job_id, "CANCELLED", {"code": "CANCELLED", "message": "x"})
    assert store.claim(job_id, "optimize", 1, "blender-1", 60).outcome == "finished"


def test_a_retry_of_a_task_wins_over_the_claim_of_the_attempt_before(client, alice, aws):
    user, pid = alice
    job_id = _job(client, user, pid)
    _queue(job_id, now_iso())
    store = JobStore(aws["TABLE_NAME"], aws["ASSETS_BUCKET"])
    assert store.claim(job_id, "optimize", 0, "blender-1", 60).outcome == "claimed"
    retry = store.claim(job_id, "optimize", 1, "blender-2", 60)  # the state machine retried: attempt 1
    assert (retry.outcome, retry.takeovers) == ("claimed", 0)
    assert store.claim(job_id, "optimize", 0, "blender-1", 60).outcome == "stale"


def test_healthy_jobs_cost_the_sweeper_no_step_functions_call(client, alice, describe_calls):
    user, pid = alice
    held, waiting = _job(client, user, pid), _job(client, user, pid)
    long_ago = time.time() - 3 * 3600
    iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(long_ago))
    _queue(held, iso, claimed_by="blender-1", lease_until=time.time() + 60)
    _queue(waiting, iso)  # three hours in the queue behind a busy worker: healthy
    _worker("blender-1", state="busy:optimize")
    assert jobs.sweep() == 0
    assert describe_calls == []


def test_a_task_left_waiting_while_a_worker_idled_is_lost_and_refunded(client, alice, describe_calls):
    user, pid = alice
    job_id = _job(client, user, pid)
    long_ago = time.time() - settings.TASK_LOST_SECONDS - 60
    _queue(job_id, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(long_ago)))
    _worker("blender-1", idle_since=long_ago - 10)  # idle since before the task was queued: its message is gone
    assert jobs.sweep() == 1
    assert len(describe_calls) == 1
    job = Job.get(f"JOB#{job_id}", "JOB", consistent_read=True)
    assert job.status == "FAILED" and job.error.code == "WORKER_LOST"
    execution = aws_client("stepfunctions").describe_execution(executionArn=job.execution_arn)
    assert execution["status"] == "ABORTED"


def test_a_quiet_job_is_checked_once_per_period(client, alice, describe_calls):
    user, pid = alice
    job_id = _job(client, user, pid)
    _queue(job_id, now_iso())
    later = time.time() + settings.SWEEP_RECHECK_SECONDS + 1
    assert jobs.sweep(later) == 0 and len(describe_calls) == 1  # still running: noted (sweptAt), not failed
    assert jobs.sweep(later + 60) == 0 and len(describe_calls) == 1


def test_a_waiting_job_shows_its_place_in_line_and_an_estimated_start(client, alice):
    user, pid = alice
    running, second, third = (_job(client, user, pid) for _ in range(3))
    _queue(running, "2030-01-01T00:00:01.000Z", claimed_by="blender-1", lease_until=time.time() + 60)
    _queue(second, "2030-01-01T00:00:02.000Z")
    _queue(third, "2030-01-01T00:00:03.000Z")
    _worker("blender-1", state="busy:optimize", stage_seconds=10.0)
    views = {job_id: call(client, "GET", f"/jobs/{job_id}", user)[1]["queue"] for job_id in (running, second, third)}
    assert views[running] is None
    assert {k: views[second][k] for k in ("position", "ahead", "workersAlive", "estimatedStartSeconds")} == {
        "position": 1,
        "ahead": 0,
        "workersAlive": 1,
        "estimatedStartSeconds": 5,
    }
    assert (views[third]["position"], views[third]["estimatedStartSeconds"]) == (2, 15)
    listed = {j["id"]: j["queue"] for j in call(client, "GET", f"/jobs?projectId={pid}", user)[1]["items"]}
    assert listed[third]["position"] == 2


@pytest.mark.parametrize(
    ("error", "code"),
    [
        ({"Error": "States.HeartbeatTimeout"}, "WORKER_LOST"),
        ({"Error": "States.Timeout"}, "STAGE_TIMEOUT"),
        ({"Error": "States.TaskFailed", "Cause": "x"}, "PROCESSING_FAILED"),
        ({"Error": "States.Runtime"}, "PIPELINE_ERROR"),
        ({"Error": "DynamoDB.ProvisionedThroughputExceededException"}, "SERVICE_BUSY"),
        ({"Error": "DynamoDB.SomethingNew"}, "SERVICE_BUSY"),
        ({"Error": "SQS.AmazonSQSException"}, "SERVICE_BUSY"),
        ({"Error": "DynamoDB.ConditionalCheckFailedException"}, "JOB_NOT_RUNNING"),
        ({"Error": "BAD_INPUT", "Cause": failures.worker_cause("NO_PERSON", "no person in the video")}, "NO_PERSON"),
        ({"Error": "TRANSIENT", "Cause": "not json"}, "PROCESSING_FAILED"),
        ({"Error": "CANCELLED"}, "CANCELLED"),
        ({}, "PROCESSING_FAILED"),
        (None, "PROCESSING_FAILED"),
    ],
)
def test_every_error_name_reads_as_words(error, code):
    mapped = failures.job_error(error)
    assert mapped["code"] == code and mapped["message"] and "States." not in mapped["message"]
