"""The retarget stage: play a motion (BVH, animated GLB/FBX) on a rigged avatar, correcting rest pose and scale.

Bones are matched by name (bone_map). Each rig gets a "T-pose frame": per joint, the world rotation that puts its
rest bone into the shared skeleton's T-pose facing the shared direction (hips frame from the legs and spine, then a
swing per bone along its chain). A source joint's rotation away from its T-pose is applied to the target's T-posed
joint, so an A-pose rest, other bone rolls or another facing direction do not matter. The hips' travel is scaled by
the ratio of the rigs' leg lengths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from bpy_extras import anim_utils
from mathutils import Matrix
from scipy.spatial.transform import Rotation

from container_workers.blender_worker import bone_map, formats, scene, stats
from container_workers.common import skeleton
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult

AVATAR_FORMATS = ("glb", "gltf", "fbx", "blend", "usdz")
MOTION_FORMATS = ("bvh", "glb", "gltf", "fbx", "usdz")  # not .blend: opening one replaces the scene (the avatar)
MIN_MATCHED_JOINTS = 10
_LINEAR = 1  # Keyframe.interpolation enum index of "LINEAR"
_PRIMARY_CHILD = {"Hips": "Spine", "Spine2": "Neck"}  # the chain a branching joint points along


def _to_blender(v: np.ndarray) -> np.ndarray:
    """Shared-skeleton axes (+Y up, faces +Z) to Blender's (+Z up, faces -Y)."""
    return np.stack([v[..., 0], -v[..., 2], v[..., 1]], axis=-1)


_CANON = dict(zip(skeleton.NAMES, _to_blender(skeleton.rest_positions())))


def _rotation(m: np.ndarray) -> np.ndarray:
    """The rotation part of (a stack of) 3x3 or 4x4 matrices, with any scale divided out."""
    r = m[..., :3, :3]
    return r / np.linalg.norm(r, axis=-2, keepdims=True)


