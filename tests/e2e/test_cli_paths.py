"""The CLI's other paths on the real stack: a failing job refunded, cancel, download, logout (exit 3), unreachable (exit 5),
following a job over the WebSocket with an API key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests import media
from tests.e2e.helpers import JOB_TIMEOUT, PASSWORD, CliUser, make_box_glb, make_empty_video
from tests.stackutil import ROOT, free_port

AI3D = Path(sys.executable).with_name("ai3d")


def test_motion_capture_of_nobody_fails_with_exit_1_and_refunds(cli, tmp_path):
    project = cli.project()
    before = cli.balance()
    result = cli.run_and_wait("MOTION_CAPTURE", project, tmp_path / "out", "--input", make_empty_video(tmp_path))
    assert result.code == 1, result.err
    job = result.json
    assert job["status"] == "FAILED" and job["error"]["code"] and job["error"]["message"]
    error_lines = [line for line in result.err.splitlines() if line.startswith("ai3d: error:")]
    assert len(error_lines) == 1 and job["error"]["message"] in error_lines[0]
    assert not (tmp_path / "out").exists()
    time.sleep(2)  # a duplicate settlement, if there were one, would land now
    assert cli.balance() == before
    ledger = cli("credits").ok().json["entries"]
    assert [e["type"] for e in ledger if e["jobId"] == job["id"]].count("REFUND") == 1


def test_cancel_a_running_job_returns_its_credits(cli):
    project = cli.project()
    before = cli.balance()
    job = cli("run", "TEXT_TO_AVATAR", "--project", project, "--prompt", "a small green robot").ok().json
    assert job["status"] in ("PENDING", "PROCESSING") and cli.balance() == before - job["creditsUsed"]
    cancelled = cli("jobs", "cancel", job["id"]).ok().json
    assert cancelled["status"] == "CANCELLED"
    assert cli("jobs", "show", job["id"]).ok().json["status"] == "CANCELLED"
    assert cli.balance() == before
    assert cli("jobs", "cancel", job["id"]).code == 1  # already over


def test_download_an_output_and_an_upload(cli, tmp_path):
    project = cli.project()
    box = make_box_glb(tmp_path)
    job = cli.run_and_wait("CONVERT", project, tmp_path / "run", "--input", box, "--param", "format=stl").ok().json
    output = next(o for o in job["outputs"] if o["format"] == "stl")
    saved = cli("download", output["assetId"], "--out", tmp_path / "again").ok().json
    assert Path(saved["path"]).read_bytes() == Path(output["path"]).read_bytes()
    uploaded = cli("projects", "show", project).ok().json["assets"]
    source = next(a for a in uploaded if a["filename"] == "box.glb")
    copy = cli("download", source["id"], "--out", tmp_path / "source").ok().json
    assert Path(copy["path"]).read_bytes() == box.read_bytes()
    jobs = cli("jobs", "list", "--project", project).ok().json
    assert [j["id"] for j in jobs] == [job["id"]]


def _ai3d(home: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The installed `ai3d` entry point as a subprocess."""
    env = dict(os.environ, XDG_CONFIG_HOME=str(home))
    env.pop("AI3D_PASSWORD", None)
    return subprocess.run(
        [str(AI3D), *argv], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.skipif(not AI3D.exists(), reason="run `make setup` (pip install -e .) to install the ai3d entry point")
def test_me_after_logout_exits_3(stack, tmp_path):
    user = CliUser(stack.api_url, tmp_path / "config")
    api = ["--api", stack.api_url]
    registered = _ai3d(user.home, "register", "--email", user.email, "--password-stdin", *api, stdin=PASSWORD + "\n")
    assert registered.returncode == 0, registered.stderr
    assert user.email in _ai3d(user.home, "me", *api).stdout
    assert _ai3d(user.home, "logout", *api).returncode == 0
    me = _ai3d(user.home, "me", *api, "--json")
    assert me.returncode == 3 and me.stdout == ""
    assert me.stderr.strip().splitlines() == [f"ai3d: error: not logged in to {stack.api_url}: run `ai3d login`"]
    again = _ai3d(user.home, "login", "--email", user.email, "--password-stdin", *api, stdin=PASSWORD + "\n")
    assert again.returncode == 0 and _ai3d(user.home, "me", *api).returncode == 0


@pytest.mark.skipif(not AI3D.exists(), reason="run `make setup` (pip install -e .) to install the ai3d entry point")
def test_unreachable_server_exits_5(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    result = _ai3d(tmp_path, "login", "--email", "x@example.com", "--password-stdin", "--api", dead, stdin="pw\n")
    assert result.returncode == 5
    assert result.stderr.strip().splitlines() == [f"ai3d: error: cannot reach {dead}: ConnectionError"]


def test_run_wait_follows_progress_over_the_websocket_with_an_api_key_and_does_not_poll(stack, cli, tmp_path):
    """`ai3d run --wait --api-key`: progress arrives over the WebSocket; the job is fetched once, for its outputs."""
    key = cli("keys", "create", "e2e runner", "--scope", "jobs").ok().json["key"]
    project = cli.project()
    model = media.sphere_glb(subdivisions=6)  # big enough that progress is written along the way
    bearer = {"Authorization": f"Bearer {key}"}
    ticket = requests.post(
        f"{stack.api_url}/projects/{project}/assets",
        json={
            "filename": "sphere.glb",
            "contentType": "model/gltf-binary",
            "sizeBytes": len(model),
            "kind": "MODEL_3D",
        },
        headers=bearer,
        timeout=30,
    ).json()

    def upload_later() -> None:  # the job waits for its input, so the CLI is following it before it runs
        time.sleep(3)
        files = {"file": ("sphere.glb", model, "model/gltf-binary")}
        requests.post(ticket["upload"]["url"], data=ticket["upload"]["fields"], files=files, timeout=60)

    uploader = threading.Thread(target=upload_later)
    uploader.start()
    run = cli(
        "run",
        "CONVERT",
        "--project",
        project,
        "--input",
        ticket["asset"]["id"],
        "--param",
        "format=obj",
        "--wait",
        "--out",
        tmp_path / "run",
        "--timeout",
        JOB_TIMEOUT,
        "--api-key",
        key,
        as_json=False,
    )
    uploader.join()
    assert run.code == 0, run.err
    job_id = re.search(r"started CONVERT job ([\w-]+)", run.err).group(1)
    followed = re.search(r"followed over (\S+): (\d+) updates", run.err)
    assert followed and followed.group(1) == "websocket", run.err
    assert int(followed.group(2)) >= 3, run.err  # PENDING at subscription, then pushed progress and the end
    reads = len(re.findall(rf'"GET (/v1)?/jobs/{job_id} HTTP', stack.log()))
    assert reads == 1  # no polling: one read of the ended job's outputs (the CLI calls /v1)
    assert list((tmp_path / "run").glob("*.obj"))
