"""Silhouette inflation: a mask becomes a closed, watertight mesh (front and back height fields sewn along the outline).

The outline is the zero level of the mask's smoothed signed distance, triangulated by marching squares on a grid
whose spacing meets the triangle budget. The height is sqrt(phi) with laplacian(phi) = -2 inside the outline and
phi = 0 on it: a smooth distance-like field without the medial-axis ridges of a raw distance transform, which gives
every long part a round cross-section whose radius is its half-width (a disc becomes an oblate spheroid).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

DEPTH_RATIO = 0.75  # thickness relative to a round cross-section
_POISSON_SIDE = 256  # the height field is solved on at most this many pixels per side
_CROSSING_CLAMP = 0.03  # keeps outline points off grid corners (no slivers)
FRONT, BACK, RIM = 0, 1, 2


@dataclass
class HeightMesh:
    """A closed mesh in mask pixel units (x right, y down, z towards the viewer) and each vertex's side."""

    vertices: np.ndarray  # (N, 3)
    faces: np.ndarray  # (M, 3), counter-clockwise seen from outside in a y-up frame (x, -y, z)
    side: np.ndarray  # (N,) FRONT, BACK or RIM (on the outline, z = 0)


def signed_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean signed distance to the mask outline in pixels (positive inside)."""
    inside = mask.astype(np.uint8)
    d_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d_out = cv2.distanceTransform(1 - inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(inside > 0, d_in - 0.5, 0.5 - d_out).astype(np.float32)


def poisson_height(sdf: np.ndarray) -> np.ndarray:
    """sqrt(phi) where laplacian(phi) = -2 on sdf > -1 and phi = 0 elsewhere, solved on a coarser grid, in pixels."""
    h, w = sdf.shape
    scale = min(1.0, _POISSON_SIDE / max(h, w))
    small = cv2.resize(sdf, (max(3, round(w * scale)), max(3, round(h * scale))), interpolation=cv2.INTER_AREA) * scale
    inside = small > -1.0
    inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = False
    index = np.full(small.shape, -1, dtype=np.int64)
    count = int(inside.sum())
    index[inside] = np.arange(count)
    rows, cols = np.nonzero(inside)
    entries_i, entries_j, values = [np.arange(count)], [np.arange(count)], [np.full(count, 4.0)]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        neighbour = index[rows + dy, cols + dx]
        ok = neighbour >= 0
        entries_i.append(index[rows[ok], cols[ok]])
        entries_j.append(neighbour[ok])
        values.append(np.full(int(ok.sum()), -1.0))
    laplacian = scipy.sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(entries_i), np.concatenate(entries_j))), shape=(count, count)
    )
    phi = np.zeros(small.shape, dtype=np.float64)
    phi[inside] = scipy.sparse.linalg.spsolve(laplacian.tocsc(), np.full(count, 2.0))
    height = np.sqrt(np.maximum(phi, 0.0)) / scale
    return cv2.resize(height.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _case_triangles() -> dict[tuple[int, bool], list[tuple[int, int, int]]]:
    """Marching-squares fans per (corner bits, saddle joined); slots 0..7 walk c0 e0 c1 e1 c2 e2 c3 e3 around a cell.

    Each fan starts at an inside corner, so no triangle lies entirely on the outline.
    """
    table = {}
    for bits in range(16):
        inside = [(bits >> k) & 1 for k in range(4)]
        for joined in (False, True):
            saddle = bits in (5, 10)
            if saddle and not joined:
                polygons = [[2 * k, 2 * k + 1, (2 * k - 1) % 8] for k in range(4) if inside[k]]
            else:
                polygon = []
                for k in range(4):
                    if inside[k]:
                        polygon.append(2 * k)
                    if inside[k] != inside[(k + 1) % 4]:
                        polygon.append(2 * k + 1)
                start = next((i for i, slot in enumerate(polygon) if slot % 2 == 0), 0)
                polygons = [polygon[start:] + polygon[:start]] if polygon else []
            table[(bits, joined)] = [(p[0], p[i], p[i + 1]) for p in polygons for i in range(1, len(p) - 1)]
    return table


_CASES = _case_triangles()


def triangulate(field: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate {field > 0} on its grid: (outline points (C, 2) as grid (x, y), faces, inside-corner mask (H, W)).

    Faces index a vertex list made of the inside corners (ids 0..K-1, row-major) followed by the outline points.
    """
    field = np.where(field == 0, -1e-6, field).astype(np.float64)
    inside = field > 0
    gh, gw = field.shape
    corner = np.full((gh, gw), -1, dtype=np.int64)
    corner[inside] = np.arange(int(inside.sum()))
    next_id = int(inside.sum())
    points = []
    edge_ids = []
    for axis in (1, 0):  # horizontal edges (along x), then vertical edges (along y)
        a = field[:, :-1] if axis == 1 else field[:-1, :]
        b = field[:, 1:] if axis == 1 else field[1:, :]
        crossing = (a > 0) != (b > 0)
        ids = np.full(a.shape, -1, dtype=np.int64)
        n = int(crossing.sum())
        ids[crossing] = np.arange(next_id, next_id + n)
        next_id += n
        t = np.clip(a[crossing] / (a[crossing] - b[crossing]), _CROSSING_CLAMP, 1.0 - _CROSSING_CLAMP)
        rows, cols = np.nonzero(crossing)
        points.append(np.stack([cols + t, rows], axis=1) if axis == 1 else np.stack([cols, rows + t], axis=1))
        edge_ids.append(ids)
    horizontal, vertical = edge_ids
    bits = inside[:-1, :-1] * 1 + inside[:-1, 1:] * 2 + inside[1:, 1:] * 4 + inside[1:, :-1] * 8
    joined = (field[:-1, :-1] + field[:-1, 1:] + field[1:, 1:] + field[1:, :-1]) > 0
    slots = np.stack(
        [
            corner[:-1, :-1],
            horizontal[:-1, :],
            corner[:-1, 1:],
            vertical[:, 1:],
            corner[1:, 1:],
            horizontal[1:, :],
            corner[1:, :-1],
            vertical[:, :-1],
        ],
        axis=-1,
    )
    faces = []
    for (case, join), triangles in _CASES.items():
        saddle = case in (5, 10)
        if not triangles or (join and not saddle):
            continue
        cell_slots = slots[(bits == case) & (joined == join) if saddle else bits == case]
        for tri in triangles:
            faces.append(cell_slots[:, list(tri)])
    faces = np.concatenate(faces) if faces else np.zeros((0, 3), dtype=np.int64)
    outline = np.concatenate(points) if points else np.zeros((0, 2))
    return outline, faces, inside


