"""Known-truth test data: poses of the shared skeleton and the MediaPipe-style landmarks they would produce."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.estimation import LM, NUM_LANDMARKS
from container_workers.gpu_worker.mocap.solve import HIP_JOINT_INSET, forward_kinematics, world_rotations

J = skeleton.INDEX


def rot(axis: str, degrees) -> np.ndarray:
    """Rotation matrices about one axis, (T, 3, 3) for an array of angles."""
    return Rotation.from_euler(axis, np.atleast_1d(degrees)[:, None], degrees=True).as_matrix()


def random_pose_locals(frames: int, seed: int = 0) -> np.ndarray:
    """Local rotations (T, J, 3, 3) of plausible poses: free hips, spine twist, swinging limbs, hinge elbows and knees."""
    rng = np.random.default_rng(seed)
    R = np.tile(np.eye(3), (frames, len(skeleton.NAMES), 1, 1))
    R[:, J["Hips"]] = Rotation.from_rotvec(rng.normal(0, 0.4, (frames, 3))).as_matrix()
    R[:, J["Spine2"]] = rot("y", rng.uniform(-30, 30, frames))
    for side, sign in (("Left", 1), ("Right", -1)):
        R[:, J[f"{side}Arm"]] = Rotation.from_rotvec(rng.normal(0, 0.6, (frames, 3))).as_matrix()
        R[:, J[f"{side}ForeArm"]] = rot(
            "y", -sign * rng.uniform(20, 120, frames)
        )  # elbow flexion brings the hand forward
        R[:, J[f"{side}Hand"]] = rot("z", rng.uniform(-30, 30, frames))
        R[:, J[f"{side}UpLeg"]] = Rotation.from_euler(
            "xyz",
            np.stack([rng.uniform(-60, 30, frames), rng.uniform(-20, 20, frames), rng.uniform(-20, 20, frames)], 1),
            degrees=True,
        ).as_matrix()
        R[:, J[f"{side}Leg"]] = rot("x", rng.uniform(20, 100, frames))  # knee flexion: shin backwards
        R[:, J[f"{side}Foot"]] = rot("x", rng.uniform(-20, 20, frames))
    return R


def landmarks_from_skeleton(G: np.ndarray, pos: np.ndarray, hips_on_outline: bool = True) -> np.ndarray:
    """The 33 MediaPipe landmarks (T, 33, 3) a posed skeleton would show, hip-centred like MediaPipe's world landmarks
    (the hip landmarks outside the joints across the image, as MediaPipe's are, unless not `hips_on_outline`)."""
    T = len(G)
    lm = np.zeros((T, NUM_LANDMARKS, 3))

    def at(joint: str, local=(0.0, 0.0, 0.0)) -> np.ndarray:
        return pos[:, J[joint]] + G[:, J[joint]] @ np.asarray(local, float)

    for side, sign in (("Left", 1), ("Right", -1)):
        s = side.lower()
        lm[:, LM[f"{s}_shoulder"]] = at(f"{side}Arm")
        lm[:, LM[f"{s}_elbow"]] = at(f"{side}ForeArm")
        lm[:, LM[f"{s}_wrist"]] = at(f"{side}Hand")
        lm[:, LM[f"{s}_index"]] = at(f"{side}Hand", (sign * 0.08, 0, 0.03))
        lm[:, LM[f"{s}_pinky"]] = at(f"{side}Hand", (sign * 0.08, 0, -0.03))
        lm[:, LM[f"{s}_thumb"]] = at(f"{side}Hand", (sign * 0.03, 0, 0.05))
        lm[:, LM[f"{s}_hip"]] = at(f"{side}UpLeg")
        lm[:, LM[f"{s}_knee"]] = at(f"{side}Leg")
        lm[:, LM[f"{s}_ankle"]] = at(f"{side}Foot")
        lm[:, LM[f"{s}_heel"]] = at(f"{side}Foot", (0, -0.08, -0.05))
        lm[:, LM[f"{s}_foot_index"]] = at(f"{side}ToeBase")
        lm[:, LM[f"{s}_ear"]] = at("Head", (sign * 0.07, 0.06, 0))
        for k, name in enumerate(("eye_inner", "eye", "eye_outer")):
            lm[:, LM[f"{s}_{name}"]] = at("Head", (sign * (0.015 + 0.015 * k), 0.08, 0.08))
        lm[:, LM[f"mouth_{s}"]] = at("Head", (sign * 0.025, 0.0, 0.09))
    lm[:, LM["nose"]] = at("Head", (0, 0.025, 0.10))  # 19 degrees below the ears, as the solver assumes
    mid = 0.5 * (lm[:, LM["left_hip"]] + lm[:, LM["right_hip"]])
    for s in ("left", "right") if hips_on_outline else ():  # as the solver assumes
        lm[:, LM[f"{s}_hip"]] = mid + (lm[:, LM[f"{s}_hip"]] - mid) / HIP_JOINT_INSET
    hips = 0.5 * (lm[:, LM["left_hip"]] + lm[:, LM["right_hip"]])
    return lm - hips[:, None]


def posed(R: np.ndarray, root: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World rotations and joint positions of local rotations R (root at the rest hips height unless given)."""
    G = world_rotations(R)
    if root is None:
        root = np.tile(skeleton.rest_positions()[0], (len(R), 1))
    return G, forward_kinematics(G, root)
