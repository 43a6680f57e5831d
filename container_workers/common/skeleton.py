"""The one humanoid skeleton shared by motion capture, avatars and retargeting (Mixamo bone names).

Conventions (glTF's): metres, +Y up, the character faces +Z, its left hand is on +X.
Rest pose is a T-pose in which every joint's local rotation is the identity, so a joint's rest
transform is only the translation `offset` from its parent. BVH files use centimetres.
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

# Where a chain ends (BVH "End Site"), as an offset from the joint, in metres.
END_SITES: dict[str, tuple[float, float, float]] = {
    "Head": (0.0, 0.18, 0.0),
    "LeftHand": (0.18, 0.0, 0.0),
    "RightHand": (-0.18, 0.0, 0.0),
    "LeftToeBase": (0.0, 0.0, 0.08),
    "RightToeBase": (0.0, 0.0, 0.08),
}

NAMES: tuple[str, ...] = tuple(j[0] for j in JOINTS)
PARENTS: dict[str, str | None] = {name: parent for name, parent, _ in JOINTS}
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}


def offsets(scale: float = 1.0) -> np.ndarray:
    """Rest offsets from each joint's parent (root: from the origin), shape (J, 3), metres * scale."""
    return np.array([j[2] for j in JOINTS], dtype=np.float64) * scale


def rest_positions(scale: float = 1.0) -> np.ndarray:
    """World positions of every joint in the T-pose rest, shape (J, 3)."""
    off = offsets(scale)
    pos = np.zeros_like(off)
    for i, (_, parent, _) in enumerate(JOINTS):
        pos[i] = off[i] + (pos[INDEX[parent]] if parent else 0.0)
    return pos


def children(name: str) -> list[str]:
    """The joints whose parent is `name`, in declaration order."""
    return [n for n, p, _ in JOINTS if p == name]


def canonical_name(name: str) -> str:
    """A bone name without a Mixamo-style prefix ("mixamorig:LeftArm" -> "LeftArm")."""
    return name.split(":", 1)[1] if ":" in name else name
