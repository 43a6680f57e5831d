"""The running stack: health of every part, S3 events through SQS to the handler, fail-fast and clean shutdown."""

import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tests import media
from tests.stackutil import ROOT, start_stack, stop_stack_process


def test_health_reports_every_dependency_and_worker(stack):
    import requests

    data = requests.get(f"{stack.api_url}/health", timeout=10).json()
    assert data["status"] == "ok"
    for name in ("dynamodb", "s3", "sqs", "stepfunctions", "worker:gpu", "worker:blender"):
        assert data["checks"][name]["status"] == "ok", data
    assert data["checks"]["worker:gpu"]["lastHeartbeatSecondsAgo"] < 30


def test_s3_object_created_event_reaches_the_handler_through_sqs(stack, user):
    """Put the bytes with boto3 (no presigned POST): only S3 -> SQS -> on_upload can mark the asset READY."""
    pid = user.project()
    data = media.png()
    response = user.call(
        "POST",
        f"/projects/{pid}/assets",
        json={"filename": "direct.png", "contentType": "image/png", "sizeBytes": len(data), "kind": "IMAGE"},
    )
    ticket = response.json()
    stack.aws("s3").put_object(Bucket=stack.outputs["ASSETS_BUCKET"], Key=ticket["upload"]["fields"]["key"], Body=data)
    asset = user.wait_asset(ticket["asset"]["id"])
    assert asset["status"] == "READY" and asset["metadata"]["width"] == 64
    assert "on_upload: invoked" in stack.log()


def test_a_taken_port_fails_fast_with_a_clear_message():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        started = time.time()
        result = subprocess.run(
            [sys.executable, "-m", "devstack", "--api-port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"},
        )
    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stdout
    assert time.time() - started < 30


@pytest.mark.slow
def test_ctrl_c_stops_every_process():
    running = start_stack()
    try:
        children = psutil.Process(running.process.pid).children(recursive=True)
        names = " ".join(" ".join(c.cmdline()) for c in children)
        for module in (
            "devstack.emulator.server",
            "devstack.stripe_emulator.server",
            "devstack.api",
            "devstack.events",
            "devstack.web",
            "devstack.ws",
            "container_workers.gpu_worker",
            "container_workers.blender_worker",
        ):
            assert module in names
    finally:
        stop_stack_process(running.process)
    assert running.process.returncode == 0
    time.sleep(1)
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []


@pytest.mark.slow
def test_killing_the_supervisor_leaves_no_orphans():
    import signal

    running = start_stack()
    children = psutil.Process(running.process.pid).children(recursive=True)
    running.process.send_signal(signal.SIGKILL)
    running.process.wait()
    assert len(children) == 8, children  # emulator, Stripe emulator, api, ws, events, web, gpu, blender
    # each child gets SIGTERM (PR_SET_PDEATHSIG) and shuts down as on Ctrl-C: the emulator writes its last
    # snapshot first, which takes a while on a loaded machine
    gone, alive = psutil.wait_procs(children, timeout=90)
    left = [c for c in alive if c.status() != psutil.STATUS_ZOMBIE]
    assert left == [], [c.cmdline() for c in left]
