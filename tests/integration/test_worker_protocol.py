"""The worker protocol against the real emulator and state machine, with small stages made for the test."""

import json
import threading
import time
import uuid

import pytest

from container_workers.common.stage import BadInputError, Output, StageResult, TransientError


@pytest.fixture
def harness(stack, user, monkeypatch):
    """A Worker in this process serving test stages on its own queue; jobs written straight to the table."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.endpoint)
    monkeypatch.setenv("TABLE_NAME", stack.outputs["TABLE_NAME"])
    monkeypatch.setenv("ASSETS_BUCKET", stack.outputs["ASSETS_BUCKET"])
    from container_workers.common.worker import Worker

    queue_url = stack.aws("sqs").create_queue(QueueName=f"test-tasks-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    calls = []

    def echo(inputs, params, workdir, progress):
        calls.append(params)
        for pct in (10, 40, 80):
            progress(pct, f"at {pct}")
            time.sleep(params.get("sleep", 0.05))
        out = workdir / "echo.json"
        out.write_text(json.dumps(params))
        return StageResult([Output(out, "ANIMATION", "echo")], {"echoed": True})

    def flaky(inputs, params, workdir, progress):
        calls.append("flaky")
        if calls.count("flaky") == 1:
            raise TransientError("BUSY", "try again")
        return echo(inputs, params, workdir, progress)

    def refuse(inputs, params, workdir, progress):
        raise BadInputError("NOT_A_PERSON", "there is nobody in this clip")

    worker = Worker("test", queue_url, {"echo": echo, "flaky": flaky, "refuse": refuse})
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [worker.poll_once(1) for _ in iter(stop.is_set, True)], daemon=True)
    thread.start()
    table = stack.aws("dynamodb")
    sfn = stack.aws("stepfunctions")

    def run_job(stage: str, params: dict) -> str:
        job_id, now = str(uuid.uuid4()), time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        pid = user.project()
        item = {
            "pk": f"JOB#{job_id}",
            "sk": "JOB",
            "id": job_id,
            "projectId": pid,
            "ownerId": user.id,
            "type": "CONVERT",
            "status": "PENDING",
            "progress": 0,
            "creditsUsed": 0,
            "inputs": "{}",
            "params": "{}",
            "pipeline": json.dumps([{"name": stage, "worker": "test", "inputs": {}, "params": params}]),
            "createdAt": now,
            "updatedAt": now,
            "gsi1pk": f"PROJECT#{pid}",
            "gsi1sk": f"JOB#{now}#{job_id}",
            "gsi2pk": f"USER#{user.id}",
            "gsi2sk": f"JOB#{now}#{job_id}",
        }
        from boto3.dynamodb.types import TypeSerializer

        table.put_item(
            TableName=stack.outputs["TABLE_NAME"], Item={k: TypeSerializer().serialize(v) for k, v in item.items()}
        )
        table.update_item(
            TableName=stack.outputs["TABLE_NAME"],
            Key={"pk": {"S": f"USER#{user.id}"}, "sk": {"S": "PROFILE"}},
            UpdateExpression="ADD activeJobs :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        arn = sfn.start_execution(
            stateMachineArn=stack.outputs["PIPELINE_STATE_MACHINE_ARN"],
            name=job_id,
            input=json.dumps(
                {
                    "jobId": job_id,
                    "stageCount": 1,
                    "stages": [{"index": 0, "name": stage, "worker": "test", "queueUrl": queue_url}],
                }
            ),
        )["executionArn"]
        table.update_item(
            TableName=stack.outputs["TABLE_NAME"],
            Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
            UpdateExpression="SET executionArn = :a",
            ExpressionAttributeValues={":a": {"S": arn}},
        )
        return job_id

    yield run_job, calls
    stop.set()
    thread.join(timeout=10)


def test_success_reports_progress_outputs_and_completes(harness, user):
    run_job, calls = harness
    job_id = run_job("echo", {"sleep": 0.3})
    seen = []
    job = user.wait_job(job_id, timeout=60, seen=seen)
    assert job["status"] == "COMPLETED", job
    assert [p for _, _, p in seen] == sorted(p for _, _, p in seen)
    assert any(0 < p < 100 for _, _, p in seen), seen
    assert job["outputs"][0]["role"] == "echo" and job["result"]["echo"]["echoed"] is True
    assert json.loads(__import__("requests").get(job["outputs"][0]["download"]["url"]).content) == {"sleep": 0.3}


def test_transient_errors_are_retried_by_the_state_machine(harness, user):
    run_job, calls = harness
    job = user.wait_job(run_job("flaky", {}), timeout=60)
    assert job["status"] == "COMPLETED" and calls.count("flaky") == 2


def test_bad_input_fails_the_job_with_the_stage_message(harness, user):
    run_job, calls = harness
    job = user.wait_job(run_job("refuse", {}), timeout=60)
    assert job["status"] == "FAILED"
    assert job["error"] == {"code": "NOT_A_PERSON", "message": "there is nobody in this clip"}


def test_cancel_stops_a_running_stage(harness, user):
    run_job, calls = harness
    job_id = run_job("echo", {"sleep": 3})
    deadline = time.time() + 30
    while user.call("GET", f"/jobs/{job_id}").json()["progress"] == 0 and time.time() < deadline:
        time.sleep(0.1)
    assert user.call("POST", f"/jobs/{job_id}/cancel").status_code == 200
    job = user.wait_job(job_id, timeout=30)
    assert job["status"] == "CANCELLED" and job["outputs"] == []
