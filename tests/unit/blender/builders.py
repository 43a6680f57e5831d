"""Test models made in code: a textured trimesh sphere, a rigged animated mannequin on the shared skeleton, a BVH."""

from __future__ import annotations

import math
import tempfile
import zipfile
from pathlib import Path

import bpy
import numpy as np
import trimesh
from PIL import Image

from container_workers.blender_worker import mannequin
from container_workers.common import skeleton as sk

FRAMES = 12
FPS = 30


def to_blender(v) -> tuple[float, float, float]:
    """glTF axes (+Y up, faces +Z) to Blender's (+Z up, faces -Y)."""
    return (float(v[0]), -float(v[2]), float(v[1]))


def textured_sphere(subdivisions: int = 2, texture_px: int = 16) -> bpy.types.Object:
    """A trimesh icosphere with a UV map, vertex colours and a material with a small generated texture."""
    ico = trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.5)
    mesh = bpy.data.meshes.new("Sphere")
    mesh.from_pydata(ico.vertices.tolist(), [], ico.faces.tolist())
    uv = mesh.uv_layers.new(name="UVMap")
    corners = ico.vertices[ico.faces.reshape(-1)]
    u = 0.5 + np.arctan2(corners[:, 1], corners[:, 0]) / (2 * np.pi)
    v = 0.5 + np.arcsin(np.clip(corners[:, 2] / 0.5, -1, 1)) / np.pi
    uv.data.foreach_set("uv", np.stack([u, v], axis=1).ravel())
    colors = mesh.color_attributes.new("Color", "BYTE_COLOR", "POINT")
    rgba = np.ones((len(ico.vertices), 4))
    rgba[:, :3] = (ico.vertices + 0.5).clip(0, 1)
    colors.data.foreach_set("color", rgba.ravel())
    png = Path(tempfile.mkdtemp()) / "checker.png"
    checks = (np.indices((texture_px, texture_px)).sum(axis=0) % 2 * 200 + 40).astype(np.uint8)
    Image.fromarray(np.stack([checks, checks[::-1], np.full_like(checks, 128)], axis=-1)).save(png)
    image = bpy.data.images.load(str(png))
    image.pack()
    mat = bpy.data.materials.new("Painted")
    tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
    tex.image = image
    mat.node_tree.links.new(tex.outputs["Color"], mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
    mesh.materials.append(mat)
    obj = bpy.data.objects.new("Sphere", mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def wavy_grid(n: int) -> trimesh.Trimesh:
    """A height field of 2 (n-1)^2 triangles over a unit square (n=709 gives just over a million)."""
    x, z = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    y = 0.05 * np.sin(12 * x) * np.cos(9 * z)
    i = np.arange(n * n).reshape(n, n)
    a, b, c, d = i[:-1, :-1].ravel(), i[:-1, 1:].ravel(), i[1:, :-1].ravel(), i[1:, 1:].ravel()
    faces = np.vstack([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    return trimesh.Trimesh(np.stack([x.ravel(), y.ravel(), z.ravel()], 1), faces, process=False)


def armature(a_pose: bool = False, prefix: str = "", name: str = "Avatar", scale: float = 1.0) -> bpy.types.Object:
    """An armature of the shared skeleton (sized by `scale`) in T-pose, or an A-pose rest with arms 45 degrees down."""
    rest = sk.rest_positions(scale)
    heads = {n: np.array(to_blender(rest[sk.INDEX[n]])) for n in sk.NAMES}
    tails = {}
    for n in sk.NAMES:
        kids = sk.children(n)
        tails[n] = heads[kids[0]] if kids else heads[n] + np.array(to_blender(sk.END_SITES[n])) * scale
    if a_pose:
        for side, sign in (("Left", 1), ("Right", -1)):
            pivot = heads[f"{side}Arm"].copy()
            a = math.radians(45) * sign
            rot = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
            for n in (f"{side}Arm", f"{side}ForeArm", f"{side}Hand"):
                heads[n] = pivot + rot @ (heads[n] - pivot)
                tails[n] = pivot + rot @ (tails[n] - pivot)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for n in sk.NAMES:
        eb = data.edit_bones.new(prefix + n)
        eb.head, eb.tail = heads[n], tails[n]
        parent = sk.PARENTS[n]
        if parent:
            eb.parent = data.edit_bones[prefix + parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


def animate(arm: bpy.types.Object, frames: int = FRAMES) -> None:
    """Key a simple walk-like motion: hips bob and travel, arms and legs swing."""
    bpy.context.scene.render.fps = FPS
    prefix = arm.data.bones[0].name[: -len("Hips")]
    for f in range(frames):
        t = 2 * math.pi * f / frames
        for bone, axis, amp in (
            ("LeftUpLeg", "X", 0.5),
            ("RightUpLeg", "X", -0.5),
            ("LeftArm", "Y", 0.6),
            ("RightArm", "Y", -0.6),
        ):
            pb = arm.pose.bones[prefix + bone]
            pb.rotation_mode = "XYZ"
            pb.rotation_euler = [amp * math.sin(t) if a == axis else 0.0 for a in "XYZ"]
            pb.keyframe_insert("rotation_euler", frame=f + 1)
        hips = arm.pose.bones[prefix + "Hips"]
        hips.location = (0.0, 0.05 * math.sin(2 * t), 0.3 * f / frames)
        hips.keyframe_insert("location", frame=f + 1)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, frames


def avatar(a_pose: bool = False, animated: bool = True, prefix: str = "", scale: float = 1.0) -> bpy.types.Object:
    """A rigged mannequin on the shared skeleton (optionally A-pose rest, animated, name-prefixed, resized)."""
    arm = armature(a_pose=a_pose, prefix=prefix, scale=scale)
    mannequin.build(arm)
    if animated:
        animate(arm)
    return arm


def export_raw(fmt: str, path: Path) -> Path:
    """Write the current scene with Blender's own exporters at their defaults (independent of the code under test)."""
    path = path.with_suffix("." + fmt)
    animated = any(o.animation_data for o in bpy.context.scene.objects)
    if fmt in ("glb", "gltf"):
        bpy.context.preferences.addons["io_scene_gltf2"].preferences.allow_embedded_format = True
        bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB" if fmt == "glb" else "GLTF_EMBEDDED")
    elif fmt == "fbx":
        bpy.ops.export_scene.fbx(
            filepath=str(path),
            add_leaf_bones=False,
            path_mode="COPY",
            embed_textures=True,
            bake_anim_use_all_actions=False,
            bake_anim_use_nla_strips=False,
        )
    elif fmt == "obj":  # OBJ + MTL + texture files: uploaded as one .zip
        folder = path.parent / f"{path.stem}_obj"
        folder.mkdir(exist_ok=True)
        for img in bpy.data.images:
            img.filepath_raw = str(folder / f"{Path(img.name).stem}.png")
            img.save()
            img.unpack(method="REMOVE")
        bpy.ops.wm.obj_export(filepath=str(folder / path.name), path_mode="RELATIVE", export_colors=True)
        path = path.with_suffix(".zip")
        with zipfile.ZipFile(path, "w") as zf:
            for f in folder.iterdir():
                zf.write(f, f.name)
    elif fmt == "stl":
        bpy.ops.wm.stl_export(filepath=str(path))
    elif fmt == "ply":
        bpy.ops.wm.ply_export(filepath=str(path), export_colors="SRGB")
    elif fmt == "usdz":
        bpy.ops.wm.usd_export(filepath=str(path), export_animation=animated)
    elif fmt == "blend":
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


def write_bvh(path: Path, frames: int = FRAMES, fps: int = FPS) -> Path:
    """A BVH of the shared skeleton (centimetres, ZXY channels) with arms waving, legs swinging and the hips moving."""
    off = sk.offsets(sk.BVH_UNITS_PER_METRE)
    lines = ["HIERARCHY"]

    def emit(name: str, depth: int) -> None:
        """Write a joint's HIERARCHY block and its children's."""
        ind = "\t" * depth
        root = sk.PARENTS[name] is None
        o = off[sk.INDEX[name]]
        lines.extend(
            [f"{ind}{'ROOT' if root else 'JOINT'} {name}", ind + "{", f"{ind}\tOFFSET {o[0]:.4f} {o[1]:.4f} {o[2]:.4f}"]
        )
        lines.append(
            f"{ind}\tCHANNELS "
            + ("6 Xposition Yposition Zposition " if root else "3 ")
            + "Zrotation Xrotation Yrotation"
        )
        kids = sk.children(name)
        for child in kids:
            emit(child, depth + 1)
        if not kids:
            e = np.array(sk.END_SITES[name]) * sk.BVH_UNITS_PER_METRE
            lines.extend(
                [f"{ind}\tEnd Site", ind + "\t{", f"{ind}\t\tOFFSET {e[0]:.4f} {e[1]:.4f} {e[2]:.4f}", ind + "\t}"]
            )
        lines.append(ind + "}")

    emit("Hips", 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1 / fps:.6f}"]
    swing = {
        "LeftArm": (0, -60),
        "RightArm": (0, 60),
        "LeftUpLeg": (1, 30),
        "RightUpLeg": (1, -30),
        "LeftForeArm": (2, 45),
        "Spine1": (2, 20),
    }
    for f in range(frames):
        t = 2 * math.pi * f / frames
        values = [0.0, 95.0 + 2 * math.sin(2 * t), 50.0 * f / frames]
        for name in sk.NAMES:
            zxy = [0.0, 0.0, 0.0]
            if name in swing:
                zxy[swing[name][0]] = swing[name][1] * math.sin(t)
            values += zxy
        lines.append(" ".join(f"{v:.4f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def _euler_zxy(z: float, x: float, y: float) -> np.ndarray:
    """BVH's local rotation for channels "Zrotation Xrotation Yrotation" (degrees): Rz @ Rx @ Ry."""
    cz, sz, cx, sx, cy, sy = (f(math.radians(a)) for a in (z, x, y) for f in (math.cos, math.sin))
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    return rz @ rx @ ry


def bvh_joint_positions(path: Path) -> np.ndarray:
    """Forward kinematics of a BVH written by write_bvh: joint world positions (frames, joints, 3) in Blender metres."""
    lines = path.read_text().splitlines()
    motion = [list(map(float, line.split())) for line in lines[lines.index("MOTION") + 3 :] if line.strip()]
    off = sk.offsets()
    out = np.zeros((len(motion), len(sk.NAMES), 3))
    for f, values in enumerate(motion):
        world_rot, pos = {}, {}
        for i, name in enumerate(sk.NAMES):
            parent = sk.PARENTS[name]
            rot = _euler_zxy(*values[3 + 3 * i : 6 + 3 * i])
            if parent is None:
                pos[name] = np.array(values[:3]) / sk.BVH_UNITS_PER_METRE
                world_rot[name] = rot
            else:
                pos[name] = pos[parent] + world_rot[parent] @ off[i]
                world_rot[name] = world_rot[parent] @ rot
            out[f, i] = to_blender(pos[name])
    return out
