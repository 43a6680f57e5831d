"""Session fixtures for the motion-capture tests: small videos made in code and one stage run per video."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import media

SIZE = (320, 240)
FPS = 30.0


@dataclass
class StageRun:
    """A stage run and what the video was made from."""

    result: object
    workdir: Path
    known: np.ndarray
    progress: list[tuple[float, str]]


def run_stage(video: Path, workdir: Path, params: dict | None = None, known=None) -> StageRun:
    """Run the pose stage, recording progress."""
    from container_workers.gpu_worker.mocap.stage import pose

    calls: list[tuple[float, str]] = []
    result = pose({"video": video}, params or {}, workdir, lambda pct, msg: calls.append((pct, msg)))
    return StageRun(result, workdir, np.asarray(known), calls)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    """A folder for generated videos."""
    return tmp_path_factory.mktemp("mocap_media")


@pytest.fixture(scope="session")
def walk_across(media_dir) -> tuple[Path, np.ndarray]:
    """2.5 s of the astronaut moving 100 px to the right across a 320x240 frame; returns (video, x centre per frame)."""
    xs = 110 + 100 * np.arange(75) / 74
    path = media.write_video(
        media_dir / "walk_across.mp4", (media.astronaut_frame(SIZE, (x, 120), 180) for x in xs), FPS
    )
    return path, xs


@pytest.fixture(scope="session")
def walk_run(walk_across, tmp_path_factory) -> StageRun:
    """The stage with default params on the walk_across video."""
    video, xs = walk_across
    return run_stage(video, tmp_path_factory.mktemp("walk_run"), {}, xs)
