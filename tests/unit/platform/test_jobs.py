"""Jobs: params validation, one-transaction debit, 402, exactly-once refunds, cancel, start on upload, sweeper."""

import json
import threading
import time

import boto3
import pytest

from chalicelib import credits, jobs, settings
from chalicelib.contract import jobtypes
from chalicelib.contract.params import InvalidParams
from chalicelib.store.db import LedgerEntry, User, now_iso
from chalicelib.tokens import Principal
from tests.unit.platform.helpers import call, register
from tests.unit.platform.test_assets import png_bytes, put_and_process, request


@pytest.fixture
def setup(client):
    alice = register(client)
    pid = call(client, "POST", "/projects", alice, {"name": "p"})[1]["id"]
    return alice, pid


def model_asset(client, user, pid, ready=True):
    import trimesh

    data = trimesh.creation.box().export(file_type="glb")
    _, ticket = request(
        client, user, pid, filename="box.glb", content_type="model/gltf-binary", size=len(data), kind="MODEL_3D"
    )
    if ready:
        assert put_and_process(ticket["upload"]["fields"]["key"], data)[0] == "READY"
    return ticket


def submit(client, user, pid, ticket, job_type="CONVERT", params=None):
    """POST /jobs for a job on the ticket's model (by default a CONVERT to OBJ): (status, body)."""
    body = {
        "projectId": pid,
        "type": job_type,
        "inputs": {"modelAssetId": ticket["asset"]["id"]},
        "params": params or {"format": "obj"},
    }
    return call(client, "POST", "/jobs", user, body)


def balance(user_id):
    return int(User.get(*User.key(user_id), consistent_read=True).credits)


def ledger(user_id):
    return [
        (e.type, int(e.amount), e.job_id)
        for e in LedgerEntry.query(f"USER#{user_id}", LedgerEntry.sk.startswith("LEDGER#"))
    ]


@pytest.mark.parametrize(
    "job_type,params,message",
    [
        ("CONVERT", {}, "needs params.format"),
        ("CONVERT", {"format": "exe"}, "must be one of"),
        ("OPTIMIZE", {"targetTriangles": 100, "ratio": 0.5}, "exactly one of"),
        ("OPTIMIZE", {}, "exactly one of"),
        ("OPTIMIZE", {"ratio": 2}, "between"),
        ("OPTIMIZE", {"targetTriangles": 1.5}, "whole number"),
        ("MOTION_CAPTURE", {"smoothing": "high"}, "must be a number"),
        ("MOTION_CAPTURE", {"rootMotion": 1}, "true or false"),
        ("TEXT_TO_AVATAR", {"pose": "X"}, "must be one of"),
        ("ANIMATE", {"speed": 2}, "unknown params"),
    ],
)
def test_params_are_validated_per_type(job_type, params, message):
    with pytest.raises(InvalidParams) as err:
        jobtypes.validate_params(job_type, params)
    assert message in str(err.value)


def test_plan_routes_params_and_inputs_to_stages():
    stages = jobtypes.plan("IMAGE_TO_3D", {"imageAssetId": "a1"}, {"targetTriangles": 5000, "detail": 0.5})
    assert [s["name"] for s in stages] == ["reconstruct", "optimize"]
    assert stages[0]["inputs"] == {"image": {"asset": "a1"}} and stages[0]["params"] == {
        "targetTriangles": 5000,
        "detail": 0.5,
    }
    assert stages[1]["inputs"] == {"model": {"stage": "reconstruct", "role": "glb"}} and stages[1]["params"] == {
        "targetTriangles": 5000
    }


def test_motion_capture_price_counts_started_10_seconds():
    assert jobtypes.cost("MOTION_CAPTURE", 9.9) == jobtypes.JOB_TYPES["MOTION_CAPTURE"].cost + 2
    assert jobtypes.cost("MOTION_CAPTURE", 10.1) == jobtypes.JOB_TYPES["MOTION_CAPTURE"].cost + 4


