"""Surface geometry in numpy: world-space triangles from Blender and the Hausdorff distance between two surfaces."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from container_workers.blender_worker import stats

_CANDIDATES = 16  # nearest triangle centroids checked exactly per sample point


def world_triangles() -> tuple[np.ndarray, np.ndarray]:
    """All scene meshes as one triangle soup in world space: vertices (V, 3) float64 and triangles (T, 3) int64."""
    verts, tris, offset = [], [], 0
    for obj in stats.mesh_objects():
        mesh = obj.data
        mesh.calc_loop_triangles()
        co = np.empty(3 * len(mesh.vertices), dtype=np.float64)
        mesh.vertices.foreach_get("co", co)
        idx = np.empty(3 * len(mesh.loop_triangles), dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", idx)
        m = np.array(obj.matrix_world)
        verts.append(co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3])
        tris.append(idx.reshape(-1, 3) + offset)
        offset += len(mesh.vertices)
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    return np.vstack(verts), np.vstack(tris)


def sample_surface(verts: np.ndarray, tris: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` points spread over the surface by area, plus up to `count` of its vertices (where error peaks)."""
    a, b, c = (verts[tris[:, i]] for i in range(3))
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    pick = (
        rng.choice(len(tris), size=count, p=area / area.sum()) if area.sum() > 0 else rng.integers(0, len(tris), count)
    )
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    points = a[pick] + u[:, None] * (b[pick] - a[pick]) + v[:, None] * (c[pick] - a[pick])
    used = np.unique(tris)
    corners = verts[rng.choice(used, size=min(count, used.size), replace=False)]
    return np.vstack([points, corners])


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, y)


def _closest_points(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The closest point to each p on the triangle (a, b, c), vectorised (Ericson, Real-Time Collision Detection 5.1.5)."""
    ab, ac, ap, bp, cp = b - a, c - a, p - a, p - b, p - c
    d1, d2, d3, d4, d5, d6 = _dot(ab, ap), _dot(ac, ap), _dot(ab, bp), _dot(ac, bp), _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        out = a + ab * np.nan_to_num(vb / denom)[:, None] + ac * np.nan_to_num(vc / denom)[:, None]
        rules = (  # applied last-to-first so the earliest matching region wins, as in the scalar algorithm
            (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
            b + np.nan_to_num((d4 - d3) / ((d4 - d3) + (d5 - d6)))[:, None] * (c - b),
            (vb <= 0) & (d2 >= 0) & (d6 <= 0),
            a + np.nan_to_num(d2 / (d2 - d6))[:, None] * ac,
            (d6 >= 0) & (d5 <= d6),
            c,
            (vc <= 0) & (d1 >= 0) & (d3 <= 0),
            a + np.nan_to_num(d1 / (d1 - d3))[:, None] * ab,
            (d3 >= 0) & (d4 <= d3),
            b,
            (d1 <= 0) & (d2 <= 0),
            a,
        )
    for mask, point in zip(rules[0::2], rules[1::2]):
        out = np.where(mask[:, None], point, out)
    return out


def distances_to_surface(points: np.ndarray, verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Distance from each point to the nearest of the candidate triangles around it."""
    a, b, c = (verts[tris[:, i]] for i in range(3))
    k = min(_CANDIDATES, len(tris))
    _, near = cKDTree((a + b + c) / 3).query(points, k=k)
    near = near.reshape(len(points), k)
    best = np.full(len(points), np.inf)
    for j in range(k):
        t = near[:, j]
        best = np.minimum(best, np.linalg.norm(points - _closest_points(points, a[t], b[t], c[t]), axis=1))
    return best


def surface_error(
    ref: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray], samples: int = 100_000, seed: int = 0
) -> dict:
    """Symmetric Hausdorff and mean surface distance between two meshes, relative to the first's bounding-box diagonal."""
    rng = np.random.default_rng(seed)
    samples = min(samples, 10 * max(len(ref[1]), len(other[1])))  # small meshes need fewer samples
    diagonal = float(np.linalg.norm(ref[0].max(axis=0) - ref[0].min(axis=0))) or 1.0
    there = distances_to_surface(sample_surface(*ref, samples, rng), *other)
    back = distances_to_surface(sample_surface(*other, samples, rng), *ref)
    return {
        "hausdorff": float(max(there.max(), back.max())) / diagonal,
        "mean": float((there.mean() + back.mean()) / 2) / diagonal,
        "diagonal": diagonal,
        "samples": int(there.size + back.size),
    }
