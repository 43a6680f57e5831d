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

    for kind in ("gpu", "blender"):
        WorkerHeartbeat(f"WORKER#{kind}", f"INSTANCE#{kind}-1", last_seen=time.time(), state="idle").save()
    response = client.http.get("/health")
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["status"] == "ok"


def test_a_kind_is_healthy_while_any_of_its_instances_beats(client):
    import time

    from chalicelib.store.db import WorkerHeartbeat

    WorkerHeartbeat("WORKER#gpu", "INSTANCE#gpu-1", last_seen=time.time() - 3600, state="busy:pose").save()
    WorkerHeartbeat("WORKER#gpu", "INSTANCE#gpu-2", last_seen=time.time(), state="idle").save()
    gpu = json.loads(client.http.get("/health").body)["checks"]["worker:gpu"]
    assert gpu["status"] == "ok" and gpu["alive"] == 1
    assert {i["name"]: i["status"] for i in gpu["instances"]} == {"gpu-1": "error", "gpu-2": "ok"}
