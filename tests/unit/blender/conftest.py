"""Fixtures for the Blender worker tests: one bpy per test process, source models made once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from container_workers.blender_worker import formats, scene, stats  # noqa: E402
from tests.unit.blender import builders  # noqa: E402

RICH = ("glb", "gltf", "fbx", "usdz", "blend")


def _make(folder: Path, build, fmts) -> dict[str, tuple[Path, stats.SceneStats]]:
    made = {}
    for fmt in fmts:
        scene.reset()
        build()
        made[fmt] = (builders.export_raw(fmt, folder / f"{fmt}_src"), stats.describe())
    scene.reset()
    return made


@pytest.fixture(scope="session")
def static_sources(tmp_path_factory) -> dict[str, tuple[Path, stats.SceneStats]]:
    """A textured, vertex-coloured sphere in every model format, with the stats of the scene it was made from."""
    return _make(tmp_path_factory.mktemp("static"), builders.textured_sphere, formats.MODEL_FORMATS)


@pytest.fixture(scope="session")
def animated_sources(tmp_path_factory) -> dict[str, tuple[Path, stats.SceneStats]]:
    """A skinned, animated mannequin in every format that can hold it."""
    return _make(tmp_path_factory.mktemp("animated"), builders.avatar, RICH)


@pytest.fixture(scope="session")
def bvh_file(tmp_path_factory) -> Path:
    """A BVH motion on the shared skeleton."""
    return builders.write_bvh(tmp_path_factory.mktemp("bvh") / "walk.bvh")


def reimport(path: Path, workdir: Path) -> stats.SceneStats:
    """Load a stage's output in a fresh scene and count what it holds."""
    scene.reset()
    formats.load_upload(path, workdir / "reimport")
    return stats.describe()


def no_progress(percent: float, message: str) -> None:
    """A progress callback that ignores reports."""
