"""IAM proven, not guessed: the platform's flows on a stack that enforces IAM (`python -m devstack --iam`), where the
API and each event source act as exactly their function's declared role, each worker as its task role, and the state
machine as its own role. Any refusal (`IAM denied: ...` in the emulator's log) fails the test."""

import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest
import requests

from tests import media
from tests.stackutil import ApiUser, running_stack

pytestmark = pytest.mark.slow


class _Hook(http.server.BaseHTTPRequestHandler):
    """Records webhook deliveries."""

    received: list = []

    def do_POST(self):
        """Keep the headers and body; answer 204."""
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def iam_stack():
    """A stack of its own with IAM enforced from the first request after the deploy. The sweeper runs every 1.2 s
    and checks a job quiet for 2 s (not 15 min) against Step Functions, so its DescribeExecution runs too."""
    with running_stack(iam=True, schedule_scale=0.02, extra_env={"SWEEP_RECHECK_SECONDS": "2"}) as running:
        yield running


def run(user: ApiUser, project: str, job_type: str, inputs: dict, **extra) -> dict:
    """Start a job; its record."""
    response = user.start_job(project, job_type, inputs, **extra)
    assert response.status_code == 202, response.text
    return response.json()


def completed(user: ApiUser, *jobs: dict) -> list[dict]:
    """Wait for the jobs; each must complete, and each output must download through its signed URL."""
    done = [user.wait_job(job["id"], timeout=300) for job in jobs]
    for job in done:
        assert job["status"] == "COMPLETED", job
        for output in job["outputs"]:
            assert requests.get(output["download"]["url"], timeout=30).status_code == 200, output
    return done


def trouble(log: str) -> str:
    """The refusals and tracebacks in a stack log (what to show when the flow breaks)."""
    lines = log.splitlines()
    marks = [i for i, line in enumerate(lines) if "IAM denied" in line or "Traceback" in line]
    return "\n".join(line for i in marks[:10] for line in lines[i : i + 12])


def test_every_job_type_cancel_webhook_and_schedules_under_least_privilege(iam_stack, tmp_path):
    try:
        flow(iam_stack, tmp_path)
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- refusals and errors in the stack log:\n{trouble(iam_stack.log())}") from exc
    log = iam_stack.log()
    for schedule in ("sweep_jobs", "monthly_grants"):  # each ran under its own role
        assert f"{schedule}: invoked" in log, f"{schedule} never ran"
    assert "IAM denied" not in log and "AccessDenied" not in log, trouble(log)


def flow(iam_stack, tmp_path) -> None:
    """Sign up, upload, run every job type, cancel one, delete an asset, receive the webhooks."""
    assert requests.get(f"{iam_stack.api_url}/health", timeout=10).json()["status"] == "ok"  # the API's reads
    user = ApiUser(iam_stack.api_url)  # register: the sign-up transaction
    project = user.project()
    video = user.upload(
        project, "walk.mp4", media.person_video(tmp_path / "walk.mp4", seconds=6).read_bytes(), "VIDEO", "video/mp4"
    )
    image = user.upload(project, "disc.png", media.png(128, 128, rgba=True), "IMAGE", "image/png")
    model = user.upload(project, "box.glb", media.box_glb(), "MODEL_3D", "model/gltf-binary")
    assert [a["status"] for a in (video, image, model)] == ["READY"] * 3  # presigned POSTs, then the upload judge

    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{server.server_port}/hook"
    secret = user.call("POST", "/users/me/webhook-secret").json()["secret"]  # derived from the webhook secret
    mocap = run(user, project, "MOTION_CAPTURE", {"videoAssetId": video["id"]}, webhookUrl=hook)
    deadline = time.time() + 120
    while (current := user.call("GET", f"/jobs/{mocap['id']}").json())["progress"] == 0:  # the gpu worker is busy
        assert current["status"] in ("PENDING", "PROCESSING") and time.time() < deadline, current
        time.sleep(0.1)
    # so the avatar's task waits in the queue, unheld, long enough for the sweeper to ask Step Functions about it
    mocap, avatar = completed(
        user, mocap, run(user, project, "TEXT_TO_AVATAR", {"prompt": "a short woman in a red coat"})
    )
    motion = next(o for o in mocap["outputs"] if o["kind"] == "ANIMATION" and o["format"] == "bvh")
    rig = next(o for o in avatar["outputs"] if o["format"] == "glb")
    completed(
        user,
        run(user, project, "ANIMATE", {"avatarAssetId": rig["assetId"], "motionAssetId": motion["assetId"]}),
        run(user, project, "IMAGE_TO_3D", {"imageAssetId": image["id"]}),
    )
    completed(
        user,
        run(user, project, "CONVERT", {"modelAssetId": model["id"]}, params={"format": "obj"}),
        run(user, project, "OPTIMIZE", {"modelAssetId": model["id"]}, params={"ratio": 0.5}),
    )

    before = user.credits()
    cancelled = run(user, project, "TEXT_TO_AVATAR", {"prompt": "a tall man"}, webhookUrl=hook)
    assert user.call("POST", f"/jobs/{cancelled['id']}/cancel").status_code == 200  # StopExecution, refund
    assert user.wait_job(cancelled["id"], timeout=60)["status"] == "CANCELLED" and user.credits() == before
    assert user.call("DELETE", f"/assets/{image['id']}").status_code == 204

    deadline = time.time() + 60
    while len(_Hook.received) < 2 and time.time() < deadline:  # the job-events function delivers both
        time.sleep(0.5)
    server.shutdown()
    events = sorted(json.loads(body)["event"] for _, body in _Hook.received)
    assert events == ["job.cancelled", "job.completed"], events
    headers, body = _Hook.received[0]
    timestamp, signature = [part.split("=", 1)[1] for part in headers["x-ai3d-signature"].split(",")]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
