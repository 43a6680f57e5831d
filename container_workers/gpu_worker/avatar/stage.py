"""TEXT_TO_AVATAR: the `avatar` stage, and its parametric backend (prompt -> distance-field humanoid -> rigged, textured GLB)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from chalicelib.contract.jobtypes import PROMPT_MAX_CHARS
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for
from container_workers.gpu_worker import generators, render
from container_workers.gpu_worker.avatar import body, prompt
from container_workers.gpu_worker.avatar.humanoid import Humanoid
from container_workers.gpu_worker.exchange import gltf


def build(
    spec: prompt.AvatarSpec, pose: str, target_triangles: int, texture_size: int, progress: ProgressFn
) -> tuple[gltf.Mesh, gltf.Skeleton, np.ndarray]:
    """The skinned, textured avatar mesh, its skeleton and the texture (RGB)."""
    humanoid = Humanoid(spec, pose)
    rigged = body.sculpt(humanoid, target_triangles, progress)
    progress(60, "painting")
    mesh, texture, _ = body.textured_mesh(humanoid, rigged, texture_size)
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
                "joints": len(bones.names),
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
