"""A humanoid's rigged body: sculpted from its distance field, skinned, unwrapped and painted into a glTF mesh."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh

from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar import isosurface, paint, skinning, uv_atlas
from container_workers.gpu_worker.avatar.humanoid import HAND_REACH, Humanoid
from container_workers.gpu_worker.exchange import gltf

_VOXEL = 0.009  # marching-cubes voxel for a 1.75 m avatar and the default budget
_VOXEL_RANGE = (0.0065, 0.013)
_MC_TRIANGLES = 75_000  # about what _VOXEL gives for a 1.75 m avatar
_OVERSAMPLE = 2.5  # marching cubes makes about this many times the budget before decimation
HAND_VOXEL = 0.0025  # metres (x scale): the hands' marching-cubes voxel
HAND_TRIANGLES = (500, 0.035)  # each hand's budget: at least this many, or this share of the avatar's
ColourFn = Callable[[np.ndarray], np.ndarray]


def voxel_size(height: float, target_triangles: int) -> float:
    """The marching-cubes voxel that yields about _OVERSAMPLE x the triangle budget for an avatar this tall."""
    voxel = _VOXEL * np.sqrt(_MC_TRIANGLES / (_OVERSAMPLE * target_triangles))
    return float(np.clip(voxel, *_VOXEL_RANGE) * height / 1.75)


@dataclass
class Body:
    """The sculpted, skinned rest-pose mesh and what painting needs from the distance field at its vertices."""

    vertices: np.ndarray  # (N, 3) rest pose (the humanoid's T or A pose)
    faces: np.ndarray  # (M, 3)
    normals: np.ndarray  # (N, 3)
    joints: np.ndarray  # (N, 4) uint8
    weights: np.ndarray  # (N, 4)
    bones: np.ndarray  # (N,) dominant joint
    attributes: (
        np.ndarray
    )  # (N, C): T-pose position, arm flag, occlusion, extras' margins (paint.colour_function's input)

    def moved(self, vertices: np.ndarray) -> Body:
        """The same body (skin, paint attributes) with its vertices moved; normals recomputed."""
        normals = trimesh.Trimesh(vertices, self.faces, process=False).vertex_normals
        return Body(vertices, self.faces, normals, self.joints, self.weights, self.bones, self.attributes)


def _shell(
    distance: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, voxel: float, target: int
) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = isosurface.extract(distance, lo, hi, voxel)
    vertices, faces = isosurface.decimate(vertices, faces, target)
    return isosurface.project(distance, vertices, 0.25 * voxel), faces


def sculpt(humanoid: Humanoid, target_triangles: int, progress: Callable[[float, str], None]) -> Body:
    """Mesh the humanoid's field to about `target_triangles`, skin it, and sample what the paint needs at its vertices.

    The hands are meshed on their own, finer (fingers are a few millimetres apart), each a closed shell that starts
    over the end of the body's forearm; the forearm's end stays on the forearm bone in both, so they move together.
    """
    progress(10, "sculpting")
    voxel = voxel_size(humanoid.spec.height, target_triangles)
    hand_budget = max(HAND_TRIANGLES[0], int(HAND_TRIANGLES[1] * target_triangles))
    shells = [_shell(humanoid.body_distance, *humanoid.bounds(), voxel, target_triangles - 2 * hand_budget)]
    reach = HAND_REACH * humanoid.scale
    for side in ("Left", "Right"):
        centre = humanoid.hand_centre(side)
        hand_voxel = min(voxel, HAND_VOXEL * humanoid.scale)
        shells.append(_shell(humanoid.hand_distance(side), centre - reach, centre + reach, hand_voxel, hand_budget))
    starts = np.cumsum([0] + [len(v) for v, _ in shells])
    vertices = np.concatenate([v for v, _ in shells])
    faces = np.concatenate([f + start for (_, f), start in zip(shells, starts)])
    normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    progress(45, "skinning")
    joints, weights, bones, rest = skinning.skin(humanoid, vertices, faces, np.arange(len(vertices)) >= starts[1])
    fields = humanoid.fields(vertices)
    hands = np.arange(len(vertices)) >= starts[1]
    ao = np.ones(len(vertices))  # hands: fingers would darken each other in blotches; wrists are open anyway
    ao[~hands] = paint.occlusion(humanoid.distance, vertices[~hands], normals[~hands], 0.025 * humanoid.scale)
    margins = [fields.layered - d for d in fields.extras]
    return Body(vertices, faces, normals, joints, weights, bones, np.column_stack([rest, ao] + margins))


def textured_mesh(
    humanoid: Humanoid,
    body: Body,
    texture_size: int,
    colour: ColourFn | None = None,
    extra: np.ndarray | None = None,
) -> tuple[gltf.Mesh, np.ndarray, np.ndarray]:
    """The skinned glTF mesh with a baked texture atlas (RGB), that texture, and each mesh vertex's body vertex.

    `colour` replaces the prompt's paint; it receives the paint attributes followed by the columns of `extra` (N, K).
    """
    charts, joint_chart = paint.charts(humanoid)
    rest = body.attributes[:, :3]
    source, uv_faces, chart_uv, chart_of = uv_atlas.unwrap(rest, body.faces, joint_chart[body.bones], charts)
    uvs = uv_atlas.pack(chart_uv, chart_of, texture_size)
    attributes = body.attributes if extra is None else np.column_stack([body.attributes, extra])
    extras = body.attributes.shape[1] - 5
    texture = uv_atlas.bake(
        texture_size, uvs, uv_faces, attributes[source], colour or paint.colour_function(humanoid, extras)
    )
    material = gltf.Material("avatar", texture_png=render.png_bytes(texture), roughness=0.75)
    mesh = gltf.Mesh(
        "Avatar",
        body.vertices[source],
        uv_faces,
        body.normals[source],
        uvs,
        body.joints[source],
        body.weights[source],
        material,
    )
    return mesh, texture, source
