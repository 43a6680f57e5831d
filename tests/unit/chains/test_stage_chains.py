"""The pipelines' stage chains run in-process, files in and files out, exactly as the workers chain them."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from container_workers.blender_worker import formats, scene, stats  # noqa: E402
from container_workers.blender_worker.export import export  # noqa: E402
from container_workers.blender_worker.optimize import optimize  # noqa: E402
from container_workers.blender_worker.retarget import retarget  # noqa: E402
from container_workers.common import skeleton  # noqa: E402
from container_workers.gpu_worker.avatar.stage import avatar  # noqa: E402
from container_workers.gpu_worker.exchange.bvh import parse_bvh  # noqa: E402
from container_workers.gpu_worker.image_to_3d.stage import reconstruct  # noqa: E402
from container_workers.gpu_worker.mocap.stage import pose  # noqa: E402
from tests import media  # noqa: E402
from tests.gltf_validator import assert_valid  # noqa: E402


def quiet(pct, message):
    """Ignore progress."""


def outputs(result) -> dict:
    return {o.role: o.path for o in result.outputs}


def reimport(path, workdir) -> stats.SceneStats:
    scene.reset()
    formats.load_upload(path, workdir)
    return stats.describe()


@pytest.fixture(scope="module")
def mocap(tmp_path_factory):
    """MOTION_CAPTURE's pose stage on a video of the astronaut moving across the frame."""
    folder = tmp_path_factory.mktemp("mocap")
    video = media.person_video(folder / "walk.mp4", seconds=2, fps=15)
    (folder / "pose").mkdir()
    return outputs(pose({"video": video}, {}, folder / "pose", quiet))


def test_motion_capture_export_gives_valid_glb_and_fbx_with_every_frame_and_bone(mocap, tmp_path):
    motion = parse_bvh(mocap["bvh"])
    with scene.task():
        result = export({"model": mocap["bvh"]}, {"formats": ["glb", "fbx"]}, tmp_path, quiet)
    files = outputs(result)
    assert_valid(files["glb"])
    for fmt in ("glb", "fbx"):
        with scene.task():
            got = reimport(files[fmt], tmp_path / f"re_{fmt}")
        assert got.bones == len(skeleton.NAMES) == len(motion.names)
        assert got.frames == motion.frames
        assert "animation" in got.features
    assert files["thumbnail"].stat().st_size > 1000


def test_a_mocap_motion_retargets_onto_a_generated_avatar(mocap, tmp_path):
    (tmp_path / "avatar").mkdir()
    made = outputs(
        avatar(
            {},
            {"prompt": "short stocky man with a red shirt", "pose": "A", "targetTriangles": 4000},
            tmp_path / "avatar",
            quiet,
        )
    )
    with scene.task():
        result = retarget({"avatar": made["glb"], "motion": mocap["bvh"]}, {}, tmp_path, quiet)
    files = outputs(result)
    assert_valid(files["glb"])
    with scene.task():
        got = reimport(files["glb"], tmp_path / "re")
    assert got.frames == parse_bvh(mocap["bvh"]).frames
    assert got.bones == len(skeleton.ALL_NAMES) and got.meshes >= 1  # the avatar has finger bones


def test_image_to_3d_then_optimize_meets_the_budget(tmp_path):
    image = tmp_path / "disc.png"
    image.write_bytes(media.png(256, 256, rgba=True))
    (tmp_path / "gen").mkdir()
    made = outputs(reconstruct({"image": image}, {"targetTriangles": 8000}, tmp_path / "gen", quiet))
    with scene.task():
        result = optimize({"model": made["glb"]}, {"targetTriangles": 2000}, tmp_path, quiet)
    assert_valid(outputs(result)["model"])
    assert abs(result.metadata["trianglesAfter"] - 2000) <= 20


def test_an_optimized_glb_feeds_convert_and_optimize_again(tmp_path):
    """OPTIMIZE writes meshopt-compressed GLBs; every other blender stage still reads them (a user's next job)."""
    from container_workers.blender_worker.convert import convert

    image = tmp_path / "disc.png"
    image.write_bytes(media.png(256, 256, rgba=True))
    (tmp_path / "gen").mkdir()
    made = outputs(reconstruct({"image": image}, {"targetTriangles": 4000}, tmp_path / "gen", quiet))
    (tmp_path / "opt").mkdir()
    with scene.task():
        packed = outputs(optimize({"model": made["glb"]}, {"ratio": 0.5}, tmp_path / "opt", quiet))["model"]
    (tmp_path / "fbx").mkdir()
    with scene.task():
        result = convert({"model": packed}, {"format": "fbx"}, tmp_path / "fbx", quiet)
    with scene.task():
        got = reimport(outputs(result)["model"], tmp_path / "re")
    assert 1900 <= got.triangles <= 2100
    (tmp_path / "again").mkdir()
    with scene.task():
        again = optimize({"model": packed}, {"ratio": 0.5}, tmp_path / "again", quiet)
    assert again.metadata["trianglesAfter"] <= 1050