def test_create_debits_in_one_transaction_and_starts_when_ready(client, setup):
    alice, pid = setup
    ticket = model_asset(client, alice, pid)
    status, job = submit(client, alice, pid, ticket)
    assert status == 202 and job["status"] == "PENDING" and job["creditsUsed"] == 1
    assert balance(alice["id"]) == 99
    assert ("DEBIT", -1, job["id"]) in ledger(alice["id"])
    execution = boto3.client("stepfunctions", region_name="us-east-1").describe_execution(
        executionArn=f"{settings.PIPELINE_STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{job['id']}"
    )
    stage_input = json.loads(execution["input"])
    assert stage_input["stageCount"] == 1 and stage_input["stages"][0]["queueUrl"] == settings.BLENDER_QUEUE_URL


def test_insufficient_credits_is_402_with_balance(client, setup):
    alice, pid = setup
    ticket = model_asset(client, alice, pid)
    User.get(*User.key(alice["id"])).update(actions=[User.credits.set(0)])
    status, body = submit(client, alice, pid, ticket)
    assert status == 402 and body["error"]["balance"] == 0 and body["error"]["cost"] == 1
    assert call(client, "GET", f"/jobs?projectId={pid}", alice)[1]["items"] == []


def test_inputs_must_belong_to_the_caller(client, setup):
    alice, pid = setup
    bob = register(client)
    bob_pid = call(client, "POST", "/projects", bob, {"name": "b"})[1]["id"]
    ticket = model_asset(client, bob, bob_pid)
    status, body = submit(client, alice, pid, ticket)
    assert status == 404 and body["error"]["code"] == "INPUT_NOT_FOUND"
    status, _ = call(
        client, "POST", "/jobs", bob, {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "x"}}
    )
    assert status == 404


def test_failure_refunds_exactly_once_whatever_reports_it(client, setup):
    alice, pid = setup
    ticket = model_asset(client, alice, pid)
    job = submit(client, alice, pid, ticket)[1]
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(jobs.settle(job["id"], "FAILED", {"code": "X", "message": "m"})))
        for _ in range(10)
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    jobs.on_pipeline_event({"jobId": job["id"], "status": "FAILED", "error": {"Error": "States.Timeout"}})
    assert results.count(True) == 1
    assert balance(alice["id"]) == 100
    assert [e for e in ledger(alice["id"]) if e[0] == "REFUND"] == [("REFUND", 1, job["id"])]
    _, got = call(client, "GET", f"/jobs/{job['id']}", alice)
    assert got["status"] == "FAILED" and got["error"] == {"code": "X", "message": "m"}
    assert int(User.get(*User.key(alice["id"])).active_jobs) == 0


def test_cancel_refunds_and_second_cancel_conflicts(client, setup):
    alice, pid = setup
    job = call(
        client, "POST", "/jobs", alice, {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "tall man"}}
    )[1]
    status, cancelled = call(client, "POST", f"/jobs/{job['id']}/cancel", alice)
    assert status == 200 and cancelled["status"] == "CANCELLED"
    assert call(client, "POST", f"/jobs/{job['id']}/cancel", alice)[0] == 409
    jobs.on_pipeline_event({"jobId": job["id"], "status": "FAILED"})  # the stopped execution reports too
    assert balance(alice["id"]) == 100


def test_job_waits_for_upload_then_starts(client, setup):
    alice, pid = setup
    ticket = model_asset(client, alice, pid, ready=False)
    job = submit(client, alice, pid, ticket, "OPTIMIZE", {"ratio": 0.5})[1]
    from chalicelib.store.db import Asset, Job

    assert Job.get(f"JOB#{job['id']}", "JOB").execution_arn is None
    import trimesh

    put_and_process(ticket["upload"]["fields"]["key"], trimesh.creation.box().export(file_type="glb"))
    jobs.start_waiting(Asset.get(f"ASSET#{ticket['asset']['id']}", "ASSET"))
    assert Job.get(f"JOB#{job['id']}", "JOB").execution_arn


def test_rejected_upload_fails_waiting_job_with_refund(client, setup):
    alice, pid = setup
    ticket = model_asset(client, alice, pid, ready=False)
    job = submit(client, alice, pid, ticket, "OPTIMIZE", {"ratio": 0.5})[1]
    from chalicelib.store.db import Asset

    put_and_process(ticket["upload"]["fields"]["key"], png_bytes())
    jobs.start_waiting(Asset.get(f"ASSET#{ticket['asset']['id']}", "ASSET"))
    _, got = call(client, "GET", f"/jobs/{job['id']}", alice)
    assert got["status"] == "FAILED" and got["error"]["code"] == "INPUT_REJECTED"
    assert balance(alice["id"]) == 100


