"""Joint rotations of the shared skeleton from cleaned landmarks, and forward kinematics."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.cleanup import HIP_MID, SHOULDER_MID, with_midpoints
from container_workers.gpu_worker.mocap.estimation import LM

J = skeleton.INDEX
# Parents of the body's joints, then the fingers' (arrays over body joints only use the first part).
PARENT_INDEX = np.array([J[p] if p else -1 for _, p, _ in skeleton.joints(hands=True)])
X, Y, Z = np.eye(3)
NOSE_REST = np.array([0.0, -0.35, 1.0])  # the nose is ~20 degrees below the ears' line when the head is level
FALLBACK_WEIGHT = 0.2  # how strongly a bone's twist falls back to its parent's when its own cue is weak
STRONG_CUE = 0.25  # a cue this long (e.g. sin of a 15-degree elbow bend) is used alone
# MediaPipe's hip landmarks lie on the hips' outline on screen, outside the joints (bench/mocap_quality: 0.10-0.116 m
# from the pelvis centre against the figure's 0.09): the joints are taken this far out, across the image (X, Y).
HIP_JOINT_INSET = np.array([0.8, 0.8, 1.0])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) whose columns are primary, secondary made orthogonal, and their cross."""
    e1 = _unit(primary)
    e2 = _unit(secondary - np.sum(secondary * e1, axis=-1, keepdims=True) * e1)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def align(
    primary: np.ndarray, secondary: np.ndarray, rest_primary: np.ndarray, rest_secondary: np.ndarray
) -> np.ndarray:
    """Rotations taking rest_primary onto `primary` exactly and rest_secondary as close as possible to `secondary`."""
    rest = _frame(np.asarray(rest_primary, float), np.asarray(rest_secondary, float))
    return _frame(primary, secondary) @ rest.T


def _rest_dir(child: str) -> np.ndarray:
    return _unit(skeleton.offsets()[J[child]])


def twist_cue(cue: np.ndarray | float, parent_rot: np.ndarray, rest_axis: np.ndarray) -> np.ndarray:
    """A secondary direction: the observed cue (its length is its strength) or, as it fades, the parent's axis."""
    strength = np.linalg.norm(np.broadcast_to(cue, parent_rot.shape[:-1]), axis=-1, keepdims=True)
    fallback = FALLBACK_WEIGHT * np.clip(1.0 - strength / STRONG_CUE, 0.0, 1.0) ** 2
    return cue + np.maximum(fallback, 1e-6) * (parent_rot @ rest_axis)


