"""What the current scene holds: triangles, bones, frames, materials, and the features a format must keep."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from bpy_extras import anim_utils


@dataclass(frozen=True)
class SceneStats:
    """Counts and features of the scene (features: materials, textures, uv, colors, skeleton, animation, morphs)."""

    meshes: int
    triangles: int
    vertices: int
    bones: int
    frames: int
    materials: int
    textures: int
    features: frozenset[str]

    def as_dict(self) -> dict:
        """JSON-friendly form for stage metadata."""
        d = dict(self.__dict__)
        d["features"] = sorted(self.features)
        return d


def mesh_objects() -> list[bpy.types.Object]:
    """The scene's mesh objects."""
    return [o for o in bpy.context.scene.objects if o.type == "MESH"]


def triangle_count(mesh: bpy.types.Mesh) -> int:
    """Triangles in a mesh once its polygons are triangulated."""
    return len(mesh.loops) - 2 * len(mesh.polygons)


def _channelbags(owners=None):
    """The F-curve channelbags of the given datablocks (default: every object and shape key set in the scene)."""
    if owners is None:
        owners = [*bpy.context.scene.objects, *(o.data.shape_keys for o in mesh_objects() if o.data.shape_keys)]
    for owner in owners:
        ad = owner.animation_data
        if ad and ad.action:
            bag = anim_utils.animdata_get_channelbag_for_assigned_slot(ad)
            if bag is not None:
                yield bag


def frame_range(owners=None) -> tuple[int, int] | None:
    """First and last keyed frame of the assigned actions (of `owners`, default the whole scene), or None."""
    keys = []
    for bag in _channelbags(owners):
        for fc in bag.fcurves:
            co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
            fc.keyframe_points.foreach_get("co", co)
            keys.append(co[0::2])
    if not keys or not sum(k.size for k in keys):
        return None
    frames = np.concatenate(keys)
    return int(np.floor(frames.min() + 1e-3)), int(np.ceil(frames.max() - 1e-3))


def _images(materials) -> set:
    return {
        node.image
        for mat in materials
        if mat.node_tree
        for node in mat.node_tree.nodes
        if node.type == "TEX_IMAGE" and node.image is not None
    }


def describe() -> SceneStats:
    """Count what the scene holds."""
    meshes = mesh_objects()
    armatures = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    materials = {slot.material for o in meshes for slot in o.material_slots if slot.material}
    images = _images(materials)
    span = frame_range()
    frames = span[1] - span[0] + 1 if span else 0
    features = {
        "materials": bool(materials),
        "textures": bool(images),
        "uv": any(o.data.uv_layers for o in meshes),
        "colors": any(o.data.color_attributes for o in meshes),
        "skeleton": bool(armatures),
        "animation": frames > 1,
        "morphs": any(o.data.shape_keys and len(o.data.shape_keys.key_blocks) > 1 for o in meshes),
    }
    return SceneStats(
        meshes=len(meshes),
        triangles=sum(triangle_count(o.data) for o in meshes),
        vertices=sum(len(o.data.vertices) for o in meshes),
        bones=sum(len(a.data.bones) for a in armatures),
        frames=frames,
        materials=len(materials),
        textures=len(images),
        features=frozenset(k for k, v in features.items() if v),
    )
