"""A humanoid's rigged body: sculpted from its distance field, skinned, unwrapped and painted into a glTF mesh."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.spatial
import trimesh

from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar import isosurface, paint, skinning, uv_atlas
from container_workers.gpu_worker.avatar.humanoid import Humanoid
from container_workers.gpu_worker.exchange import gltf

_VOXEL = 0.009  # marching-cubes voxel for a 1.75 m avatar and the default budget
_VOXEL_RANGE = (0.0065, 0.013)
_MC_TRIANGLES = 75_000  # about what _VOXEL gives for a 1.75 m avatar
_OVERSAMPLE = 2.5  # marching cubes makes about this many times the budget before decimation
MIN_REGION_TRIANGLES = 500  # a detail region's mesh has at least this many triangles
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
        normals = vertex_normals(vertices, self.faces, self.normals)
        return Body(vertices, self.faces, normals, self.joints, self.weights, self.bones, self.attributes)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals; where a fold makes them cancel out, the `fallback` normal (N, 3) instead."""
    normals = np.array(trimesh.Trimesh(vertices, faces, process=False).vertex_normals)
    lost = ~(np.linalg.norm(normals, axis=1) > 0.5)
    normals[lost] = fallback[lost]
    return normals


def field_normals(distance: Callable[[np.ndarray], np.ndarray], points: np.ndarray, step: float) -> np.ndarray:
    """Unit gradients of a distance field at points (central differences)."""
    offsets = np.eye(3) * step
    gradient = np.stack([distance(points + offsets[i]) - distance(points - offsets[i]) for i in range(3)], axis=1)
    return gradient / np.maximum(np.linalg.norm(gradient, axis=1, keepdims=True), 1e-12)


def _shell(
    distance: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, voxel: float, target: int
) -> tuple[np.ndarray, np.ndarray]:
    vertices, faces = isosurface.extract(distance, lo, hi, voxel)
    vertices, faces = isosurface.decimate(vertices, faces, target)
    return isosurface.project(distance, vertices, 0.25 * voxel), faces


def sculpt(humanoid: Humanoid, target_triangles: int, progress: Callable[[float, str], None]) -> Body:
    """Mesh the humanoid's field to about `target_triangles`, skin it, and sample what the paint needs at its vertices.

    The hands (fingers are millimetres apart), the head (face, eyes, hair) and the feet are meshed on their own,
    finer: each a closed shell that starts over the end of the body's mesh, where it takes the body's skin weights
    and shading, so the two move and look as one.
    """
    progress(10, "sculpting")
    voxel = voxel_size(humanoid.spec.height, target_triangles)
    regions = humanoid.regions()
    budgets = [max(MIN_REGION_TRIANGLES, int(region.share * target_triangles)) for region in regions]
    shells = [_shell(humanoid.body_distance, *humanoid.bounds(), voxel, max(1000, target_triangles - sum(budgets)))]
    for region, budget in zip(regions, budgets):
        shells.append(_shell(humanoid.region_distance(region), *region.box, min(voxel, region.voxel), budget))
    starts = np.cumsum([0] + [len(v) for v, _ in shells])
    vertices = np.concatenate([v for v, _ in shells])
    faces = np.concatenate([f + start for (_, f), start in zip(shells, starts)])
    normals = np.array(trimesh.Trimesh(vertices, faces, process=False).vertex_normals)
    lost = ~(np.linalg.norm(normals, axis=1) > 0.5)  # a fold left by decimation: the field knows better
    if lost.any():
        normals[lost] = field_normals(humanoid.distance, vertices[lost], 0.5 * voxel)
    progress(45, "skinning")
    follow = np.zeros(len(vertices))
    for k, region in enumerate(regions):
        on = slice(starts[k + 1], starts[k + 2])
        follow[on] = humanoid.follow_body(region, vertices[on])
    body = np.arange(len(vertices)) < starts[1]
    nearest = np.zeros(len(vertices), dtype=np.int64)
    nearest[~body] = scipy.spatial.cKDTree(vertices[body]).query(vertices[~body])[1]
    joints, weights, bones, rest = skinning.skin(humanoid, vertices, faces, follow, nearest)
    fields = humanoid.fields(vertices)
    ao = paint.occlusion(humanoid.distance, vertices, normals, 0.025 * humanoid.scale)
    hands = np.zeros(len(vertices), dtype=bool)
    for k, region in enumerate(regions):
        hands[starts[k + 1] : starts[k + 2]] = region.name.endswith("Hand")
    ao[hands] = 1.0  # fingers would darken each other in blotches
    ao = follow * ao[nearest] + (1.0 - follow) * ao
    margins = [fields.layered - d for d in fields.extras]
    return Body(vertices, faces, normals, joints, weights, bones, np.column_stack([rest, ao] + margins))


def on_surface(humanoid: Humanoid, texels: np.ndarray, extras: int) -> np.ndarray:
    """Texel attributes recomputed where the texel's point (its last three columns) lies on the true surface: the
    T-pose position and the extras' margins come from the field there, not from a flat triangle's interpolation."""
    points = isosurface.project(humanoid.distance, texels[:, -3:], 0.002 * humanoid.scale, iterations=1)
    fields = humanoid.fields(points)
    out = texels.copy()
    out[:, :4] = fields.rest
    for k, d in enumerate(fields.extras[:extras]):
        out[:, 5 + k] = fields.layered - d
    return out


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
    extras = body.attributes.shape[1] - 5
    columns = [body.attributes] + ([] if extra is None else [extra]) + [body.vertices]
    attributes = np.column_stack(columns)
    texture = uv_atlas.bake(
        texture_size,
        uvs,
        uv_faces,
        attributes[source],
        colour or paint.colour_function(humanoid, extras),
        lambda texels: on_surface(humanoid, texels, extras),
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
