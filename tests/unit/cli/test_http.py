"""The CLI against the real app over HTTP (moto in-process): sessions, refresh, projects, uploads, jobs, exit codes."""

from __future__ import annotations

import io
import json
import stat
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
import trimesh
from PIL import Image

from ai3d.client import Client, TokenStore
from tests.stackutil import free_port
from tests.unit.cli.conftest import PASSWORD


def png(path, size=(48, 32)):
    Image.new("RGB", size, (200, 40, 40)).save(path, "PNG")
    return path


def box_glb(path):
    path.write_bytes(trimesh.creation.box().export(file_type="glb"))
    return path


@pytest.fixture
def project(ai3d, user):
    result = ai3d("projects", "create", "cli test", "--api", user["api"], "--json")
    assert result.code == 0, result.err
    return result.json["id"]


def balance(ai3d, api) -> int:
    result = ai3d("credits", "--api", api, "--json")
    assert result.code == 0, result.err
    return result.json["balance"]


# ---------------------------------------------------------------- accounts and sessions
def test_register_saves_a_private_session_keyed_by_api(ai3d, user, config_home):
    path = config_home / "ai3d" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sessions = json.loads(path.read_text())
    assert list(sessions) == [user["api"]] and sessions[user["api"]]["email"] == user["email"]
    me = ai3d("me", "--api", user["api"], "--json")
    assert me.code == 0 and me.json["email"] == user["email"] and me.json["credits"] == 100
    assert user["email"] in ai3d("me", "--api", user["api"]).out
    credits = ai3d("credits", "--api", user["api"], "--json").json
    assert (credits["balance"], credits["tier"]) == (100, "FREE") and credits["entries"][0]["type"] == "GRANT"


def test_api_url_from_the_environment(ai3d, user, monkeypatch):
    monkeypatch.setenv("AI3D_API", user["api"] + "/")
    result = ai3d("me", "--json")
    assert result.code == 0 and result.json["email"] == user["email"]


