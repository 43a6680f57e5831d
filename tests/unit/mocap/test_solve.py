"""Joint rotations solved from landmarks of known poses, and forward kinematics."""

from __future__ import annotations

import numpy as np
import synthetic
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.solve import (
    forward_kinematics,
    local_rotations,
    solve_world_rotations,
    world_rotations,
)

J = skeleton.INDEX


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between rotation matrices, per frame."""
    cos = (np.trace(np.swapaxes(a, -1, -2) @ b, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_rest_pose_is_identity_and_fk_gives_the_shared_rest_positions():
    G = np.tile(np.eye(3), (1, len(skeleton.NAMES), 1, 1))
    pos = forward_kinematics(G, skeleton.rest_positions()[:1])
    np.testing.assert_allclose(pos[0], skeleton.rest_positions(), atol=1e-12)
    _, rest_pos = synthetic.posed(G)
    landmarks = synthetic.landmarks_from_skeleton(G, rest_pos)
    np.testing.assert_allclose(local_rotations(solve_world_rotations(landmarks)), G, atol=1e-9)


def test_known_poses_are_recovered_from_their_landmarks():
    R = synthetic.random_pose_locals(120, seed=7)
    G, pos = synthetic.posed(R)
    solved = solve_world_rotations(synthetic.landmarks_from_skeleton(G, pos))
    for name in skeleton.NAMES:
        if name in ("Spine", "Spine1"):
            continue  # the spine's twist is shared out between the three spine joints (checked below)
        assert _angle(G[:, J[name]], solved[:, J[name]]).max() < 1e-3, name
    # Spine2's twist relative to the hips is split in thirds over Spine, Spine1, Spine2.
    twist = Rotation.from_matrix(np.swapaxes(G[:, J["Hips"]], 1, 2) @ G[:, J["Spine2"]]).magnitude()
    spine_local = Rotation.from_matrix(local_rotations(solved)[:, J["Spine"]]).magnitude()
    np.testing.assert_allclose(spine_local, twist / 3, atol=1e-6)
    # Same bones, same directions: the recovered skeleton's joints are where the posed one's are.
    np.testing.assert_allclose(forward_kinematics(solved, pos[:, 0]), pos, atol=1e-5)


def test_knees_and_elbows_come_out_as_pure_hinges():
    R = synthetic.random_pose_locals(50, seed=8)
    G, pos = synthetic.posed(R)
    local = local_rotations(solve_world_rotations(synthetic.landmarks_from_skeleton(G, pos)))
    for joint, axis in (
        ("LeftLeg", [1, 0, 0]),
        ("RightLeg", [1, 0, 0]),
        ("LeftForeArm", [0, -1, 0]),
        ("RightForeArm", [0, 1, 0]),
    ):
        rotvec = Rotation.from_matrix(local[:, J[joint]]).as_rotvec()
        direction = rotvec / np.linalg.norm(rotvec, axis=1, keepdims=True)
        np.testing.assert_allclose(direction, np.tile(axis, (50, 1)), atol=1e-4, err_msg=joint)


def test_world_and_local_rotations_are_inverse():
    G, _ = synthetic.posed(synthetic.random_pose_locals(10, seed=9))
    np.testing.assert_allclose(world_rotations(local_rotations(G)), G, atol=1e-12)
