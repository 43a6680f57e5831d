"""A simple mannequin for a bare armature: a capsule-like ellipsoid per limb, each rigidly skinned to its bone.

The feet have flat soles 1 cm under their lowest joint, where the mocap stage puts the floor, so an animated
mannequin stands on the floor rather than in it. The mesh is not parented to the armature (glTF wants skinned
meshes at the root; the Armature modifier moves it), which keeps GLB exports free of validator warnings.
"""

from __future__ import annotations

import bpy
import numpy as np

from container_workers.common.skeleton import canonical_name

_SEGMENTS, _RINGS = 12, 6
_SIDED = {
    "Shoulder": 0.05,
    "Arm": 0.05,
    "ForeArm": 0.04,
    "Hand": 0.04,
    "UpLeg": 0.075,
    "Leg": 0.055,
    "Foot": 0.045,
    "ToeBase": 0.035,
}
SOLE_BELOW_JOINTS = 0.01  # metres: the sole is this far under the lowest foot joint (the mocap skeleton's floor)
RADIUS = {
    "Hips": 0.11,
    "Spine": 0.11,
    "Spine1": 0.12,
    "Spine2": 0.12,
    "Neck": 0.045,
    "Head": 0.1,
    **{side + part: r for part, r in _SIDED.items() for side in ("Left", "Right")},
}
"""Limb radius in metres per bone of the shared skeleton; fingers get FINGER_RADIUS, other bones one from their length."""
FINGER_RADIUS = 0.009


def _unit_sphere() -> tuple[np.ndarray, np.ndarray]:
    """A UV sphere of radius 1 along +Z: vertices (V, 3) and triangles (T, 3)."""
    theta = np.linspace(0, np.pi, _RINGS + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, _SEGMENTS, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    ring = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1).reshape(-1, 3)
    verts = np.vstack([[0, 0, 1], ring, [0, 0, -1]])
    tris = []
    last = len(verts) - 1
    for s in range(_SEGMENTS):
        n = (s + 1) % _SEGMENTS
        tris.append((0, 1 + s, 1 + n))
        for r in range(_RINGS - 2):
            a, b = 1 + r * _SEGMENTS + s, 1 + r * _SEGMENTS + n
            tris += [(a, a + _SEGMENTS, b + _SEGMENTS), (a, b + _SEGMENTS, b)]
        base = 1 + (_RINGS - 2) * _SEGMENTS
        tris.append((last, base + n, base + s))
    return verts, np.array(tris)


def _capsule(head: np.ndarray, tail: np.ndarray, radius: float, sphere: np.ndarray) -> np.ndarray:
    """The unit sphere stretched into an ellipsoid that covers the segment head..tail."""
    axis = tail - head
    length = float(np.linalg.norm(axis))
    z = axis / length
    x = np.cross(z, [0.0, 0.0, 1.0] if abs(z[2]) < 0.9 else [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    scaled = sphere * [radius, radius, length / 2 + radius * 0.5]
    return (head + tail) / 2 + scaled @ np.stack([x, y, z])


def _segments(armature: bpy.types.Armature) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(bone, start, end) in armature space: from each bone to each child, or along the bone for a leaf."""
    segs = []
    for bone in armature.bones:
        head = np.array(bone.head_local)
        ends = [np.array(c.head_local) for c in bone.children] or [np.array(bone.tail_local)]
        segs += [(bone.name, head, end) for end in ends if np.linalg.norm(end - head) > 1e-4]
    return segs


def _is_foot(bone: str) -> bool:
    return canonical_name(bone).endswith(("Foot", "ToeBase"))


def _sole_height(segments: list[tuple[str, np.ndarray, np.ndarray]]) -> float | None:
    """Armature-space Z of the soles: just under the lowest foot joint (None without feet)."""
    ends = [p[2] for bone, head, end in segments if _is_foot(bone) for p in (head, end)]
    return min(ends) - SOLE_BELOW_JOINTS if ends else None


def build(armature_obj: bpy.types.Object, name: str = "Mannequin") -> bpy.types.Object:
    """Add a mannequin mesh skinned to `armature_obj` (in its rest pose) and return it."""
    sphere, sphere_tris = _unit_sphere()
    verts, tris, groups = [], [], {}
    segments = _segments(armature_obj.data)
    sole = _sole_height(segments)
    for bone, head, end in segments:
        length = float(np.linalg.norm(end - head))
        canonical = canonical_name(bone)
        if canonical in RADIUS:
            radius = RADIUS[canonical]
        elif canonical.startswith(("LeftHand", "RightHand")):  # LeftHandIndex1...: a finger bone
            radius = FINGER_RADIUS
        else:
            radius = float(np.clip(0.22 * length, 0.03, 0.065))
        start = sum(len(v) for v in verts)
        capsule = _capsule(head, end, radius, sphere)
        if sole is not None and _is_foot(bone):
            capsule[:, 2] = np.maximum(capsule[:, 2], sole)  # a flat sole
        verts.append(capsule)
        tris.append(sphere_tris + start)
        groups.setdefault(bone, []).extend(range(start, start + len(sphere)))
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.vstack(verts).tolist(), [], np.vstack(tris).tolist())
    mesh.shade_smooth()
    material = bpy.data.materials.new(f"{name}Material")
    material.diffuse_color = (0.55, 0.6, 0.7, 1.0)
    material.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.55, 0.6, 0.7, 1.0)
    mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    armature_obj.users_collection[0].objects.link(obj)
    obj.matrix_world = armature_obj.matrix_world  # the rest pose's vertices are in armature space
    for bone, indices in groups.items():
        obj.vertex_groups.new(name=bone).add(indices, 1.0, "REPLACE")
    obj.modifiers.new("Armature", "ARMATURE").object = armature_obj
    return obj
