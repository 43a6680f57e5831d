"""A texture atlas for closed meshes made of body parts: a cylindrical chart per part plus planar patches, shelf-packed, then baked.

Colours are computed from 3D positions per texel ("baking"), so the atlas only needs charts that do not overlap; the
seams of a cylinder are cut where faces wrap around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.ndimage
import scipy.sparse
import scipy.sparse.csgraph

from container_workers.gpu_worker import render

PADDING = 4  # texels between charts
MIN_AREA_RATIO = 0.3  # faces a cylinder shrinks below this share of their area go to planar patches
EDGE_STEP = 0.12  # a colour jump (0..1 per channel) between neighbouring texels that marks a material edge


@dataclass(frozen=True)
class Chart:
    """How one part is unrolled: angle around `axis` through `centre` (0 towards `front`) by distance along the axis."""

    name: str
    centre: tuple[float, float, float]
    axis: tuple[float, float, float]
    front: tuple[float, float, float]
    radius: float  # metres per radian of angle
    density: float = 1.0  # texel density relative to the other charts


def _chart_coordinates(chart: Chart, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axis = np.asarray(chart.axis, float)
    front = np.asarray(chart.front, float)
    side = np.cross(axis, front)
    q = points - np.asarray(chart.centre, float)
    along, x, z = q @ axis, q @ side, q @ front
    return np.arctan2(x, z), along


def _signed_areas(corners: np.ndarray) -> np.ndarray:
    a, b = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    return 0.5 * (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])


def _patches(points: np.ndarray, faces: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Faces grouped by the axis direction they face most (6 ways) and by connection (a shared edge), each group projected
    on the plane across its mean normal: [(face ids, corner uv (F, 3, 2))]."""
    tri = points[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    facing = np.argmax(np.concatenate([normals, -normals], axis=1), axis=1)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(faces)), 3)
    _, edge_id = np.unique(edges, axis=0, return_inverse=True)
    incidence = scipy.sparse.coo_matrix((np.ones(len(owner)), (owner, edge_id.ravel()))).tocsr()
    neighbours = (incidence @ incidence.T).tocoo()
    same = facing[neighbours.row] == facing[neighbours.col]
    graph = scipy.sparse.coo_matrix(
        (np.ones(int(same.sum())), (neighbours.row[same], neighbours.col[same])), shape=(len(faces), len(faces))
    )
    count, label = scipy.sparse.csgraph.connected_components(graph, directed=False)
    out = []
    for k in range(count):
        members = np.nonzero(label == k)[0]
        normal = normals[members].sum(axis=0)
        normal = normal / max(np.linalg.norm(normal), 1e-12)
        helper = np.array([1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = np.cross(helper, normal)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(normal, e1)
        out.append((members, np.stack([tri[members] @ e1, tri[members] @ e2], axis=-1)))
    return out


def unwrap(
    points: np.ndarray, faces: np.ndarray, vertex_chart: np.ndarray, charts: list[Chart]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut the mesh into charts: (source vertex of each new vertex, new faces, chart-space (u, v) in metres, chart of each new vertex).

    `points` are the positions the charts are defined on (e.g. the T-pose), `vertex_chart` a chart index per vertex.
    Faces a cylinder would squash or fold (facing along its axis, or inwards) go to planar patch charts instead.
    """
    corner_chart = vertex_chart[faces]
    face_chart = np.where(corner_chart[:, 1] == corner_chart[:, 2], corner_chart[:, 1], corner_chart[:, 0])
    tri = points[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    groups: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (face ids, corner uv, corner keys)
    squashed = []
    for c, chart in enumerate(charts):
        on = np.nonzero(face_chart == c)[0]
        if len(on) == 0:
            continue
        angle, v = _chart_coordinates(chart, points[faces[on].ravel()])
        angle, v = angle.reshape(-1, 3), v.reshape(-1, 3)
        shifted = ((angle.max(axis=1) - angle.min(axis=1)) > np.pi)[:, None] & (angle < 0)
        uv = np.stack([np.where(shifted, angle + 2 * np.pi, angle) * chart.radius, v], axis=-1) * chart.density
        fine = _signed_areas(uv) > MIN_AREA_RATIO * area[on] * chart.density**2
        groups.append((on[fine], uv[fine], (faces[on] * 2 + shifted)[fine]))
        squashed.append(on[~fine])
    squashed = np.concatenate(squashed)
    if len(squashed):
        for members, uv in _patches(points, faces[squashed]):
            groups.append((squashed[members], uv, faces[squashed[members]] * 2))
    sources, uvs, charts_of, new_faces = [], [], [], np.empty_like(faces)
    next_id = 0
    for g, (face_ids, uv, keys) in enumerate(groups):
        unique, first, inverse = np.unique(keys.ravel(), return_index=True, return_inverse=True)
        new_faces[face_ids] = next_id + inverse.reshape(-1, 3)
        sources.append(unique // 2)
        uvs.append(uv.reshape(-1, 2)[first])
        charts_of.append(np.full(len(unique), g))
        next_id += len(unique)
    return np.concatenate(sources), new_faces, np.concatenate(uvs), np.concatenate(charts_of)


def _shelf_fits(sizes: np.ndarray, side: int) -> np.ndarray | None:
    """Top-left corners (in texels) placing each (w, h) box on shelves in a side x side square, or None."""
    order = np.argsort(-sizes[:, 1], kind="stable")
    corners = np.zeros_like(sizes)
    x = y = shelf = 0
    for i in order:
        w, h = sizes[i]
        if x + w > side:
            x, y, shelf = 0, y + shelf, 0
        if x + w > side or y + h > side:
            return None
        corners[i] = (x, y)
        x += w
        shelf = max(shelf, h)
    return corners


def pack(uv: np.ndarray, chart_of: np.ndarray, size: int) -> np.ndarray:
    """Scale every chart by one texel density and shelf-pack them into [0, 1]^2 (v flipped so +v is up in the image)."""
    charts = np.unique(chart_of)
    lo = np.array([uv[chart_of == c].min(axis=0) for c in charts])
    hi = np.array([uv[chart_of == c].max(axis=0) for c in charts])
    extent = hi - lo
    low, high = 1.0, size / max(float(extent.max()), 1e-9)
    corners = None
    for _ in range(24):
        density = (low + high) / 2
        placed = _shelf_fits(np.ceil(extent * density).astype(int) + 2 * PADDING, size)
        if placed is None:
            high = density
        else:
            low, corners = density, placed
    if corners is None:
        raise ValueError("charts do not fit the texture")
    out = np.empty_like(uv)
    for k, c in enumerate(charts):
        on = chart_of == c
        texel_x = corners[k, 0] + PADDING + (uv[on, 0] - lo[k, 0]) * low
        texel_y = corners[k, 1] + PADDING + (hi[k, 1] - uv[on, 1]) * low
        out[on] = np.stack([texel_x, texel_y], axis=1) / size
    return out


def bake(
    size: int,
    uv: np.ndarray,
    faces: np.ndarray,
    attributes: np.ndarray,
    colour: Callable[[np.ndarray], np.ndarray],
    refine: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """An RGB uint8 texture: `colour(per-texel interpolated attributes (P, C)) -> (P, 3) floats 0..1`, gutters filled outward.

    With `refine` (attributes -> better attributes, e.g. recomputed on the true surface), texels where the colour
    jumps (material edges: necklines, hairlines, hems) are painted again as the average of 2 x 2 sub-samples of
    refined attributes: edges follow the surface, not the flat triangles, and are anti-aliased.
    """
    ids, bary = render.rasterize(uv * size - 0.5, faces, (size, size))
    covered = ids >= 0
    texels = render.interpolate(ids, bary, faces, attributes)[covered].astype(np.float64)
    image = np.zeros((size, size, 3), dtype=np.float64)
    image[covered] = colour(texels)
    if refine is not None:
        _refine_edges(image, ids, size, uv, faces, attributes, colour, refine)
    _, (rows, cols) = scipy.ndimage.distance_transform_edt(~covered, return_indices=True)
    image = image[rows, cols]
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _refine_edges(image, ids, size, uv, faces, attributes, colour, refine) -> None:
    """Repaint, in place, the covered texels whose colour differs from a neighbour's by more than EDGE_STEP, from four
    sub-samples in the texel's own triangle."""
    covered = ids >= 0
    jump = np.zeros(covered.shape, dtype=bool)
    for axis in (0, 1):
        both = covered & np.roll(covered, 1, axis=axis)
        step = np.abs(image - np.roll(image, 1, axis=axis)).max(axis=2) > EDGE_STEP
        jump |= both & step
        jump |= np.roll(both & step, -1, axis=axis)
    rows, cols = np.nonzero(jump & covered)
    if len(rows) == 0:
        return
    face = ids[rows, cols]
    corners = uv[faces[face]] * size - 0.5  # texel centres are at integers
    total = np.zeros((len(rows), 3))
    for dy in (-0.25, 0.25):
        for dx in (-0.25, 0.25):
            bary = _barycentrics(corners, np.column_stack([cols + dx, rows + dy]))
            sub = np.einsum("pk,pkc->pc", bary, attributes[faces[face]]).astype(np.float64)
            total += colour(refine(sub))
    image[rows, cols] = total / 4.0


def _barycentrics(corners: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (P, 3) of points (P, 2) in triangles (P, 3, 2), clamped to the triangle."""
    v0, v1, v2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], points - corners[:, 0]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    b1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    b2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    b = np.clip(np.stack([1.0 - b1 - b2, b1, b2], axis=1), 0.0, 1.0)
    return b / b.sum(axis=1, keepdims=True)
