"""The worker images and the state machine's definition: hadolint-clean Dockerfiles on a pinned base, non-root, healthy
by the worker's heartbeat, one OpenCV; the deployed ASL passes asl-validator."""

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from container_workers.common import healthcheck
from devstack.deploy import load_template

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILES = sorted((ROOT / "container_workers").glob("*/Dockerfile"))
HEALTHCHECK = ["python", "-m", "container_workers.common.healthcheck"]


def test_both_dockerfiles_pass_hadolint():
    assert len(DOCKERFILES) == 2
    result = subprocess.run(
        [str(Path(sys.executable).parent / "hadolint"), *map(str, DOCKERFILES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_each_image_is_pinned_non_root_and_healthy_by_heartbeat(dockerfile):
    text = dockerfile.read_text()
    for image in re.findall(r"^FROM (\S+)", text, re.M):
        assert re.search(r":\d+\.\d+\.\d+-|@sha256:", image), f"{image} is not pinned to an exact tag or digest"
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("0", "root"), "the worker must not run as root"
    healthcheck_line = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])", text, re.M | re.S)
    assert healthcheck_line and json.loads(healthcheck_line.group(1)) == HEALTHCHECK


def test_the_build_context_holds_what_the_dockerfiles_copy_and_nothing_else():
    allowed = [
        line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    ]
    for dockerfile in DOCKERFILES:
        for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile.read_text(), re.M):
            for source in line.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert any(source == a or source.startswith(a + "/") for a in allowed), f"{source} is dockerignored"


def test_only_the_gpu_image_has_opencv_and_only_one():
    def opencvs(worker: str) -> list[str]:
        requirements = (ROOT / "container_workers" / worker / "requirements.txt").read_text()
        return re.findall(r"^(opencv[\w-]*)", requirements, re.M)

    assert opencvs("gpu_worker") == ["opencv-contrib-python"]  # the one mediapipe depends on
    assert opencvs("blender_worker") == []
    assert "opencv" not in (ROOT / "requirements.txt").read_text()


def test_the_task_definitions_check_health_as_the_images_do():
    tasks = [s for s in load_template()["Resources"].values() if s["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(tasks) == 2
    for task in tasks:
        for container in task["Properties"]["ContainerDefinitions"]:
            assert container["HealthCheck"]["Command"] == ["CMD", *HEALTHCHECK]


def test_the_workers_heartbeat_touches_the_file():
    from container_workers.common.worker import Worker

    assert "healthcheck.touch()" in inspect.getsource(Worker._heartbeat)


def test_health_follows_the_heartbeat_file(tmp_path, monkeypatch):
    monkeypatch.setattr(healthcheck, "HEARTBEAT_FILE", tmp_path / "heartbeat")
    assert not healthcheck.check()[0]  # no beat yet
    healthcheck.touch()
    assert healthcheck.check()[0]
    assert not healthcheck.check(now=(tmp_path / "heartbeat").stat().st_mtime + healthcheck.STALE_SECONDS + 1)[0]


def test_the_deployed_state_machine_passes_asl_validator(aws, tmp_path):
    machine = boto3.client("stepfunctions", region_name="us-east-1").describe_state_machine(
        stateMachineArn=aws["PIPELINE_STATE_MACHINE_ARN"]
    )
    definition = tmp_path / "pipeline.json"
    definition.write_text(machine["definition"])  # as deployed: DefinitionSubstitutions applied
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "asl-validator"), "--json-path", str(definition)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
