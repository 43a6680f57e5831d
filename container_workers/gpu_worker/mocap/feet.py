"""Feet on the ground: sole points, standing on the floor, contact detection and foot locking (two-bone IK)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.solve import J, X, Y, align, forward_kinematics, leg_lengths, twist_cue

SIDES = ("Left", "Right")
CONTACT_HEIGHT = 0.04  # metres: a sole this close to the floor can be in contact
CONTACT_SPEED = 0.4  # metres per second: a foot slower than this over the floor is planted
CONTACT_MIN_SECONDS = 0.1
BLEND_SECONDS = 0.1  # ease in/out of a lock over this long, outside the contact


def _sole_local() -> np.ndarray:
    """Heel, ball and toe tip in the Foot joint's frame (the same for both feet), all on y=0 in the rest pose."""
    rest = skeleton.rest_positions()
    foot, toe = rest[J["LeftFoot"]], rest[J["LeftToeBase"]]
    toe_offset = toe - foot
    ball = toe_offset + np.array([0.0, -toe[1], 0.0])
    return np.array([[0.0, -foot[1], -0.03], ball, ball + np.array(skeleton.END_SITES["LeftToeBase"])])


SOLE_LOCAL = _sole_local()


def sole_points(G: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """World heel, ball and toe-tip points of both feet, (T, 2, 3, 3) (the toe bone turns with the foot)."""
    out = np.empty((len(G), 2, 3, 3))
    for k, side in enumerate(SIDES):
        f = J[f"{side}Foot"]
        out[:, k] = pos[:, f, None] + np.einsum("tij,pj->tpi", G[:, f], SOLE_LOCAL)
    return out


def stand_on_floor(G: np.ndarray, root: np.ndarray) -> np.ndarray:
    """The root path with its height set so the lowest sole point is at y=0 in every frame."""
    out = root.copy()
    out[:, 1] = 0.0
    soles = sole_points(G, forward_kinematics(G, out))
    out[:, 1] = -soles[..., 1].min(axis=(1, 2))
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def detect_contacts(G: np.ndarray, root: np.ndarray, fps: float) -> np.ndarray:
    """Per frame and foot (T, 2): the sole is on the floor and not moving over it."""
    soles = sole_points(G, forward_kinematics(G, root))
    height = soles[..., 1].min(axis=2)
    centre = soles.mean(axis=2)[..., [0, 2]]
    speed = np.linalg.norm(np.gradient(centre, axis=0), axis=-1) * fps if len(G) > 1 else np.zeros(height.shape)
    contact = (height < CONTACT_HEIGHT) & (speed < CONTACT_SPEED)
    min_frames = max(2, int(round(CONTACT_MIN_SECONDS * fps)))
    for k in range(2):
        for a, b in runs(~contact[:, k]):  # close one- or two-frame holes inside a contact
            if a > 0 and b < len(G) - 1 and b - a + 1 <= 2:
                contact[a : b + 1, k] = True
        for a, b in runs(contact[:, k]):
            if b - a + 1 < min_frames:
                contact[a : b + 1, k] = False
    return contact


def _two_bone_ik(
    hip: np.ndarray, knee: np.ndarray, target: np.ndarray, upleg_rot: np.ndarray, thigh_len: float, shin_len: float
) -> tuple[np.ndarray, np.ndarray]:
    """World rotations of thigh and shin putting the ankle on `target`, the knee staying in its current bend plane."""
    d_vec = target - hip
    dist = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    axis = d_vec / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(thigh_len - shin_len) + 1e-6, (thigh_len + shin_len) * (1 - 1e-6))
    along = (thigh_len**2 - shin_len**2 + dist**2) / (2 * dist)
    out = np.sqrt(np.maximum(thigh_len**2 - along**2, 0.0))
    pole = knee - hip
    pole = pole - np.sum(pole * axis, axis=-1, keepdims=True) * axis
    pole = pole + 1e-3 * np.cross(axis, upleg_rot @ X)  # the knee's forward side if the leg is straight
    pole /= np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-12)
    new_knee = hip + along * axis + out * pole
    thigh, shin = new_knee - hip, hip + dist * axis - new_knee
    bend = twist_cue(np.cross(thigh / thigh_len, shin / shin_len), upleg_rot, X)
    return align(thigh, bend, -Y, X), align(shin, bend, -Y, X)


def _smoothstep(w: np.ndarray) -> np.ndarray:
    return w * w * (3 - 2 * w)


