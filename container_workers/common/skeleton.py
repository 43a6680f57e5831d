"""The one humanoid skeleton shared by motion capture, avatars and retargeting (Mixamo bone names).

Conventions (glTF's): metres, +Y up, the character faces +Z, its left hand is on +X.
Rest pose is a T-pose in which every joint's local rotation is the identity, so a joint's rest
transform is only the translation `offset` from its parent. BVH files use centimetres.

The body (`JOINTS`, `NAMES`) is what every output has; `hands=True` appends the finger bones
(`HAND_JOINTS`: thumb, index, middle, ring, pinky, 3 joints each, left then right) after the body, so
body indices never change. In the T-pose the palms face down (-Y) and the thumbs point forward (+Z).
"""

from __future__ import annotations

import numpy as np

BVH_UNITS_PER_METRE = 100.0
MIXAMO_PREFIX = "mixamorig:"

# (name, parent, offset from parent in metres) for a 1.75 m adult in T-pose, parents before children.
JOINTS: tuple[tuple[str, str | None, tuple[float, float, float]], ...] = (
    ("Hips", None, (0.0, 0.95, 0.0)),
    ("Spine", "Hips", (0.0, 0.10, 0.0)),
    ("Spine1", "Spine", (0.0, 0.12, 0.0)),
    ("Spine2", "Spine1", (0.0, 0.13, 0.0)),
    ("Neck", "Spine2", (0.0, 0.20, 0.0)),
    ("Head", "Neck", (0.0, 0.10, 0.0)),
    ("LeftShoulder", "Spine2", (0.05, 0.15, 0.0)),
    ("LeftArm", "LeftShoulder", (0.13, 0.0, 0.0)),
    ("LeftForeArm", "LeftArm", (0.28, 0.0, 0.0)),
    ("LeftHand", "LeftForeArm", (0.26, 0.0, 0.0)),
    ("RightShoulder", "Spine2", (-0.05, 0.15, 0.0)),
    ("RightArm", "RightShoulder", (-0.13, 0.0, 0.0)),
    ("RightForeArm", "RightArm", (-0.28, 0.0, 0.0)),
    ("RightHand", "RightForeArm", (-0.26, 0.0, 0.0)),
    ("LeftUpLeg", "Hips", (0.09, -0.05, 0.0)),
    ("LeftLeg", "LeftUpLeg", (0.0, -0.42, 0.0)),
    ("LeftFoot", "LeftLeg", (0.0, -0.40, 0.0)),
    ("LeftToeBase", "LeftFoot", (0.0, -0.07, 0.13)),
    ("RightUpLeg", "Hips", (-0.09, -0.05, 0.0)),
    ("RightLeg", "RightUpLeg", (0.0, -0.42, 0.0)),
    ("RightFoot", "RightLeg", (0.0, -0.40, 0.0)),
    ("RightToeBase", "RightFoot", (0.0, -0.07, 0.13)),
)

FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")

# Left-hand finger joints: offset of joint 1 from the hand (wrist), then of joints 2 and 3, metres.
_LEFT_FINGERS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "Thumb": ((0.025, -0.012, 0.030), (0.030, 0.0, 0.015), (0.028, 0.0, 0.008)),
    "Index": ((0.095, 0.0, 0.026), (0.038, 0.0, 0.0), (0.025, 0.0, 0.0)),
    "Middle": ((0.096, 0.0, 0.003), (0.042, 0.0, 0.0), (0.028, 0.0, 0.0)),
    "Ring": ((0.089, 0.0, -0.018), (0.038, 0.0, 0.0), (0.026, 0.0, 0.0)),
    "Pinky": ((0.080, -0.003, -0.036), (0.030, 0.0, 0.0), (0.020, 0.0, 0.0)),
}
_LEFT_FINGER_TIPS: dict[str, tuple[float, float, float]] = {
    "Thumb": (0.025, 0.0, 0.005),
    "Index": (0.022, 0.0, 0.0),
    "Middle": (0.024, 0.0, 0.0),
    "Ring": (0.022, 0.0, 0.0),
    "Pinky": (0.020, 0.0, 0.0),
}


