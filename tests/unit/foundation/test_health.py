"""The /health route reports each dependency."""

import json


def test_health_reports_dependencies_and_missing_workers(client):
    response = client.http.get("/health")
    data = json.loads(response.body)
    assert response.status_code == 503  # no worker has sent a heartbeat
    for name in ("dynamodb", "s3", "sqs", "stepfunctions"):
        assert data["checks"][name]["status"] == "ok", data
    assert data["checks"]["worker:gpu"]["status"] == "error"


def test_health_ok_when_workers_beat(client):
    import time

    from chalicelib.store.db import WorkerHeartbeat

    for name in ("gpu", "blender"):
        WorkerHeartbeat(f"WORKER#{name}", "WORKER", last_seen=time.time(), state="idle").save()
    response = client.http.get("/health")
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["status"] == "ok"
