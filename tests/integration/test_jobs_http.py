"""Jobs over HTTP with real workers: lifecycle, failure with refund, concurrency, worker crash, webhooks."""

import hashlib
import hmac
import http.server
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests import media
from tests.stackutil import make_admin


def test_convert_job_runs_to_completion_with_progress_and_output(user):
    pid = user.project()
    # 82k triangles: big enough that the stage takes a moment, so PROCESSING is seen between polls
    model = user.upload(pid, "sphere.glb", media.sphere_glb(subdivisions=6), "MODEL_3D", "model/gltf-binary")
    before = user.credits()
    response = user.start_job(pid, "CONVERT", {"modelAssetId": model["id"]}, params={"format": "obj"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("PENDING", "PROCESSING") and job["creditsUsed"] == 1
    seen = []
    done = user.wait_job(job["id"], timeout=180, seen=seen, interval=0.05)
    assert done["status"] == "COMPLETED", done
    statuses = [s for s, _, _ in seen]
    assert "PROCESSING" in statuses, seen
    progress = [p for _, _, p in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    assert done["stage"] == "convert" and done["finishedAt"]
    output = next(o for o in done["outputs"] if o["format"] == "obj")
    body = requests.get(output["download"]["url"], timeout=30)
    assert body.status_code == 200 and b"\nf " in body.content
    assert user.credits() == before - 1
    listed = user.call("GET", f"/jobs?projectId={pid}&status=COMPLETED").json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    assets = user.call("GET", f"/projects/{pid}/assets").json()["items"]
    assert output["assetId"] in [a["id"] for a in assets]


def test_bad_input_fails_the_job_with_its_message_and_refunds_once(user, tmp_path):
    pid = user.project()
    video = user.upload(pid, "empty.mp4", media.empty_video(tmp_path / "empty.mp4").read_bytes(), "VIDEO", "video/mp4")
    assert video["status"] == "READY"
    before = user.credits()
    job = user.start_job(pid, "MOTION_CAPTURE", {"videoAssetId": video["id"]}).json()
    assert user.credits() == before - job["creditsUsed"]
    done = user.wait_job(job["id"], timeout=180)
    assert done["status"] == "FAILED"
    assert done["error"]["code"] == "NO_PERSON_DETECTED" and done["error"]["message"]
    time.sleep(2)  # let any duplicate report arrive
    assert user.credits() == before
    ledger = user.call("GET", "/users/me/credits").json()["entries"]
    assert [e["type"] for e in ledger if e["jobId"] == job["id"]].count("REFUND") == 1


def test_100_concurrent_jobs_against_a_balance_for_10(stack, user):
    admin = make_admin(stack)
    pid = user.project()
    # an input that never finishes uploading keeps the jobs PENDING (no worker time spent)
    ticket = user.call(
        "POST",
        f"/projects/{pid}/assets",
        json={"filename": "m.glb", "contentType": "model/gltf-binary", "sizeBytes": 100, "kind": "MODEL_3D"},
    ).json()
    patched = admin.call(
        "PATCH",
        f"/admin/users/{user.id}",
        json={"tier": "ENTERPRISE", "creditAdjustment": 10 - user.credits(), "reason": "concurrency test"},
    )
    assert patched.status_code == 200, patched.text
    assert user.credits() == 10

    def create(_):
        return user.start_job(
            pid, "CONVERT", {"modelAssetId": ticket["asset"]["id"]}, params={"format": "stl"}
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(create, range(100)))
    assert codes.count(202) == 10, codes
    assert set(codes) == {202, 402}
    assert user.credits() == 0
    ledger = user.call("GET", "/users/me/credits?limit=100").json()["entries"]
    assert sum(e["amount"] for e in ledger if e["type"] == "DEBIT") == -10
    assert sum(e["amount"] for e in ledger) == 0  # grant 100, adjust -90, ten debits of 1
    for job in user.call("GET", f"/jobs?projectId={pid}&limit=100").json()["items"]:
        assert user.call("POST", f"/jobs/{job['id']}/cancel").status_code == 200
    assert user.credits() == 10


def start_motion_capture_mid_pose(user, tmp_path, seconds: int) -> dict:
    """Upload a video of a person, start MOTION_CAPTURE and return the job once the gpu worker is mid-pose."""
    pid = user.project()
    video = user.upload(
        pid,
        "walk.mp4",
        media.person_video(tmp_path / "walk.mp4", seconds=seconds, fps=15).read_bytes(),
        "VIDEO",
        "video/mp4",
    )
    job = user.start_job(pid, "MOTION_CAPTURE", {"videoAssetId": video["id"]}).json()
    deadline = time.time() + 120
    while time.time() < deadline:
        current = user.call("GET", f"/jobs/{job['id']}").json()
        if current["status"] == "PROCESSING" and current["stage"] == "pose" and current["progress"] > 0:
            break
        time.sleep(0.1)
    return job


def test_a_worker_killed_mid_task_never_leaves_the_job_stuck(stack, user, tmp_path):
    before = user.credits()
    job = start_motion_capture_mid_pose(user, tmp_path, seconds=8)
    pid_before = stack.worker_pid("gpu")
    os.kill(pid_before, signal.SIGKILL)
    done = user.wait_job(job["id"], timeout=300)
    assert done["status"] in ("COMPLETED", "FAILED"), done
    if done["status"] == "FAILED":
        assert user.credits() == before
    else:
        assert user.credits() == before - job["creditsUsed"]
    assert "gpu-1 worker exited with code -9; restarting it" in stack.log()


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        status = 500 if len(_Hook.received) <= _Hook.fail_first else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_webhook_is_signed_and_retried(user):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received, _Hook.fail_first = [], 1
    pid = user.project()
    secret = user.call("POST", "/users/me/webhook-secret").json()["secret"]
    job = user.call(
        "POST",
        "/jobs",
        json={
            "projectId": pid,
            "type": "TEXT_TO_AVATAR",
            "inputs": {"prompt": "short man"},
            "webhookUrl": f"http://127.0.0.1:{server.server_port}/hook",
        },
    ).json()
    user.call("POST", f"/jobs/{job['id']}/cancel")
    deadline = time.time() + 60
    while len(_Hook.received) < 2 and time.time() < deadline:
        time.sleep(0.5)
    server.shutdown()
    assert len(_Hook.received) == 2, "the failed delivery was not retried"
    headers, body = _Hook.received[-1]
    timestamp, signature = [part.split("=", 1)[1] for part in headers["x-ai3d-signature"].split(",")]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    payload = json.loads(body)
    assert payload["event"] == "job.cancelled" and payload["job"]["id"] == job["id"]


def test_sigterm_lets_a_worker_finish_its_task(stack, user, tmp_path):
    job = start_motion_capture_mid_pose(user, tmp_path, seconds=6)
    worker = stack.worker_pid("gpu")
    os.kill(worker, signal.SIGTERM)
    done = user.wait_job(job["id"], timeout=300)
    assert done["status"] == "COMPLETED", done
    assert done["result"]["pose"]["timing"]["stageSeconds"] > 0
    deadline = time.time() + 15
    while "gpu-1 worker exited with code 0" not in stack.log() and time.time() < deadline:
        time.sleep(0.2)
    log = stack.log()
    assert "gpu-1 worker exited with code 0" in log  # it exited cleanly
    pose_starts = [
        line
        for line in log.splitlines()
        if job["id"] in line and '"message":"task started"' in line and '"stage":"pose"' in line
    ]
    assert len(pose_starts) == 1, pose_starts  # and only after answering: the task was never redelivered