def _swing(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotation turning direction u into direction v."""
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    axis = np.cross(u, v)
    sin, cos = np.linalg.norm(axis), float(np.dot(u, v))
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        axis = np.cross(u, [1.0, 0.0, 0.0] if abs(u[0]) < 0.9 else [0.0, 1.0, 0.0])
        return Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis)).as_matrix()
    return Rotation.from_rotvec(axis / sin * np.arctan2(sin, cos)).as_matrix()


def _basis(heads: dict[str, np.ndarray]) -> np.ndarray | None:
    """Columns (left, back, up) of a rig from its hips, legs and spine, or None if they are not all there."""
    if not {"Hips", "Spine", "LeftUpLeg", "RightUpLeg"} <= heads.keys():
        return None
    x = heads["LeftUpLeg"] - heads["RightUpLeg"]
    x /= np.linalg.norm(x)
    up = heads["Spine"] - heads["Hips"]
    z = up - np.dot(up, x) * x
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z], axis=1)


def _direction_child(joint: str) -> str | None:
    kids = skeleton.children(joint)
    return _PRIMARY_CHILD.get(joint) or (kids[0] if len(kids) == 1 else None)


def _mapped_parent(joint: str, joints: dict[str, str]) -> str | None:
    parent = skeleton.PARENTS[joint]
    while parent is not None and parent not in joints:
        parent = skeleton.PARENTS[parent]
    return parent


@dataclass
class Rig:
    """An armature object seen through the shared skeleton."""

    obj: bpy.types.Object
    joints: dict[str, str]  # shared joint -> bone name
    heads: dict[str, np.ndarray]  # shared joint -> rest head, world
    facing: np.ndarray  # world -> shared (canonical) directions
    tpose: dict[str, np.ndarray]  # shared joint -> world rotation of its bone in the canonical T-pose
    leg: float  # rest leg length (thigh + shin), world units

    @classmethod
    def of(cls, obj: bpy.types.Object, joints: dict[str, str]) -> Rig:
        """Read an armature's rest pose and work out its T-pose frame (`joints`: shared joint -> bone, with Hips)."""
        world = np.array(obj.matrix_world)
        rest = {j: world @ np.array(obj.data.bones[b].matrix_local) for j, b in joints.items()}
        heads = {j: m[:3, 3] for j, m in rest.items()}
        basis = _basis(heads)
        facing = _basis(_CANON) @ basis.T if basis is not None else np.eye(3)
        turn, tpose = {}, {}
        for j in skeleton.NAMES:
            if j not in joints:
                continue
            parent = _mapped_parent(j, joints)
            above = turn[parent] if parent else facing
            child = _direction_child(j)
            if child in joints:
                turn[j] = _swing(above @ (heads[child] - heads[j]), _CANON[child] - _CANON[j]) @ above
            else:
                turn[j] = above
            tpose[j] = turn[j] @ _rotation(rest[j])
        return cls(obj, joints, heads, facing, tpose, _leg_length(heads))


def _leg_length(heads: dict[str, np.ndarray]) -> float:
    """Mean thigh + shin length over the legs found, else the hips' height above the lowest joint."""
    legs = [
        np.linalg.norm(heads[f"{s}UpLeg"] - heads[f"{s}Leg"]) + np.linalg.norm(heads[f"{s}Leg"] - heads[f"{s}Foot"])
        for s in ("Left", "Right")
        if {f"{s}UpLeg", f"{s}Leg", f"{s}Foot"} <= heads.keys()
    ]
    if legs:
        return float(np.mean(legs))
    return float(heads["Hips"][2] - min(h[2] for h in heads.values())) or 1.0


def _pick_rig(objects, role: str) -> Rig:
    """The armature among `objects` that matches the most shared-skeleton joints."""
    candidates = [(bone_map.match([b.name for b in o.data.bones]), o) for o in objects if o.type == "ARMATURE"]
    if not candidates:
        raise BadInputError("NO_SKELETON", f"the {role} has no armature")
    joints, obj = max(candidates, key=lambda c: len(c[0]))
    if "Hips" not in joints or len(joints) < MIN_MATCHED_JOINTS:
        raise BadInputError(
            "SKELETON_MISMATCH",
            f"the {role}'s bones match only {len(joints)} joints of the shared (Mixamo-named) skeleton "
            f"({', '.join(sorted(joints)) or 'none'}); need Hips and at least {MIN_MATCHED_JOINTS}",
        )
    return Rig.of(obj, joints)


def _sample(rig: Rig, frames: np.ndarray) -> dict[str, np.ndarray]:
    """World matrices (F, 4, 4) of the rig's matched bones at each frame."""
    out = {j: np.empty((len(frames), 4, 4)) for j in rig.joints}
    for i, f in enumerate(frames):
        bpy.context.scene.frame_set(int(f))
        world = np.array(rig.obj.matrix_world)
        for j, b in rig.joints.items():
            out[j][i] = world @ np.array(rig.obj.pose.bones[b].matrix)
    return out


def _solve(src: Rig, dst: Rig, posed: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    """Pose-space matrices (F, 4, 4) (matrix_basis) for the target's matched bones, and the scale used."""
    scale = dst.leg / src.leg
    into_dst = dst.facing.T  # shared directions -> target world
    wanted = {}
    for j in dst.joints.keys() & src.joints.keys():
        delta = src.facing @ _rotation(posed[j]) @ src.tpose[j].T  # rotation away from the T-pose, shared frame
        wanted[j] = into_dst @ delta @ dst.tpose[j]
    travel = (posed["Hips"][:, :3, 3] - src.heads["Hips"]) @ src.facing.T * scale
    hips_world = dst.heads["Hips"] + travel @ into_dst.T

    world = np.array(dst.obj.matrix_world)
    to_armature = np.linalg.inv(world)
    obj_rot = _rotation(world)
    n = len(hips_world)
    by_bone = {b: j for j, b in dst.joints.items()}
    posed_dst, basis = {}, {}

    def visit(bone: bpy.types.Bone) -> None:
        """Pose `bone` (parents are posed first) and recurse into its children."""
        rest = np.array(bone.matrix_local)
        if bone.parent:
            base = posed_dst[bone.parent.name] @ (np.linalg.inv(np.array(bone.parent.matrix_local)) @ rest)
        else:
            base = np.broadcast_to(rest, (n, 4, 4)).copy()
        joint = by_bone.get(bone.name)
        if joint in wanted:
            m = base.copy()
            m[:, :3, :3] = obj_rot.T @ wanted[joint]
            if joint == "Hips":
                m[:, :3, 3] = (np.c_[hips_world, np.ones(n)] @ to_armature.T)[:, :3]
            basis[bone.name] = np.linalg.inv(base) @ m
            base = m
        posed_dst[bone.name] = base
        for child in bone.children:
            visit(child)

    for root in (b for b in dst.obj.data.bones if b.parent is None):
        visit(root)
    return basis, scale


def _quaternions(m: np.ndarray) -> np.ndarray:
    """(F, 4) Blender quaternions (w, x, y, z) of rotation matrices, signs kept continuous between frames."""
    xyzw = Rotation.from_matrix(_rotation(m)).as_quat()
    q = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def _write_action(rig: Rig, frames: np.ndarray, basis: dict[str, np.ndarray]) -> bpy.types.Action:
    """Key the matched bones (rotation; the hips also location) on a new action of the rig."""
    obj = rig.obj
    obj.animation_data_clear()
    for pb in obj.pose.bones:
        pb.matrix_basis = Matrix.Identity(4)
    action = bpy.data.actions.new("Retargeted")
    slot = action.slots.new(id_type="OBJECT", name=obj.name)
    obj.animation_data_create()
    obj.animation_data.action = action
    obj.animation_data.action_slot = slot
    bag = anim_utils.action_ensure_channelbag_for_slot(action, slot)
    curves = {}
    for bone, m in basis.items():
        obj.pose.bones[bone].rotation_mode = "QUATERNION"
        for i, values in enumerate(_quaternions(m).T):
            curves[(f'pose.bones["{bone}"].rotation_quaternion', i, bone)] = values
        if bone == rig.joints["Hips"]:
            for i, values in enumerate(m[:, :3, 3].T):
                curves[(f'pose.bones["{bone}"].location', i, bone)] = values
    for (path, index, group), values in curves.items():
        fc = bag.fcurves.new(path, index=index, group_name=group)
        fc.keyframe_points.add(len(frames))
        fc.keyframe_points.foreach_set("co", np.column_stack([frames, values]).astype(np.float32).ravel())
        fc.keyframe_points.foreach_set("interpolation", np.full(len(frames), _LINEAR, dtype=np.int32))
        fc.update()
    return action


def retarget(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Play inputs["motion"] on inputs["avatar"]; outputs roles "glb" and "fbx", kind ANIMATION."""
    progress(5, "reading avatar")
    scene.reset()
    avatar_src = formats.load_upload(inputs["avatar"], workdir, AVATAR_FORMATS, role="avatar")
    avatar_objects = set(bpy.context.scene.objects)
    dst = _pick_rig(avatar_objects, "avatar")
    if not any(m.type == "ARMATURE" and m.object == dst.obj for o in stats.mesh_objects() for m in o.modifiers):
        raise BadInputError("NOT_RIGGED", "the avatar has no mesh skinned to its armature")
    progress(15, "reading motion")
    motion_src = formats.load_upload(inputs["motion"], workdir, MOTION_FORMATS, role="motion")
    motion_objects = set(bpy.context.scene.objects) - avatar_objects
    src = _pick_rig(motion_objects, "motion")
    span = stats.frame_range([src.obj])
    if span is None or span[1] <= span[0]:
        raise BadInputError("NO_MOTION", "the motion file has no animation on its skeleton")
    frames = np.arange(span[0], span[1] + 1, dtype=np.float64)
    deforms = [m for o in stats.mesh_objects() for m in o.modifiers if m.type == "ARMATURE" and m.show_viewport]
    for m in deforms:  # sampling needs only bones; skip skinning every frame
        m.show_viewport = False
    progress(25, f"sampling {len(frames)} frames")
    posed = _sample(src, frames)
    for m in deforms:
        m.show_viewport = True
    progress(55, "solving the avatar's pose")
    basis, scale = _solve(src, dst, posed)
    for obj in motion_objects:
        bpy.data.objects.remove(obj)
    action = _write_action(dst, frames, basis)
    for other in [a for a in bpy.data.actions if a != action]:
        bpy.data.actions.remove(other)
    bpy.data.orphans_purge(do_recursive=True)
    progress(70, "writing GLB and FBX")
    outputs = [Output(formats.save(fmt, workdir / "animated"), "ANIMATION", fmt) for fmt in ("glb", "fbx")]
    content = stats.describe()
    progress(100, "done")
    return StageResult(
        outputs,
        metadata={
            "avatarFormat": avatar_src.format,
            "motionFormat": motion_src.format,
            "matchedJoints": sorted(dst.joints.keys() & src.joints.keys()),
            "unmatchedJoints": sorted(set(skeleton.NAMES) - (dst.joints.keys() & src.joints.keys())),
            "scale": round(scale, 4),
            "frames": len(frames),
            "fps": round(bpy.context.scene.render.fps / bpy.context.scene.render.fps_base, 3),
            **{k: v for k, v in content.as_dict().items() if k in ("triangles", "bones", "meshes")},
            "missingTextures": avatar_src.missing_textures,
            "bytes": {o.role: o.path.stat().st_size for o in outputs},
        },
    )
