"""Triangle meshes from signed distance functions: narrow-band sampling and marching cubes, then quadric decimation."""
from __future__ import annotations

from typing import Callable

import fast_simplification
import numpy as np
import scipy.ndimage
from skimage.measure import marching_cubes

_COARSE = 4  # the coarse pass samples every 4th grid point
_CHUNK = 200_000


def _evaluate(distance: Callable[[np.ndarray], np.ndarray], points: np.ndarray) -> np.ndarray:
    return np.concatenate([distance(points[i:i + _CHUNK]) for i in range(0, len(points), _CHUNK)]) if len(points) else np.zeros(0)


def sample(distance: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """The distance on a voxel grid over [lo, hi] (padded with outside values), exact near the surface only; returns it and its origin."""
    lo = np.asarray(lo, float) - 2 * voxel
    shape = np.ceil((np.asarray(hi, float) + 2 * voxel - lo) / voxel).astype(int) + 1
    shape = ((shape + _COARSE - 1) // _COARSE) * _COARSE + 1
    coarse_axes = [lo[i] + voxel * np.arange(0, shape[i], _COARSE) for i in range(3)]
    coarse_points = np.stack(np.meshgrid(*coarse_axes, indexing="ij"), axis=-1).reshape(-1, 3)
    coarse = _evaluate(distance, coarse_points).reshape([len(a) for a in coarse_axes])
    # Where the field is Lipschitz, a coarse cell whose corners are all farther than its diagonal holds no surface.
    near = np.abs(coarse) <= _COARSE * voxel * np.sqrt(3) * 1.5
    cells = scipy.ndimage.binary_dilation(near, np.ones((2, 2, 2), bool), origin=-1)
    grid = scipy.ndimage.zoom(coarse, _COARSE, order=1, grid_mode=False)[: shape[0], : shape[1], : shape[2]]
    active = np.repeat(np.repeat(np.repeat(cells, _COARSE, 0), _COARSE, 1), _COARSE, 2)[: shape[0], : shape[1], : shape[2]]
    index = np.nonzero(active)
    points = lo + voxel * np.stack(index, axis=1)
    grid[index] = _evaluate(distance, points)
    grid[0, :, :] = grid[-1, :, :] = grid[:, 0, :] = grid[:, -1, :] = grid[:, :, 0] = grid[:, :, -1] = voxel
    return grid, lo


def extract(distance: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangle mesh (vertices, faces; counter-clockwise outside) of {distance < 0}."""
    grid, origin = sample(distance, lo, hi, voxel)
    vertices, faces, _, _ = marching_cubes(grid, level=0.0, spacing=(voxel, voxel, voxel), gradient_direction="descent", allow_degenerate=False)
    return vertices + origin, faces.astype(np.int64)


def decimate(vertices: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric-error decimation down to about `target` triangles (unchanged when already below)."""
    if len(faces) <= target:
        return vertices, faces
    out_vertices, out_faces = fast_simplification.simplify(vertices.astype(np.float64), faces.astype(np.int64), target_count=target)
    return out_vertices, out_faces.astype(np.int64)
