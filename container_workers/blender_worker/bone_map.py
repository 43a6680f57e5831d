"""Matching an armature's bone names to the shared skeleton's (Mixamo names, with or without a prefix, and common aliases)."""

from __future__ import annotations

import re

from container_workers.common import skeleton

_PREFIX = re.compile(r"^(?:mixamorig\d*|armature|skeleton|rig|def)[:_|.\-]", re.IGNORECASE)

_SIDED_ALIASES = {  # alias (lower case, no side) -> shared-skeleton name without side
    "shoulder": "Shoulder",
    "clavicle": "Shoulder",
    "arm": "Arm",
    "upperarm": "Arm",
    "forearm": "ForeArm",
    "lowerarm": "ForeArm",
    "hand": "Hand",
    "wrist": "Hand",
    "upleg": "UpLeg",
    "upperleg": "UpLeg",
    "thigh": "UpLeg",
    "leg": "Leg",
    "lowerleg": "Leg",
    "calf": "Leg",
    "shin": "Leg",
    "foot": "Foot",
    "ankle": "Foot",
    "toebase": "ToeBase",
    "toes": "ToeBase",
    "toe": "ToeBase",
    "ball": "ToeBase",
}
_CENTRE_ALIASES = {
    "hips": "Hips",
    "pelvis": "Hips",
    "spine": "Spine",
    "spine1": "Spine1",
    "chest": "Spine1",
    "spine2": "Spine2",
    "upperchest": "Spine2",
    "neck": "Neck",
    "head": "Head",
}
_SIDES = (("left", "Left"), ("right", "Right"), ("l", "Left"), ("r", "Right"))

MAPPING: dict[str, str] = {
    **_CENTRE_ALIASES,
    **{f"{side}{alias}": f"{full}{name}" for alias, name in _SIDED_ALIASES.items() for side, full in _SIDES},
    **{f"{alias}{side}": f"{full}{name}" for alias, name in _SIDED_ALIASES.items() for side, full in _SIDES},
}
"""Normalised bone name -> shared-skeleton joint. Normalised: prefix removed, lower case, no separators."""


def shared_name(bone: str) -> str | None:
    """The shared-skeleton joint a bone name stands for ("mixamorig:LeftArm", "upperarm_l" -> "LeftArm"), or None."""
    key = re.sub(r"[\s_.\-:|]", "", _PREFIX.sub("", bone)).lower()
    name = MAPPING.get(key)
    return name if name in skeleton.INDEX else None


def match(bone_names: list[str]) -> dict[str, str]:
    """Shared-skeleton joint -> bone name for every joint found (the first bone wins when two claim one joint)."""
    found: dict[str, str] = {}
    for bone in bone_names:
        joint = shared_name(bone)
        if joint and joint not in found:
            found[joint] = bone
    return found
