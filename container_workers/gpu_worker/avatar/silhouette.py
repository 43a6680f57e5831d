"""Silhouette fitting: the posed avatar's outline slides onto the person's outline in the photo.

Vertices on the rendered outline move across the view, along their normal as seen on screen, to where the person's
mask ends (within a reach, so an object held in a hand cannot pull an arm away); every other vertex follows by
diffusion over the mesh, so fronts and backs stay smooth. A few rounds re-render the outline in between.
"""

from __future__ import annotations

import cv2
import numpy as np
import trimesh

from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar.fit import Camera
from container_workers.gpu_worker.avatar.skinning import adjacency

REACH = 0.06  # the farthest an outline vertex moves in one round, as a fraction of the avatar's height
ROUNDS = 3
STEP = 0.85  # each round moves this share of the way
_RIM_PIXELS = 2.0  # a vertex this close to the rendered outline is on it
_GRAZING = 0.6  # ... and faces sideways (|normal . view| below this)
_DIFFUSION = 40


def _inside(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether photo points (..., 2; pixel centres at +0.5) fall on the mask (outside the photo: no)."""
    h, w = mask.shape
    col, row = np.floor(points[..., 0]).astype(int), np.floor(points[..., 1]).astype(int)
    ok = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.zeros(points.shape[:-1], bool)
    out[ok] = mask[row[ok], col[ok]]
    return out


def outline_offsets(points: np.ndarray, directions: np.ndarray, mask: np.ndarray, reach: float) -> np.ndarray:
    """Signed distance (pixels) along each unit direction from each point to the mask's edge; 0 when none within reach.

    Positive: the mask goes on beyond the point (grow outwards); negative: the point is outside it (shrink).
    """
    steps = np.arange(1, int(np.ceil(reach)) + 1, dtype=np.float64)
    start = _inside(mask, points)
    out = np.zeros(len(points))
    forward = _inside(mask, points[:, None, :] + steps[None, :, None] * directions[:, None, :])
    backward = _inside(mask, points[:, None, :] - steps[None, :, None] * directions[:, None, :])
    leaves = ~forward
    first_out = np.where(leaves.any(axis=1), leaves.argmax(axis=1), -1)
    first_in = np.where(backward.any(axis=1), backward.argmax(axis=1), -1)
    grow = start & (first_out >= 0)
    out[grow] = steps[first_out[grow]] - 0.5
    shrink = ~start & (first_in >= 0)
    out[shrink] = -(steps[first_in[shrink]] - 0.5)
    return out


def fit(
    posed: np.ndarray, faces: np.ndarray, camera: Camera, mask: np.ndarray, height: float, rounds: int = ROUNDS
) -> np.ndarray:
    """Displacements (N, 3) of posed vertices (metres, in the view plane) that lay the avatar's outline on the mask."""
    average = adjacency(faces, len(posed))
    reach = REACH * height * camera.scale
    total = np.zeros_like(posed)
    for _ in range(rounds):
        current = posed + total
        normals = trimesh.Trimesh(current, faces, process=False).vertex_normals
        pixels = camera.pixels(current)
        seen = render.silhouette(pixels - 0.5, faces, mask.shape)
        edge = cv2.distanceTransform(seen.astype(np.uint8), cv2.DIST_L2, 3)
        col = np.clip(np.floor(pixels[:, 0]).astype(int), 0, mask.shape[1] - 1)
        row = np.clip(np.floor(pixels[:, 1]).astype(int), 0, mask.shape[0] - 1)
        on_screen = (
            (pixels[:, 0] >= 0) & (pixels[:, 0] < mask.shape[1]) & (pixels[:, 1] >= 0) & (pixels[:, 1] < mask.shape[0])
        )
        screen = normals[:, :2] * (1.0, -1.0)
        length = np.linalg.norm(screen, axis=1)
        rim = on_screen & (edge[row, col] <= _RIM_PIXELS) & (np.abs(normals[:, 2]) < _GRAZING) & (length > 1e-6)
        directions = screen[rim] / length[rim, None]
        move = np.zeros((len(posed), 2))
        move[rim] = outline_offsets(pixels[rim], directions, mask, reach)[:, None] * directions
        spread = move.copy()
        for _ in range(_DIFFUSION):
            spread = np.where(rim[:, None], move, average @ spread)
        for _ in range(3):
            spread = 0.5 * spread + 0.5 * (average @ spread)
        total[:, :2] += STEP * spread * (1.0, -1.0) / camera.scale
    return total


def to_rest(displacement: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Posed displacements (N, 3) carried back to the rest pose through each vertex's skinning matrix (N, 4, 4)."""
    return np.linalg.solve(matrices[:, :3, :3], displacement[:, :, None])[:, :, 0]
