"""Triangle meshes from signed distance functions: narrow-band sampling and marching cubes, then quadric decimation."""

from __future__ import annotations

from collections.abc import Callable

import fast_simplification
import numpy as np
from skimage.measure import marching_cubes

_LEVELS = (4, 2)  # the field is sampled every 4th, then every 2nd grid point, refining only near the surface
_MARGIN = 1.4  # how far beyond a cell's diagonal the surface may be, for fields steeper than distance (layer edges)
_CHUNK = 20_000
_BLOCK = 0.12  # metres: the side of the blocks points are batched by


def _evaluate(distance: Callable[[np.ndarray], np.ndarray], points: np.ndarray) -> np.ndarray:
    """The distance at points, evaluated in spatially compact batches (blocks of _BLOCK), so a field can skip far shapes."""
    if not len(points):
        return np.zeros(0)
    block = np.floor((points - points.min(axis=0)) / _BLOCK).astype(np.int64)
    order = np.lexsort((block[:, 2], block[:, 1], block[:, 0]))
    out = np.empty(len(points))
    for i in range(0, len(points), _CHUNK):
        rows = order[i : i + _CHUNK]
        out[rows] = distance(points[rows])
    return out


def _upsample(values: np.ndarray) -> np.ndarray:
    """Linear interpolation onto a lattice twice as fine (n -> 2n - 1 points per axis)."""
    for axis in range(3):
        a = np.moveaxis(values, axis, 0)
        out = np.empty((2 * a.shape[0] - 1,) + a.shape[1:], dtype=a.dtype)
        out[::2] = a
        out[1::2] = (a[:-1] + a[1:]) / 2
        values = np.moveaxis(out, 0, axis)
    return values


def _corners_of(cells: np.ndarray) -> np.ndarray:
    """Lattice points (one more per axis) that are a corner of at least one marked cell."""
    points = np.zeros(tuple(n + 1 for n in cells.shape), dtype=bool)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                points[dx : dx + cells.shape[0], dy : dy + cells.shape[1], dz : dz + cells.shape[2]] |= cells
    return points


def _near_cells(values: np.ndarray, reach: float) -> np.ndarray:
    """Cells of a lattice with a corner closer to the surface than `reach`."""
    near = np.abs(values) <= reach
    cells = np.zeros(tuple(n - 1 for n in values.shape), dtype=bool)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                cells |= near[dx : dx + cells.shape[0], dy : dy + cells.shape[1], dz : dz + cells.shape[2]]
    return cells


def sample(
    distance: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, voxel: float
) -> tuple[np.ndarray, np.ndarray]:
    """The distance on a voxel grid over [lo, hi] (padded with outside values), exact near the surface only; returns it and its origin.

    Coarse cells whose corners are all farther from the surface than the cell's diagonal (times a margin) cannot hold
    any surface, so they are filled by interpolation instead of evaluation.
    """
    top = _LEVELS[0]
    lo = np.asarray(lo, float) - 2 * voxel
    counts = np.ceil((np.asarray(hi, float) + 2 * voxel - lo) / (voxel * top)).astype(int) + 1
    axes = [lo[i] + voxel * top * np.arange(counts[i]) for i in range(3)]
    values = _evaluate(distance, np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)).reshape(counts)
    for step in _LEVELS:
        reach = _MARGIN * step * voxel * np.sqrt(3)
        cells = np.repeat(np.repeat(np.repeat(_near_cells(values, reach), 2, 0), 2, 1), 2, 2)
        values = _upsample(values)
        todo = _corners_of(cells)
        todo[::2, ::2, ::2] = False  # already known
        index = np.nonzero(todo)
        values[index] = _evaluate(distance, lo + voxel * (step // 2) * np.stack(index, axis=1))
    values[0, :, :] = values[-1, :, :] = values[:, 0, :] = values[:, -1, :] = values[:, :, 0] = values[:, :, -1] = voxel
    return values, lo


def extract(
    distance: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, voxel: float
) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangle mesh (vertices, faces; counter-clockwise outside) of {distance < 0}."""
    grid, origin = sample(distance, lo, hi, voxel)
    vertices, faces, _, _ = marching_cubes(
        grid, level=0.0, spacing=(voxel, voxel, voxel), gradient_direction="descent", allow_degenerate=False
    )
    return vertices + origin, faces.astype(np.int64)


def decimate(vertices: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric-error decimation down to about `target` triangles (unchanged when already below)."""
    if len(faces) <= target:
        return vertices, faces
    out_vertices, out_faces = fast_simplification.simplify(
        vertices.astype(np.float64), faces.astype(np.int64), target_count=target, agg=3
    )
    return out_vertices, out_faces.astype(np.int64)


def project(
    distance: Callable[[np.ndarray], np.ndarray], vertices: np.ndarray, step: float, iterations: int = 2
) -> np.ndarray:
    """Move vertices onto the zero level by Newton steps along the field's finite-difference gradient."""
    offsets = np.eye(3) * step
    for _ in range(iterations):
        d = distance(vertices)
        gradient = np.stack([(distance(vertices + offsets[i]) - d) / step for i in range(3)], axis=1)
        norm2 = np.maximum(np.einsum("ij,ij->i", gradient, gradient), 1e-6)
        vertices = vertices - np.clip(d / norm2, -2 * step, 2 * step)[:, None] * gradient
    return vertices