def _reach_drop(hip: np.ndarray, target: np.ndarray, reach: float) -> np.ndarray:
    """How far (T,) the hip must come down so `target` is within `reach` of it (0 if it already is)."""
    d = target - hip
    across = np.minimum(d[:, 0] ** 2 + d[:, 2] ** 2, reach**2)
    return np.maximum(0.0, -d[:, 1] - np.sqrt(reach**2 - across))


def _foot_targets(
    G: np.ndarray, pos: np.ndarray, contacts: np.ndarray, foot: int, blend: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lock weight (T,), ankle target (T, 3) and foot rotation (T, 3, 3) of one foot over its contacts."""
    T = len(G)
    weight = np.zeros(T)
    target = pos[:, foot].copy()
    target_rot = G[:, foot].copy()
    for a, b in runs(contacts):
        rot = G[(a + b) // 2, foot]
        spot = np.median(pos[a : b + 1, foot], axis=0)
        spot[1] = -(rot @ SOLE_LOCAL.T)[1].min()  # lowest sole point exactly on the floor
        ramp_in = np.arange(max(0, a - blend), a)
        ramp_out = np.arange(b + 1, min(T, b + 1 + blend))
        frames = np.concatenate([ramp_in, np.arange(a, b + 1), ramp_out])
        w = np.concatenate(
            [
                _smoothstep((ramp_in - (a - blend - 1)) / (blend + 1)),
                np.ones(b - a + 1),
                _smoothstep(((b + 1 + blend) - ramp_out) / (blend + 1)),
            ]
        )
        stronger = w > weight[frames]
        frames, w = frames[stronger], w[stronger]
        if not len(frames):
            continue
        weight[frames] = w
        target[frames] = (1 - w[:, None]) * pos[frames, foot] + w[:, None] * spot
        turn = Rotation.from_matrix(np.swapaxes(G[frames, foot], 1, 2) @ rot).as_rotvec()
        target_rot[frames] = G[frames, foot] @ Rotation.from_rotvec(w[:, None] * turn).as_matrix()
    # Keep a blended foot's sole above the floor.
    lowest = np.einsum("tij,pj->tpi", target_rot, SOLE_LOCAL)[..., 1].min(axis=1)
    target[:, 1] = np.where(weight > 0, np.maximum(target[:, 1], -lowest), target[:, 1])
    return weight, target, target_rot


def lock_feet(G: np.ndarray, root: np.ndarray, contacts: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Pin each foot (position and orientation) through its contacts with leg IK, lowering the hips where a
    leg cannot reach; then stand the result on the floor. Returns (G, root)."""
    G, root = G.copy(), root.copy()
    pos = forward_kinematics(G, root)
    blend = max(1, int(round(BLEND_SECONDS * fps)))
    thigh, shin = leg_lengths()
    locks = [_foot_targets(G, pos, contacts[:, k], J[f"{side}Foot"], blend) for k, side in enumerate(SIDES)]
    drop = np.zeros(len(G))
    for (weight, target, _), side in zip(locks, SIDES):
        need = _reach_drop(pos[:, J[f"{side}UpLeg"]], target, (thigh + shin) * (1 - 1e-4))
        drop = np.maximum(drop, np.where(weight > 0, need, 0.0))
    if drop.any():  # ease in and out: a moving maximum, then a moving average, never below what is needed
        width = blend * 2 + 1
        drop = uniform_filter1d(maximum_filter1d(drop, width, mode="nearest"), width, mode="nearest")
        root[:, 1] -= drop
        pos = forward_kinematics(G, root)
    for (weight, target, target_rot), side in zip(locks, SIDES):
        up, leg, foot, toe = (J[f"{side}{n}"] for n in ("UpLeg", "Leg", "Foot", "ToeBase"))
        moving = weight > 0
        if not moving.any():
            continue
        G[moving, up], G[moving, leg] = _two_bone_ik(
            pos[moving, up], pos[moving, leg], target[moving], G[moving, up], thigh, shin
        )
        G[moving, foot] = target_rot[moving]
        G[moving, toe] = target_rot[moving]
    return G, stand_on_floor(G, root)


def foot_slide(G: np.ndarray, root: np.ndarray, contacts: np.ndarray) -> float:
    """The largest distance (metres) any sole point moves away from where it is during its contact."""
    soles = sole_points(G, forward_kinematics(G, root))
    worst = 0.0
    for k in range(2):
        for a, b in runs(contacts[:, k]):
            span = soles[a : b + 1, k]
            worst = max(worst, float(np.linalg.norm(span - span[0], axis=-1).max()))
    return worst