def test_login_with_a_wrong_password_is_an_auth_error(ai3d, user, monkeypatch):
    assert ai3d("logout", "--api", user["api"]).code == 0
    monkeypatch.setenv("AI3D_PASSWORD", "not the password at all")
    wrong = ai3d("login", "--api", user["api"], "--email", user["email"])
    assert wrong.code == 3 and wrong.error_line == "ai3d: error: wrong email or password (INVALID_CREDENTIALS)"
    monkeypatch.delenv("AI3D_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    right = ai3d("login", "--api", user["api"], "--email", user["email"], "--password-stdin", "--json")
    assert right.code == 0 and right.json["email"] == user["email"]


def test_no_password_without_a_terminal_is_a_usage_error(ai3d, api_url, monkeypatch):
    monkeypatch.delenv("AI3D_PASSWORD")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert ai3d("login", "--api", api_url, "--email", "a@example.com").code == 2


def test_logout_ends_the_session_on_the_server_too(ai3d, user):
    store = TokenStore()
    old = store.get(user["api"])
    result = ai3d("logout", "--api", user["api"], "--json")
    assert result.code == 0 and result.json == {"loggedOut": True} and store.get(user["api"]) is None
    me = ai3d("me", "--api", user["api"])
    assert me.code == 3 and "not logged in" in me.error_line
    store.save(user["api"], {**old, "accessToken": "expired"})  # the revoked refresh token cannot be used
    again = ai3d("me", "--api", user["api"])
    assert again.code == 3 and "session has expired" in again.error_line and store.get(user["api"]) is None


def test_an_invalid_access_token_is_refreshed_once_and_the_new_pair_saved(ai3d, user):
    store = TokenStore()
    before = store.get(user["api"])
    store.save(user["api"], {**before, "accessToken": "not.a.jwt"})
    result = ai3d("me", "--api", user["api"], "--json")
    assert result.code == 0 and result.json["email"] == user["email"]
    after = store.get(user["api"])
    assert after["refreshToken"] != before["refreshToken"] and after["accessToken"] not in (
        "not.a.jwt",
        before["accessToken"],
    )
    reused = requests.post(f"{user['api']}/auth/refresh", json={"refreshToken": before["refreshToken"]}, timeout=10)
    assert reused.json()["error"]["code"] == "REFRESH_TOKEN_REUSED"  # it really rotated


def test_a_session_another_process_already_refreshed_is_reused(user):
    store = TokenStore()
    session = store.get(user["api"])
    assert Client(user["api"], store)._refreshed("an older access token") == session["accessToken"]
    assert store.get(user["api"]) == session  # no refresh happened


def test_unreachable_server_exits_5(ai3d, user):
    dead = f"http://127.0.0.1:{free_port()}"
    result = ai3d("register", "--api", dead, "--email", "x@example.com")
    assert result.code == 5 and result.error_line.startswith(f"ai3d: error: cannot reach {dead}")
    TokenStore().save(dead, TokenStore().get(user["api"]))
    assert ai3d("projects", "list", "--api", dead, "--json").code == 5


# ---------------------------------------------------------------- projects and assets
def test_projects_create_list_show_delete(ai3d, user):
    api = user["api"]
    created = ai3d("projects", "create", "Robots", "--description", "metal friends", "--api", api)
    assert created.code == 0
    project_id = created.out.strip()
    listed = ai3d("projects", "list", "--api", api, "--json").json
    assert [p["name"] for p in listed if p["id"] == project_id] == ["Robots"]
    assert "Robots" in ai3d("projects", "list", "--api", api).out
    shown = ai3d("projects", "show", project_id, "--api", api, "--json").json
    assert (shown["description"], shown["assets"]) == ("metal friends", [])
    assert ai3d("projects", "delete", project_id, "--api", api).code == 0
    gone = ai3d("projects", "show", project_id, "--api", api)
    assert gone.code == 4 and gone.error_line == "ai3d: error: project not found (NOT_FOUND)"


def test_upload_waits_until_ready_and_download_returns_the_same_bytes(ai3d, user, project, tmp_path):
    path = png(tmp_path / "photo.png")
    result = ai3d("upload", project, path, "--api", user["api"], "--json")
    assert result.code == 0, result.err
    asset = result.json
    assert (asset["status"], asset["kind"], asset["filename"], asset["sizeBytes"]) == (
        "READY",
        "IMAGE",
        "photo.png",
        path.stat().st_size,
    )
    assert asset["metadata"]["width"] == 48
    downloaded = ai3d("download", asset["id"], "--out", tmp_path / "dl", "--api", user["api"], "--json")
    assert downloaded.code == 0
    assert (
        (tmp_path / "dl" / "photo.png").read_bytes() == path.read_bytes() == Path(downloaded.json["path"]).read_bytes()
    )
    shown = ai3d("projects", "show", project, "--api", user["api"])
    assert asset["id"] in shown.out and "READY" in shown.out


def test_a_rejected_upload_exits_1_with_the_reason(ai3d, user, project, tmp_path):
    path = tmp_path / "fake.png"
    path.write_bytes(b"this is not an image at all" * 10)
    result = ai3d("upload", project, path, "--api", user["api"], "--json")
    assert result.code == 1 and result.json["status"] == "REJECTED"
    assert result.error_line.startswith("ai3d: error: fake.png was rejected: ")


def test_upload_refuses_unknown_and_empty_files_before_calling_the_api(ai3d, user, project, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("notes.txt", "empty.png", "missing.png"):
        assert ai3d("upload", project, tmp_path / name, "--api", user["api"]).code == 2
    assert ai3d("upload", project, png(tmp_path / "p.png"), "--kind", "VIDEO", "--api", user["api"]).code == 2
    assert ai3d("projects", "show", project, "--api", user["api"], "--json").json["assets"] == []


def test_download_of_an_unknown_asset_exits_4(ai3d, user):
    assert ai3d("download", str(uuid.uuid4()), "--api", user["api"]).code == 4


# ---------------------------------------------------------------- jobs
def test_run_without_wait_then_list_show_and_cancel_with_refund(ai3d, user, project, tmp_path):
    api = user["api"]
    made = ai3d("webhook-secret", "--api", api)
    assert made.code == 0 and made.out.startswith("whsec_") and "not shown again" in made.out
    started = ai3d(
        "run",
        "convert",
        "--project",
        project,
        "--input",
        box_glb(tmp_path / "box.glb"),
        "--param",
        "format=obj",
        "--webhook",
        "http://127.0.0.1:9/hook",
        "--api",
        api,
        "--json",
    )
    assert started.code == 0, started.err
    job = started.json
    assert (job["type"], job["status"], job["params"], job["webhookUrl"]) == (
        "CONVERT",
        "PENDING",
        {"format": "obj"},
        "http://127.0.0.1:9/hook",
    )
    assert balance(ai3d, api) == 99
    assert [j["id"] for j in ai3d("jobs", "list", "--project", project, "--api", api, "--json").json] == [job["id"]]
    assert ai3d("jobs", "list", "--status", "completed", "--api", api, "--json").json == []
    assert job["id"] in ai3d("jobs", "show", job["id"], "--api", api).out
    cancelled = ai3d("jobs", "cancel", job["id"], "--api", api, "--json")
    assert cancelled.code == 0 and cancelled.json["status"] == "CANCELLED"
    assert balance(ai3d, api) == 100
    again = ai3d("jobs", "cancel", job["id"], "--api", api)
    assert again.code == 1 and "JOB_NOT_ACTIVE" in again.error_line


def test_api_validation_errors_exit_2_and_unknown_ids_exit_4(ai3d, user, project, tmp_path):
    api = user["api"]
    asset = ai3d("upload", project, box_glb(tmp_path / "box.glb"), "--api", api, "--json").json
    no_ratio = ai3d("run", "OPTIMIZE", "--project", project, "--input", asset["id"], "--api", api)
    assert no_ratio.code == 2 and "INVALID_PARAMS" in no_ratio.error_line
    assert (
        ai3d(
            "run",
            "OPTIMIZE",
            "--project",
            str(uuid.uuid4()),
            "--input",
            asset["id"],
            "--param",
            "ratio=0.5",
            "--api",
            api,
        ).code
        == 4
    )
    assert ai3d("jobs", "show", str(uuid.uuid4()), "--api", api).code == 4
    assert (
        ai3d(
            "run", "ANIMATE", "--project", project, "--avatar", asset["id"], "--motion", asset["id"], "--api", api
        ).code
        == 2
    )


@pytest.fixture
def pipeline(monkeypatch):
    """Replace starting a job's state machine with a fake run: {"outcome": "COMPLETED" | "FAILED"}."""
    from chalicelib import assets, jobs
    from chalicelib.store.aws import client
    from chalicelib.store.db import Asset, Job, now_iso

    plan = {"outcome": "COMPLETED"}
    threads = []

    def run(job):
        time.sleep(0.3)
        job.update(
            actions=[
                Job.status.set("PROCESSING"),
                Job.stage.set("convert"),
                Job.progress.set(40),
                Job.progress_message.set("converting"),
            ]
        )
        time.sleep(1.0)
        if plan["outcome"] == "FAILED":
            jobs.settle(job.id, "FAILED", {"code": "BAD_INPUT", "message": "the model has no faces"})
            return
        source = Asset.get(f"ASSET#{job.inputs['modelAssetId']}", "ASSET")
        output_id, now = str(uuid.uuid4()), now_iso()
        key = f"outputs/{job.owner_id}/{job.project_id}/{job.id}/convert/model.obj"
        client("s3").copy_object(
            Bucket=assets.settings.ASSETS_BUCKET,
            Key=key,
            CopySource={"Bucket": assets.settings.ASSETS_BUCKET, "Key": source.s3_key},
        )
        Asset(
            f"ASSET#{output_id}",
            "ASSET",
            id=output_id,
            project_id=job.project_id,
            owner_id=job.owner_id,
            kind="MODEL_3D",
            filename="box.obj",
            content_type="model/obj",
            format="obj",
            size_bytes=source.size_bytes,
            status="READY",
            s3_key=key,
            role="model",
            source_job_id=job.id,
            created_at=now,
            updated_at=now,
            gsi1pk=f"PROJECT#{job.project_id}",
            gsi1sk=f"ASSET#{now}#{output_id}",
        ).save()
        job.update(actions=[Job.status.set("COMPLETED"), Job.progress.set(100), Job.outputs.set([output_id])])
        jobs.settle(job.id, "COMPLETED")

    def start(job):
        thread = threading.Thread(target=run, args=(job,))
        thread.start()
        threads.append(thread)

    monkeypatch.setattr(jobs, "start", start)
    yield plan
    for thread in threads:
        thread.join(timeout=10)


def convert_and_wait(ai3d, user, project, source, *options):
    """`ai3d run CONVERT --param format=obj --wait` on a file or asset id, with extra options."""
    return ai3d(
        "run",
        "CONVERT",
        "--project",
        project,
        "--input",
        source,
        "--param",
        "format=obj",
        "--wait",
        *options,
        "--api",
        user["api"],
    )


def test_run_wait_follows_the_job_and_downloads_its_outputs(ai3d, user, project, tmp_path, pipeline):
    source = box_glb(tmp_path / "box.glb")
    result = convert_and_wait(ai3d, user, project, source, "--out", tmp_path / "out", "--json")
    assert result.code == 0, result.err
    job = result.json
    assert job["status"] == "COMPLETED" and [o["role"] for o in job["outputs"]] == ["model"]
    assert (tmp_path / "out" / "box.obj").read_bytes() == source.read_bytes()
    assert job["outputs"][0]["path"] == str(tmp_path / "out" / "box.obj")
    assert balance(ai3d, user["api"]) == 99


def test_run_wait_downloads_into_outputs_job_id_by_default(ai3d, user, project, tmp_path, pipeline, monkeypatch):
    monkeypatch.chdir(tmp_path)
    asset = ai3d("upload", project, box_glb(tmp_path / "box.glb"), "--api", user["api"], "--json").json
    result = convert_and_wait(ai3d, user, project, asset["id"])
    assert result.code == 0, result.err
    job_id = result.out.split()[1]
    assert (tmp_path / "outputs" / job_id / "box.obj").is_file()
    assert f"outputs/{job_id}/box.obj" in result.out and "COMPLETED" in result.out


def test_a_failed_job_exits_1_with_its_error_and_is_refunded(ai3d, user, project, tmp_path, pipeline):
    pipeline["outcome"] = "FAILED"
    result = convert_and_wait(ai3d, user, project, box_glb(tmp_path / "box.glb"), "--out", tmp_path / "out", "--json")
    assert result.code == 1
    assert result.json["status"] == "FAILED" and result.json["error"]["code"] == "BAD_INPUT"
    assert result.error_line.endswith("failed: the model has no faces (BAD_INPUT)")
    assert not (tmp_path / "out").exists()
    assert balance(ai3d, user["api"]) == 100
