"""TEXT_TO_AVATAR: the `avatar` stage, and its parametric backend (prompt -> distance-field humanoid -> rigged, textured GLB)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import trimesh

from chalicelib.contract.jobtypes import PROMPT_MAX_CHARS
from container_workers.common import skeleton
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for
from container_workers.gpu_worker import generators, render
from container_workers.gpu_worker.avatar import isosurface, paint, prompt, skinning, uv_atlas
from container_workers.gpu_worker.avatar.humanoid import Humanoid
from container_workers.gpu_worker.exchange import gltf

_VOXEL = 0.009  # marching-cubes voxel for a 1.75 m avatar and the default budget
_VOXEL_RANGE = (0.0065, 0.013)
_MC_TRIANGLES = 75_000  # about what _VOXEL gives for a 1.75 m avatar
_OVERSAMPLE = 2.5  # marching cubes makes about this many times the budget before decimation


def voxel_size(height: float, target_triangles: int) -> float:
    """The marching-cubes voxel that yields about _OVERSAMPLE x the triangle budget for an avatar this tall."""
    voxel = _VOXEL * np.sqrt(_MC_TRIANGLES / (_OVERSAMPLE * target_triangles))
    return float(np.clip(voxel, *_VOXEL_RANGE) * height / 1.75)


def build(
    spec: prompt.AvatarSpec, pose: str, target_triangles: int, texture_size: int, progress: ProgressFn
) -> tuple[gltf.Mesh, gltf.Skeleton, np.ndarray]:
    """The skinned, textured avatar mesh, its skeleton and the texture (RGB)."""
    humanoid = Humanoid(spec, pose)
    progress(10, "sculpting")
    voxel = voxel_size(spec.height, target_triangles)
    vertices, faces = isosurface.extract(humanoid.distance, *humanoid.bounds(), voxel)
    vertices, faces = isosurface.decimate(vertices, faces, target_triangles)
    vertices = isosurface.project(humanoid.distance, vertices, 0.25 * voxel)
    normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    progress(45, "skinning")
    joints, weights, bones, rest = skinning.skin(humanoid, vertices, faces)
    progress(60, "unwrapping")
    charts, joint_chart = paint.charts(humanoid)
    source, uv_faces, chart_uv, chart_of = uv_atlas.unwrap(rest[:, :3], faces, joint_chart[bones], charts)
    uvs = uv_atlas.pack(chart_uv, chart_of, texture_size)
    progress(70, "painting")
    fields = humanoid.fields(vertices)
    ao = paint.occlusion(humanoid.distance, vertices, normals, 0.025 * humanoid.scale)
    margins = [fields.layered - d for d in fields.extras]
    attributes = np.column_stack([rest, ao] + margins)[source]
    texture = uv_atlas.bake(texture_size, uvs, uv_faces, attributes, paint.colour_function(humanoid, len(margins)))
    material = gltf.Material("avatar", texture_png=render.png_bytes(texture), roughness=0.75)
    mesh = gltf.Mesh(
        "Avatar", vertices[source], uv_faces, normals[source], uvs, joints[source], weights[source], material
    )
    return mesh, humanoid.skeleton(), texture


class ParametricAvatarGenerator:
    """The classical TEXT_TO_AVATAR backend: a parametric humanoid on the shared skeleton, CPU only."""

    name = "parametric"

    def generate(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
        """Write avatar.glb (rigged) and thumbnail.png for params["prompt"] and params["seed"] (params already validated)."""
        started = time.monotonic()
        progress(2, "reading the prompt")
        spec = prompt.parse(params["prompt"], params["seed"])
        mesh, bones, texture = build(spec, params["pose"], params["targetTriangles"], params["textureSize"], progress)
        progress(85, "writing GLB")
        path = gltf.write_glb(workdir / "avatar.glb", [mesh], bones, name="TEXT_TO_AVATAR")
        progress(92, "rendering thumbnail")
        thumbnail = workdir / "thumbnail.png"
        thumbnail.write_bytes(
            render.png_bytes(
                render.shaded(mesh.positions, mesh.indices, mesh.normals, mesh.uvs, texture, yaw=20.0, pitch=5.0)
            )
        )
        progress(100, "done")
        return StageResult(
            outputs=[Output(path, "MODEL_3D", "glb"), Output(thumbnail, "IMAGE", "thumbnail")],
            metadata={
                "backend": self.name,
                "attributes": spec.describe(),
                "pose": params["pose"],
                "heightMetres": round(float(mesh.positions[:, 1].max() - mesh.positions[:, 1].min()), 3),
                "skeleton": "mixamo",
                "joints": len(skeleton.NAMES),
                "triangles": len(mesh.indices),
                "vertices": len(mesh.positions),
                "textureSize": params["textureSize"],
                "seconds": round(time.monotonic() - started, 2),
            },
        )


generators.register(generators.TEXT_TO_AVATAR, ParametricAvatarGenerator(), default=True)


def avatar_params(params: dict) -> dict:
    """TEXT_TO_AVATAR params: the contract's (seed, pose, targetTriangles, textureSize; defaults filled) and the prompt."""
    checked = params_for("avatar", params)
    text = checked.get("prompt")
    if not isinstance(text, str) or not text.strip() or len(text) > PROMPT_MAX_CHARS:
        raise BadInputError(
            "INVALID_PARAMS", f"prompt must be a non-empty text of at most {PROMPT_MAX_CHARS} characters."
        )
    return {**checked, "prompt": text.strip()}


def avatar(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """TEXT_TO_AVATAR stage: params {"prompt", ...} -> outputs glb (MODEL_3D, rigged) and thumbnail (IMAGE), by the selected backend."""
    return generators.run(generators.TEXT_TO_AVATAR, inputs, avatar_params(params), workdir, progress)