def _mirror(v: tuple[float, float, float], side: str) -> tuple[float, float, float]:
    return v if side == "Left" else (-v[0], v[1], v[2])


HAND_JOINTS: tuple[tuple[str, str | None, tuple[float, float, float]], ...] = tuple(
    (f"{side}Hand{finger}{k + 1}", f"{side}Hand" if k == 0 else f"{side}Hand{finger}{k}", _mirror(off, side))
    for side in ("Left", "Right")
    for finger in FINGERS
    for k, off in enumerate(_LEFT_FINGERS[finger])
)

# Where a chain ends (BVH "End Site"), as an offset from the joint, in metres.
END_SITES: dict[str, tuple[float, float, float]] = {
    "Head": (0.0, 0.18, 0.0),
    "LeftHand": (0.18, 0.0, 0.0),
    "RightHand": (-0.18, 0.0, 0.0),
    "LeftToeBase": (0.0, 0.0, 0.08),
    "RightToeBase": (0.0, 0.0, 0.08),
}

# Finger chain ends (with hands on, the hands have children and no End Site of their own).
HAND_END_SITES: dict[str, tuple[float, float, float]] = {
    f"{side}Hand{finger}3": _mirror(tip, side)
    for side in ("Left", "Right")
    for finger, tip in _LEFT_FINGER_TIPS.items()
}

NAMES: tuple[str, ...] = tuple(j[0] for j in JOINTS)
HAND_NAMES: tuple[str, ...] = tuple(j[0] for j in HAND_JOINTS)
ALL_NAMES: tuple[str, ...] = NAMES + HAND_NAMES
# Over body and finger joints; a body joint's index is the same with hands on or off.
PARENTS: dict[str, str | None] = {name: parent for name, parent, _ in JOINTS + HAND_JOINTS}
INDEX: dict[str, int] = {name: i for i, name in enumerate(ALL_NAMES)}


def joints(hands: bool = False) -> tuple[tuple[str, str | None, tuple[float, float, float]], ...]:
    """(name, parent, offset) of the body's joints, followed by the finger joints when `hands`."""
    return JOINTS + HAND_JOINTS if hands else JOINTS


def names(hands: bool = False) -> tuple[str, ...]:
    """Joint names, body first, then the fingers when `hands`."""
    return ALL_NAMES if hands else NAMES


def has_hands(joint_count: int) -> bool:
    """Whether an array over `joint_count` joints includes the finger joints (else it is the body only)."""
    if joint_count not in (len(NAMES), len(ALL_NAMES)):
        raise ValueError(
            f"{joint_count} joints is neither the body ({len(NAMES)}) nor body and hands ({len(ALL_NAMES)})"
        )
    return joint_count == len(ALL_NAMES)


def end_sites(hands: bool = False) -> dict[str, tuple[float, float, float]]:
    """Where each chain without children ends, as an offset from its last joint, metres."""
    if not hands:
        return END_SITES
    body = {k: v for k, v in END_SITES.items() if k not in ("LeftHand", "RightHand")}
    return body | HAND_END_SITES


def offsets(scale: float = 1.0, hands: bool = False) -> np.ndarray:
    """Rest offsets from each joint's parent (root: from the origin), shape (J, 3), metres * scale."""
    return np.array([j[2] for j in joints(hands)], dtype=np.float64) * scale


def rest_positions(scale: float = 1.0, hands: bool = False) -> np.ndarray:
    """World positions of every joint in the T-pose rest, shape (J, 3)."""
    off = offsets(scale, hands)
    pos = np.zeros_like(off)
    for i, (_, parent, _) in enumerate(joints(hands)):
        pos[i] = off[i] + (pos[INDEX[parent]] if parent else 0.0)
    return pos


def children(name: str, hands: bool = False) -> list[str]:
    """The joints whose parent is `name`, in declaration order."""
    return [n for n, p, _ in joints(hands) if p == name]


def canonical_name(name: str) -> str:
    """A bone name without a Mixamo-style prefix ("mixamorig:LeftArm" -> "LeftArm")."""
    return name.split(":", 1)[1] if ":" in name else name
