"""A motion captured from video plays on a photo's avatar: Blender's retarget stage, every frame, no limb flipped."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from scipy.spatial.transform import Rotation  # noqa: E402

from container_workers.blender_worker import bone_map, formats, scene, stats  # noqa: E402
from container_workers.blender_worker.retarget import retarget  # noqa: E402
from container_workers.common import skeleton  # noqa: E402
from container_workers.gpu_worker.exchange.bvh import parse_bvh  # noqa: E402
from container_workers.gpu_worker.mocap.stage import pose  # noqa: E402
from tests import media  # noqa: E402
from tests.gltf_validator import validate  # noqa: E402


def quiet(pct, message):
    """Ignore progress."""


def bvh_joint_positions(path) -> np.ndarray:
    """Forward kinematics of a BVH: world positions (frames, body joints, 3) in Blender's axes (+Z up, facing -Y)."""
    motion = parse_bvh(path)
    values = motion.motion
    frames = len(values)
    world_rot = np.zeros((frames, len(motion.names), 3, 3))
    position = np.zeros((frames, len(motion.names), 3))
    column = 0
    for j, (parent, channels) in enumerate(zip(motion.parents, motion.channels)):
        block = values[:, column : column + len(channels)]
        column += len(channels)
        rotations = [c[0] for c in channels if c.endswith("rotation")]
        angles = block[:, [i for i, c in enumerate(channels) if c.endswith("rotation")]]
        local = Rotation.from_euler("".join(rotations).upper(), angles, degrees=True).as_matrix()
        offset = np.asarray(motion.offsets[j]) / skeleton.BVH_UNITS_PER_METRE
        if parent < 0:
            position[:, j] = block[:, [i for i, c in enumerate(channels) if c.endswith("position")]] / 100.0
            world_rot[:, j] = local
        else:
            position[:, j] = position[:, parent] + np.einsum("fij,j->fi", world_rot[:, parent], offset)
            world_rot[:, j] = world_rot[:, parent] @ local
    body = [motion.names.index(n) for n in skeleton.NAMES]
    p = position[:, body]
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def posed_joints(first_frame: int, count: int) -> np.ndarray:
    """World positions (frames, body joints, 3) of the scene's armature's shared-skeleton joints, frame by frame."""
    (arm,) = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    joints = bone_map.match([b.name for b in arm.data.bones])
    out = np.zeros((count, len(skeleton.NAMES), 3))
    for f in range(count):
        bpy.context.scene.frame_set(first_frame + f)
        world = np.array(arm.matrix_world)
        for j, bone in joints.items():
            if j in skeleton.NAMES:
                out[f, skeleton.INDEX[j]] = (world @ np.r_[np.array(arm.pose.bones[bone].head), 1.0])[:3]
    return out


def bone_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles in degrees (frames, bones) between matching bone directions (joint -> its only body child)."""
    out = []
    for j in skeleton.NAMES:
        kids = skeleton.children(j)
        if len(kids) != 1:
            continue
        c = skeleton.INDEX[kids[0]]
        u, v = a[:, c] - a[:, skeleton.INDEX[j]], b[:, c] - b[:, skeleton.INDEX[j]]
        cos = np.einsum("ij,ij->i", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, axis=1)


def test_a_captured_motion_plays_on_the_photo_avatar(photo_runs, tmp_path):
    video = media.person_video(tmp_path / "walk.mp4", seconds=2, fps=15)
    (tmp_path / "pose").mkdir()
    motion = next(o.path for o in pose({"video": video}, {}, tmp_path / "pose", quiet).outputs if o.role == "bvh")
    for name in ("drawn", "hopper"):
        avatar = photo_runs[name].output("glb")
        with scene.task():
            result = retarget({"avatar": avatar, "motion": motion}, {}, tmp_path / name, quiet)
        animated = next(o.path for o in result.outputs if o.role == "glb")
        report = validate(animated)
        assert report["issues"]["numErrors"] == 0
        with scene.task():
            scene.reset()
            formats.load_upload(animated, tmp_path / f"{name}-check")
            got = stats.describe()
            frames = parse_bvh(motion).frames
            assert (got.frames, got.bones) == (frames, len(skeleton.ALL_NAMES))
            moved = posed_joints(stats.frame_range()[0], frames)
        angles = bone_angles(moved, bvh_joint_positions(motion))
        assert angles.max() < 2.0, (name, angles.max())  # every bone of every frame points where the motion's does
