"""Quality metrics against known motion: PA-MPJPE, joint angles, lean, jitter, root path, foot slide, contacts,
identity jumps."""

from __future__ import annotations

import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.estimation import LM

SIDES = ("Left", "Right")
PARTS = ("Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot")  # shoulder, elbow, wrist, hip, knee, ankle
PART_LABEL = dict(zip(PARTS, ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")))
JOINTS = [f"{side}{part}" for side in SIDES for part in PARTS]
JOINT_INDEX = [skeleton.INDEX[n] for n in JOINTS]
LANDMARK_INDEX = [LM[f"{side.lower()}_{PART_LABEL[part]}"] for side in SIDES for part in PARTS]
SLIDE_LIMIT = 0.05  # metres per second: faster than this, a support foot slides


def procrustes(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """`pred` (T, N, 3) moved onto `truth` per frame by the best similarity transform (rotation, scale, shift)."""
    mp, mt = pred.mean(axis=1, keepdims=True), truth.mean(axis=1, keepdims=True)
    a, b = pred - mp, truth - mt
    u, s, vt = np.linalg.svd(np.einsum("tni,tnj->tij", a, b))
    d = np.sign(np.linalg.det(np.einsum("tij,tjk->tik", u, vt)))
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rot = np.einsum("tij,tjk->tik", u, vt)
    scale = s.sum(axis=1) / np.maximum((a**2).sum(axis=(1, 2)), 1e-12)
    return scale[:, None, None] * np.einsum("tni,tij->tnj", a, rot) + mt


def pa_errors(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame, per-joint error (T, N) in metres after Procrustes alignment."""
    return np.linalg.norm(procrustes(pred, truth) - truth, axis=-1)


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    u, v = a - b, c - b
    cos = np.sum(u * v, -1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def hinge_angles(p: np.ndarray) -> dict[str, np.ndarray]:
    """Interior elbow and knee angles (T,) in degrees of 12 limb points in JOINTS order, per side."""
    n = {name: k for k, name in enumerate(JOINTS)}
    out = {}
    for side in SIDES:
        out[f"{side} elbow"] = _angle(p[:, n[f"{side}Arm"]], p[:, n[f"{side}ForeArm"]], p[:, n[f"{side}Hand"]])
        out[f"{side} knee"] = _angle(p[:, n[f"{side}UpLeg"]], p[:, n[f"{side}Leg"]], p[:, n[f"{side}Foot"]])
    return out


def lean(p: np.ndarray, truth: np.ndarray) -> float:
    """Mean angle (degrees) between the body axes (ankles' midpoint to shoulders' midpoint) of 12 limb points (T, 12, 3)
    and the truth's, with no alignment: how far the whole body leans off the true vertical (which PA-MPJPE hides)."""

    def axis(q: np.ndarray) -> np.ndarray:
        top = q[:, [JOINTS.index("LeftArm"), JOINTS.index("RightArm")]].mean(axis=1)
        v = top - q[:, [JOINTS.index("LeftFoot"), JOINTS.index("RightFoot")]].mean(axis=1)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)

    return float(np.degrees(np.arccos(np.clip(np.sum(axis(p) * axis(truth), axis=-1), -1, 1))).mean())


def jitter(p: np.ndarray, fps: float) -> float:
    """Mean joint acceleration (m/s^2) of hip-centred points (T, N, 3)."""
    centred = p - p[:, [JOINTS.index("LeftUpLeg"), JOINTS.index("RightUpLeg")]].mean(axis=1, keepdims=True)
    return float(np.linalg.norm(np.diff(centred, 2, axis=0), axis=-1).mean() * fps * fps)


def support_slide(soles: np.ndarray, fps: float) -> np.ndarray:
    """Per frame, the horizontal speed (m/s) of the support foot's lowest sole point; soles (T, 2 feet, P, 3).

    The support foot is the one with the lower lowest point; its speed is that point's, between this frame and the
    one before.
    """
    low = soles[..., 1].argmin(axis=2)  # (T, 2) each foot's lowest point
    height = np.take_along_axis(soles[..., 1], low[..., None], 2)[..., 0]
    foot = height.argmin(axis=1)[1:]
    point = low[1:][np.arange(len(foot)), foot]
    t = np.arange(1, len(soles))
    step = soles[t, foot, point] - soles[t - 1, foot, point]
    return np.linalg.norm(step[:, [0, 2]], axis=-1) * fps


def root_jumps(root: np.ndarray, height: float) -> int:
    """Frames where the root moves more than `height` metres (a body height) from the frame before."""
    return int((np.linalg.norm(np.diff(root, axis=0), axis=-1) > height).sum())


def path_error(points: np.ndarray, truth: np.ndarray) -> float:
    """Mean distance (metres) between the hip centre's path and the truth's, both from where they start (12 limb
    points (T, 12, 3) each, no alignment): how far the body's travel strays, which hip-centred scores hide."""
    hips = [JOINTS.index("LeftUpLeg"), JOINTS.index("RightUpLeg")]
    got, want = points[:, hips].mean(axis=1), truth[:, hips].mean(axis=1)
    return float(np.linalg.norm((got - got[0]) - (want - want[0]), axis=-1).mean())


def finger_angles_skeleton(pos: np.ndarray) -> np.ndarray:
    """Bend (degrees) at each finger's joints 1 and 2, (T, 2 hands, 5, 2), from skeleton joint positions (T, 52, 3)."""
    out = np.empty((len(pos), 2, 5, 2))
    for h, side in enumerate(SIDES):
        for f, finger in enumerate(skeleton.FINGERS):
            chain = [pos[:, skeleton.INDEX[f"{side}Hand"]]] + [
                pos[:, skeleton.INDEX[f"{side}Hand{finger}{k}"]] for k in (1, 2, 3)
            ]
            for k in range(2):
                out[:, h, f, k] = 180.0 - _angle(chain[k], chain[k + 1], chain[k + 2])
    return out


def finger_angles_landmarks(hand: np.ndarray) -> np.ndarray:
    """The same bends, (T, 5, 2), from MediaPipe Hands' 21 landmarks (T, 21, 3) of one hand."""
    marks = ((1, 2, 3), (5, 6, 7), (9, 10, 11), (13, 14, 15), (17, 18, 19))
    out = np.empty((len(hand), 5, 2))
    for f, (a, b, c) in enumerate(marks):
        out[:, f, 0] = 180.0 - _angle(hand[:, 0], hand[:, a], hand[:, b])
        out[:, f, 1] = 180.0 - _angle(hand[:, a], hand[:, b], hand[:, c])
    return out
