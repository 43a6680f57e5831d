"""retarget: a captured motion plays on avatars with another rest pose, size, naming and format."""

from __future__ import annotations

import numpy as np
import pytest

from container_workers.blender_worker import scene, stats
from container_workers.blender_worker.retarget import retarget
from container_workers.common.stage import BadInputError
from tests.gltf_validator import assert_valid
from tests.unit.blender import builders
from tests.unit.blender.conftest import no_progress, posed_joints, reimport, worst_bone_angle

SIZE = 0.9  # the avatars are 10% smaller than the captured performer


def make_avatar(folder, fmt="glb", a_pose=True, prefix="", animated=False):
    """A rigged mannequin 90% of the skeleton's size, written with Blender's own exporter."""
    scene.reset()
    builders.avatar(a_pose=a_pose, animated=animated, prefix=prefix, scale=SIZE)
    path = builders.export_raw(fmt, folder / f"avatar_{fmt}_{'a' if a_pose else 't'}{prefix.rstrip(':')}")
    scene.reset()
    return path


def check_plays(path, workdir, expected: np.ndarray, scale: float) -> None:
    """The re-imported output moves every bone like `expected`, with the hips' travel scaled."""
    got = reimport(path, workdir)
    assert (got.frames, got.bones, got.meshes) == (len(expected), 22, 1)
    moved = posed_joints(stats.frame_range()[0], len(expected))
    assert worst_bone_angle(moved, expected) < 1.0
    travel, captured = moved[:, 0] - moved[0, 0], expected[:, 0] - expected[0, 0]
    assert np.allclose(travel, scale * captured, atol=1e-3)
    assert np.ptp(moved[:, 8], axis=0).max() > 0.05  # the left forearm really moves


@pytest.mark.parametrize("fmt, prefix", [("glb", ""), ("fbx", "mixamorig:")])
def test_bvh_on_a_pose_avatar(bvh_file, tmp_path, fmt, prefix):
    avatar = make_avatar(tmp_path, fmt, prefix=prefix)
    result = retarget({"avatar": avatar, "motion": bvh_file}, {}, tmp_path, no_progress)
    assert [(o.role, o.kind) for o in result.outputs] == [("glb", "ANIMATION"), ("fbx", "ANIMATION")]
    assert result.metadata["frames"] == builders.FRAMES and len(result.metadata["matchedJoints"]) == 22
    assert result.metadata["scale"] == pytest.approx(SIZE)
    assert_valid(result.outputs[0].path)
    expected = builders.bvh_joint_positions(bvh_file)
    for out in result.outputs:
        check_plays(out.path, tmp_path / out.role, expected, SIZE)


def test_animated_glb_as_motion(tmp_path):
    scene.reset()
    builders.avatar(animated=True)  # T-pose rest, full size, animated
    motion = builders.export_raw("glb", tmp_path / "dancer")
    expected = posed_joints(1, builders.FRAMES)
    avatar = make_avatar(tmp_path, "glb", a_pose=True)
    result = retarget({"avatar": avatar, "motion": motion}, {}, tmp_path, no_progress)
    check_plays(result.outputs[0].path, tmp_path / "check", expected, SIZE)


def test_avatar_without_the_shared_skeleton(bvh_file, static_sources, tmp_path):
    with pytest.raises(BadInputError) as err:
        retarget({"avatar": static_sources["glb"][0], "motion": bvh_file}, {}, tmp_path, no_progress)
    assert err.value.code == "NO_SKELETON"


def test_motion_without_animation(tmp_path):
    avatar = make_avatar(tmp_path, "glb")
    with pytest.raises(BadInputError) as err:
        retarget({"avatar": avatar, "motion": avatar}, {}, tmp_path, no_progress)
    assert err.value.code == "NO_MOTION"


def test_skeleton_with_unknown_names(bvh_file, tmp_path):
    scene.reset()
    arm = builders.avatar(animated=False)
    for i, bone in enumerate(arm.data.bones):
        bone.name = f"b{i}"
    avatar = builders.export_raw("glb", tmp_path / "odd")
    with pytest.raises(BadInputError) as err:
        retarget({"avatar": avatar, "motion": bvh_file}, {}, tmp_path, no_progress)
    assert err.value.code == "SKELETON_MISMATCH" and "Mixamo" in err.value.message
