"""Fixtures for the Blender worker tests: one bpy per test process, source models made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

import numpy as np  # noqa: E402

from container_workers.blender_worker import bone_map, formats, scene, stats  # noqa: E402
from container_workers.common import skeleton  # noqa: E402
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


def posed_joints(first_frame: int, count: int) -> np.ndarray:
    """World positions (frames, joints, 3) of the shared-skeleton joints of the scene's armature, frame by frame."""
    (arm,) = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    joints = bone_map.match([b.name for b in arm.data.bones])
    out = np.zeros((count, len(skeleton.NAMES), 3))
    for f in range(count):
        bpy.context.scene.frame_set(first_frame + f)
        world = np.array(arm.matrix_world)
        for j, bone in joints.items():
            out[f, skeleton.INDEX[j]] = (world @ np.r_[np.array(arm.pose.bones[bone].head), 1.0])[:3]
    return out


def worst_bone_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Largest angle in degrees between matching bone directions (joint -> its only child) of two joint tracks."""
    worst = 0.0
    for j in skeleton.NAMES:
        kids = skeleton.children(j)
        if len(kids) != 1:
            continue
        c = skeleton.INDEX[kids[0]]
        u, v = a[:, c] - a[:, skeleton.INDEX[j]], b[:, c] - b[:, skeleton.INDEX[j]]
        cos = np.einsum("ij,ij->i", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    return worst