def test_sweeper_fails_jobs_whose_execution_ended(client, setup):
    alice, pid = setup
    ticket = model_asset(client, alice, pid)
    job = submit(client, alice, pid, ticket)[1]
    from chalicelib.store.db import Job

    arn = Job.get(f"JOB#{job['id']}", "JOB").execution_arn
    boto3.client("stepfunctions", region_name="us-east-1").stop_execution(executionArn=arn)
    later = time.time() + settings.SWEEP_RECHECK_SECONDS + 1  # the sweeper asks about a quiet job once per period
    assert jobs.sweep(later) == 1
    assert jobs.sweep(later) == 0
    assert call(client, "GET", f"/jobs/{job['id']}", alice)[1]["error"]["code"] == "PIPELINE_ENDED"
    assert balance(alice["id"]) == 100


def test_monthly_grant_is_once_per_month(client, setup):
    alice, _ = setup
    assert credits.grant_all(now_iso()) == 0  # registration already granted this month
    assert credits.grant_all("2099-01-01T00:00:00.000Z") == 1
    assert credits.grant_all("2099-01-15T00:00:00.000Z") == 0
    assert balance(alice["id"]) == 200
    status, data = call(client, "GET", "/users/me/credits", alice)
    assert status == 200 and data["balance"] == 200 and [e["type"] for e in data["entries"]].count("GRANT") == 2


def test_concurrent_creates_never_overspend(client, setup):
    alice, pid = setup
    User.get(*User.key(alice["id"])).update(actions=[User.credits.set(100), User.tier.set("ENTERPRISE")])
    principal = Principal(alice["id"], "USER")
    results = []

    def create():
        try:
            results.append(
                jobs.create(principal, {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "x"}})["id"]
            )
        except Exception as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=create) for _ in range(30)]  # 100 credits buy 10 avatar jobs
    [t.start() for t in threads]
    [t.join() for t in threads]
    accepted = [r for r in results if r not in ("PaymentRequired", "TooManyRequests")]
    assert len(accepted) == 10, results
    assert balance(alice["id"]) == 0
    assert sum(e[1] for e in ledger(alice["id"]) if e[0] == "DEBIT") == -100


def test_admin_metrics_count_jobs_and_credits_by_status(client, setup):
    alice, pid = setup
    first = call(
        client, "POST", "/jobs", alice, {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "a"}}
    )[1]
    call(client, "POST", "/jobs", alice, {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "b"}})
    call(client, "POST", f"/jobs/{first['id']}/cancel", alice)
    assert call(client, "GET", "/admin/metrics", alice)[0] == 403
    User.get(*User.key(alice["id"])).update(actions=[User.role.set("ADMIN")])
    from chalicelib import sessions

    sessions.forget(alice["id"])  # promoted behind the API's back: its cached verdict (role USER) goes
    admin = alice  # the authorizer gives the stored role
    status, metrics = call(client, "GET", "/admin/metrics", admin)
    assert status == 200, metrics
    assert metrics["jobs"]["CANCELLED"] == 1 and metrics["jobs"]["PENDING"] + metrics["jobs"]["PROCESSING"] == 1
    assert metrics["credits"] == {"spent": 0, "refunded": 10, "held": 10} and metrics["users"] == 1
    assert call(client, "GET", "/admin/metrics?since=2999-01-01", admin)[1]["jobs"]["CANCELLED"] == 0
    assert call(client, "GET", "/admin/metrics?since=yesterday", admin)[0] == 400


def test_deleting_a_project_cancels_and_refunds_its_jobs(client, setup):
    alice, pid = setup
    job = call(
        client, "POST", "/jobs", alice, {"projectId": pid, "type": "TEXT_TO_AVATAR", "inputs": {"prompt": "tall woman"}}
    )[1]
    assert balance(alice["id"]) == 90
    assert call(client, "DELETE", f"/projects/{pid}", alice)[0] == 204
    from chalicelib.store.db import Job

    stored = Job.get(f"JOB#{job['id']}", "JOB")
    assert stored.status == "CANCELLED" and stored.error.message == "the project was deleted"
    assert balance(alice["id"]) == 100 and int(User.get(*User.key(alice["id"])).active_jobs) == 0