def solve_world_rotations(landmarks: np.ndarray) -> np.ndarray:
    """World rotations (T, J, 3, 3) of every joint so the skeleton's bones point along the (T, 33, 3) landmarks' bones
    (the hip landmarks first moved in to the hip joints, HIP_JOINT_INSET)."""
    p = with_midpoints(landmarks)
    hips_at = [LM["left_hip"], LM["right_hip"]]  # to the hip joints
    p[:, hips_at] = p[:, [HIP_MID]] + HIP_JOINT_INSET * (p[:, hips_at] - p[:, [HIP_MID]])
    T = len(p)
    G = np.empty((T, len(skeleton.NAMES), 3, 3))
    up = p[:, SHOULDER_MID] - p[:, HIP_MID]

    hips = align(up, p[:, LM["left_hip"]] - p[:, LM["right_hip"]], Y, X)
    chest = align(up, p[:, LM["left_shoulder"]] - p[:, LM["right_shoulder"]], Y, X)
    step = Rotation.from_rotvec(Rotation.from_matrix(np.swapaxes(hips, 1, 2) @ chest).as_rotvec() / 3).as_matrix()
    G[:, J["Hips"]] = hips
    G[:, J["Spine"]] = hips @ step
    G[:, J["Spine1"]] = hips @ step @ step
    G[:, J["Spine2"]] = chest
    G[:, J["LeftShoulder"]] = chest
    G[:, J["RightShoulder"]] = chest

    ears = 0.5 * (p[:, LM["left_ear"]] + p[:, LM["right_ear"]])
    G[:, J["Neck"]] = align(ears - p[:, SHOULDER_MID], twist_cue(0, chest, X), Y, X)
    G[:, J["Head"]] = align(p[:, LM["left_ear"]] - p[:, LM["right_ear"]], p[:, LM["nose"]] - ears, X, NOSE_REST)

    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        s = side.lower()
        shoulder, elbow, wrist = (p[:, LM[f"{s}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        index, pinky = p[:, LM[f"{s}_index"]], p[:, LM[f"{s}_pinky"]]
        upper, fore = elbow - shoulder, wrist - elbow
        # Elbow hinge: in the T-pose (palms down) the forearm bends towards +Z, about -Y (left) / +Y (right).
        arm = align(upper, twist_cue(np.cross(_unit(upper), _unit(fore)), chest, -sign * Y), sign * X, -sign * Y)
        G[:, J[f"{side}Arm"]] = arm
        across = index - pinky  # thumb side of the hand; +Z in the T-pose for both hands
        forearm = align(fore, twist_cue(_unit(across), arm, Z), sign * X, Z)
        G[:, J[f"{side}ForeArm"]] = forearm
        G[:, J[f"{side}Hand"]] = align(0.5 * (index + pinky) - wrist, twist_cue(_unit(across), forearm, Z), sign * X, Z)

        hip, knee, ankle, toe = (p[:, LM[f"{s}_{n}"]] for n in ("hip", "knee", "ankle", "foot_index"))
        thigh, shin = knee - hip, ankle - knee
        # Knee hinge: the shin bends backwards (-Z), about +X, on both legs.
        hinge = twist_cue(np.cross(_unit(thigh), _unit(shin)), hips, X)
        G[:, J[f"{side}UpLeg"]] = align(thigh, hinge, -Y, X)
        G[:, J[f"{side}Leg"]] = leg = align(shin, hinge, -Y, X)
        G[:, J[f"{side}Foot"]] = foot = align(toe - ankle, twist_cue(0, leg, X), _rest_dir(f"{side}ToeBase"), X)
        G[:, J[f"{side}ToeBase"]] = foot
    return G


def local_rotations(G: np.ndarray) -> np.ndarray:
    """Each joint's rotation relative to its parent (root: its world rotation), (T, J, 3, 3)."""
    R = G.copy()
    for j, parent in enumerate(PARENT_INDEX[: G.shape[1]]):
        if parent >= 0:
            R[:, j] = np.swapaxes(G[:, parent], -1, -2) @ G[:, j]
    return R


def world_rotations(R: np.ndarray) -> np.ndarray:
    """The inverse of `local_rotations`."""
    G = R.copy()
    for j, parent in enumerate(PARENT_INDEX[: R.shape[1]]):
        if parent >= 0:
            G[:, j] = G[:, parent] @ R[:, j]
    return G


def forward_kinematics(G: np.ndarray, root: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """Joint positions (T, J, 3) from world rotations (body, or body and fingers), the Hips path and rest offsets."""
    off = skeleton.offsets(hands=skeleton.has_hands(G.shape[1])) if offsets is None else offsets
    pos = np.empty(G.shape[:2] + (3,))
    pos[:, 0] = root
    for j in range(1, G.shape[1]):
        parent = PARENT_INDEX[j]
        pos[:, j] = pos[:, parent] + G[:, parent] @ off[j]
    return pos


def leg_lengths(offsets: np.ndarray | None = None) -> tuple[float, float]:
    """Thigh (hip to knee) and shin (knee to ankle) lengths in metres (default: the shared skeleton's)."""
    off = skeleton.offsets() if offsets is None else offsets
    return float(np.linalg.norm(off[J["LeftLeg"]])), float(np.linalg.norm(off[J["LeftFoot"]]))


def performer_scale(lengths: dict[str, float]) -> float:
    """The performer's size relative to the shared skeleton, from torso + thigh + shin lengths (metres)."""
    rest = skeleton.rest_positions()
    shoulders = 0.5 * (rest[J["LeftArm"]] + rest[J["RightArm"]])
    thigh, shin = leg_lengths()
    reference = np.linalg.norm(shoulders - rest[J["Hips"]]) + thigh + shin
    return (lengths["torso"] + lengths["thigh"] + lengths["shin"]) / reference


# Which measured landmark bone sets each skeleton bone's length (the rest scale with the performer's size).
_MEASURED: dict[str, tuple[str, str]] = {
    f"{side}{joint}": (f"{side.lower()}_{a}", f"{side.lower()}_{b}")
    for side in ("Left", "Right")
    for joint, a, b in (
        ("ForeArm", "shoulder", "elbow"),
        ("Hand", "elbow", "wrist"),
        ("Leg", "hip", "knee"),
        ("Foot", "knee", "ankle"),
    )
}


def performer_offsets(lengths: dict[tuple[str, str], float], scale: float, hands: bool = False) -> np.ndarray:
    """Rest offsets (J, 3) with the performer's proportions: limbs from their measured `lengths` (metres, keyed by
    landmark name pairs), everything else the standard skeleton's scaled by `scale` (the performer's size)."""
    off = skeleton.offsets(hands=hands) * scale
    standard = skeleton.offsets(hands=hands)
    for joint, (a, b) in _MEASURED.items():  # both sides get the mean of the two: a symmetric skeleton
        mirrored = tuple(
            n.replace("left_", "right_") if n.startswith("left_") else n.replace("right_", "left_") for n in (a, b)
        )
        j = J[joint]
        off[j] = standard[j] / np.linalg.norm(standard[j]) * 0.5 * (lengths[(a, b)] + lengths[mirrored])
    toe_gap = skeleton.rest_positions()[J["LeftToeBase"], 1] * scale
    legs = [J[n] for n in ("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase")]
    off[J["Hips"]] = (0.0, toe_gap - off[legs, 1].sum(), 0.0)  # the hips stand the rest pose on the floor
    return off