def inflate(sdf: np.ndarray, height: np.ndarray, spacing: float, front_relief: np.ndarray | None = None) -> HeightMesh:
    """Sample the signed distance and height fields on a grid of `spacing` pixels and sew front and back into a closed mesh."""
    h, w = sdf.shape
    xs = np.arange(-spacing, w + spacing, spacing, dtype=np.float32)
    ys = np.arange(-spacing, h + spacing, spacing, dtype=np.float32)
    map_x, map_y = np.meshgrid(xs, ys)
    grid_sdf = cv2.remap(sdf, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=-1.0)
    grid_height = cv2.remap(height, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    outline, faces, inside = triangulate(grid_sdf)
    k = int(inside.sum())
    depth = np.maximum(grid_height[inside] * DEPTH_RATIO, 0.05 * spacing)
    relief = 0.0
    if front_relief is not None:
        relief = cv2.remap(
            front_relief, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0
        )[inside]
    front_z = np.maximum(depth + relief, 0.3 * depth)
    corner_xy = np.stack([map_x[inside], map_y[inside]], axis=1)
    outline_xy = outline * spacing + np.array([xs[0], ys[0]])
    vertices = np.concatenate(
        [
            np.column_stack([corner_xy, front_z]),
            np.column_stack([corner_xy, -depth]),
            np.column_stack([outline_xy, np.zeros(len(outline_xy))]),
        ]
    )
    side = np.concatenate([np.full(k, FRONT), np.full(k, BACK), np.full(len(outline_xy), RIM)])
    front = np.where(faces < k, faces, faces + k)[:, ::-1]  # the cell walk is clockwise once y points up
    back = faces + k
    return HeightMesh(vertices, np.concatenate([front, back]), side)


def smooth_depth(mesh: HeightMesh, iterations: int = 3, strength: float = 0.5) -> HeightMesh:
    """Laplacian smoothing of z only (outline fixed), which evens out the first ring of grid points inside the outline."""
    n = len(mesh.vertices)
    edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
    adjacency = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    movable = mesh.side != RIM
    z = mesh.vertices[:, 2].copy()
    for _ in range(iterations):
        average = adjacency @ z / np.maximum(degree, 1)
        z[movable] += strength * (average[movable] - z[movable])
    vertices = mesh.vertices.copy()
    vertices[:, 2] = z
    return HeightMesh(vertices, mesh.faces, mesh.side)
