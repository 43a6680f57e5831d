"""End-to-end helpers: a user who drives the stack only through the `ai3d` CLI, and test media made in code."""

from __future__ import annotations

import contextlib
import io
import math
import os
import uuid
from pathlib import Path

import cv2
import numpy as np

from ai3d.cli import main
from ai3d.demo import person_frames, write_video
from tests.cli_result import Result

PASSWORD = "correct horse battery staple"
JOB_TIMEOUT = 600  # seconds a job may take on a busy 2-core machine


class CliUser:
    """A person with their own config dir, running `ai3d` commands in-process against the stack."""

    def __init__(self, api_url: str, home: Path):
        self.api, self.home = api_url, home
        self.email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"

    def __call__(self, *argv, as_json: bool = True) -> Result:
        """Run `ai3d ARGS... --api <stack> [--json]` with this user's XDG_CONFIG_HOME."""
        args = [str(a) for a in argv] + ["--api", self.api] + (["--json"] if as_json else [])
        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in ("XDG_CONFIG_HOME", "AI3D_PASSWORD")}
        os.environ.update(XDG_CONFIG_HOME=str(self.home), AI3D_PASSWORD=PASSWORD)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(args)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        return Result(code, out.getvalue(), err.getvalue())

    def run_and_wait(self, job_type: str, project: str, out: Path, *options) -> Result:
        """`ai3d run JOB_TYPE --project P OPTIONS... --wait --out OUT --timeout JOB_TIMEOUT`."""
        return self("run", job_type, "--project", project, *options, "--wait", "--out", out, "--timeout", JOB_TIMEOUT)

    def register(self) -> CliUser:
        """Sign up through the CLI; self."""
        self("register", "--email", self.email, "--name", "E2E").ok()
        return self

    def project(self, name: str = "e2e") -> str:
        """A new project's id."""
        return self("projects", "create", name).ok().json["id"]

    def balance(self) -> int:
        """The credit balance as `ai3d credits` shows it."""
        return self("credits").ok().json["balance"]


def run_browser_script(script: str, *args: str, timeout: float = 150) -> dict:
    """Run tests/tools/<script> with node (it drives headless Chromium) and return the JSON of its last line."""
    import json
    import subprocess

    from tests.stackutil import ROOT

    run = subprocess.run(
        ["node", str(ROOT / "tests" / "tools" / script), *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = run.stdout.strip().splitlines()
    assert lines, f"no result from the browser script:\n{run.stderr}"
    return json.loads(lines[-1])


def make_person_video(folder: Path) -> Path:
    """An MP4 of the astronaut moving across the frame (2.5 s)."""
    return write_video(folder / "astronaut.mp4", person_frames())


def make_empty_video(folder: Path) -> Path:
    """An MP4 of a sliding box and nobody in it (2 s)."""
    frames = []
    for i in range(40):
        frame = np.full((240, 320, 3), (70, 80, 90), np.uint8)
        cv2.rectangle(frame, (20 + 5 * i, 60), (80 + 5 * i, 140), (40, 160, 200), -1)
        frames.append(frame)
    return write_video(folder / "nobody.mp4", frames, fps=20)


def make_star_png(folder: Path) -> Path:
    """A 256x256 RGBA PNG: an orange five-pointed star on a transparent background."""
    angles = [math.pi / 2 + i * math.pi / 5 for i in range(10)]
    points = np.array(
        [
            [128 + (100 if i % 2 == 0 else 42) * math.cos(a), 128 - (100 if i % 2 == 0 else 42) * math.sin(a)]
            for i, a in enumerate(angles)
        ],
        np.int32,
    )
    image = np.zeros((256, 256, 4), np.uint8)
    cv2.fillPoly(image, [points], (30, 140, 240, 255))  # BGRA
    path = folder / "star.png"
    cv2.imwrite(str(path), image)
    return path


def make_box_glb(folder: Path) -> Path:
    """A unit cube (12 triangles) as GLB."""
    import trimesh

    path = folder / "box.glb"
    path.write_bytes(trimesh.creation.box().export(file_type="glb"))
    return path


def make_icosphere_glb(folder: Path) -> Path:
    """A 1280-triangle icosphere as GLB."""
    import trimesh

    path = folder / "icosphere.glb"
    path.write_bytes(trimesh.creation.icosphere(subdivisions=3).export(file_type="glb"))
    return path
