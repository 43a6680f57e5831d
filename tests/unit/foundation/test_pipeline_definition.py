"""The state machine's definition: liveness is the workers' lease (no heartbeat clock), and every write retries."""

import json
from pathlib import Path

ASL = Path(__file__).resolve().parents[3] / "infrastructure" / "pipeline.asl.json"


def _states() -> dict:
    definition = json.loads(ASL.read_text())
    return {**definition["States"], **definition["States"]["RunStages"]["Iterator"]["States"]}


def test_a_task_waiting_in_its_queue_has_no_heartbeat_clock_running():
    worker = _states()["RunOnWorker"]
    assert worker["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert "HeartbeatSeconds" not in worker and "HeartbeatSecondsPath" not in worker
    assert worker["TimeoutSeconds"] == "${TimeoutSeconds}"  # only the outer bound, queue time included
    assert worker["Parameters"]["MessageBody"]["attempt.$"] == "$$.State.RetryCount"  # orders claims of retries


def test_every_state_that_writes_retries_service_errors_with_jitter():
    states = _states()
    writers = [name for name, state in states.items() if state["Type"] == "Task"]
    assert sorted(writers) == ["MarkCompleted", "MarkStage", "ReportCompleted", "ReportFailure", "RunOnWorker"]
    for name in writers:
        retriers = states[name]["Retry"]
        service = [r for r in retriers if r.get("MaxAttempts", 3) > 0 and r["ErrorEquals"] != ["TRANSIENT"]]
        assert service and all(r["JitterStrategy"] == "FULL" and r["BackoffRate"] > 1 for r in service), name
        never = [r for r in retriers if r.get("MaxAttempts") == 0]
        if name.startswith("Mark"):  # a job that is no longer running is reported, not retried
            assert retriers[0] == never[0] and never[0]["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]


def test_a_new_stage_starts_unclaimed_in_its_kinds_queue():
    update = _states()["MarkStage"]["Parameters"]["UpdateExpression"]
    assert "queuedAt = :now" in update and "queueKind = :kind" in update
    assert update.endswith("REMOVE claimedBy, claimedAt, leaseUntil, claimSeq, claimTakeovers")
