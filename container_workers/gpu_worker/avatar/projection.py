"""The photo as the avatar's front texture: texels the camera saw take the photo's colour, blended into the painted body.

A texel takes the photo where it was visible in the photo's pose (in front in a depth buffer of the posed avatar),
faces the camera, and falls well inside the person's mask; the weight ramps down where the view grazes the surface
and near the mask's outline, so the photo fades into the painted colours (which came from the photo's regions)
instead of ending in a hard, background-coloured seam. Everything else is painted: the back is never the front
mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar import sdf
from container_workers.gpu_worker.avatar.body import ColourFn
from container_workers.gpu_worker.avatar.fit import Camera

FACING = (0.15, 0.5)  # the photo fades in between these cosines of the angle to the view
EDGE_PIXELS = 3.0  # ... and over this many pixels inside the mask's outline


@dataclass
class PhotoView:
    """The photo (RGB 0..1), where it may be used (weight 0..1 per pixel), the posed avatar's depth, and the camera."""

    photo: np.ndarray
    weight: np.ndarray
    depth: np.ndarray  # (H, W) nearest posed Z (larger is nearer), -inf where the avatar is not
    camera: Camera
    tolerance: float  # metres: a texel this close behind the nearest surface still counts as seen


def view(
    photo: np.ndarray, mask: np.ndarray, camera: Camera, posed: np.ndarray, faces: np.ndarray, height: float
) -> PhotoView:
    """What the colour function needs to project `photo` onto the avatar posed as `posed` (N, 3)."""
    pixels = camera.pixels(posed) - 0.5
    ids, bary = render.rasterize(pixels, faces, mask.shape, depth=posed[:, 2])
    depth = render.interpolate(ids, bary, faces, posed[:, 2:3])[..., 0].astype(np.float64)
    depth[ids < 0] = -np.inf
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    weight = np.clip((inside - 1.0) / EDGE_PIXELS, 0.0, 1.0)
    return PhotoView(photo.astype(np.float32) / 255.0, weight, depth, camera, 0.012 * height)


def bilinear(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, C) of an image at pixel coordinates (N, 2; pixel centres at integers)."""
    rows = -(-len(points) // 1024)
    grid = np.zeros((rows * 1024, 2), np.float32)
    grid[: len(points)] = points
    grid = grid.reshape(rows, 1024, 2)
    sampled = cv2.remap(image, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return sampled.reshape(rows * 1024, -1)[: len(points)]


def colour_function(painted: ColourFn, photo: PhotoView, columns: int) -> ColourFn:
    """Paint texels with `painted` (its attributes are the first `columns`), then blend in the photo.

    The next seven attribute columns are the texel's position and normal in the photo's pose, and how much the photo
    shows its bones reliably (0..1; a forearm MediaPipe only guessed does not take the pixels it would cover).
    """
    h, w = photo.depth.shape

    def colour(attributes: np.ndarray) -> np.ndarray:
        out = painted(attributes[:, :columns])
        posed = attributes[:, columns : columns + 3]
        normal = attributes[:, columns + 3 : columns + 6]
        normal = normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        trust = np.clip(attributes[:, columns + 6] * 2.0 - 1.0, 0.0, 1.0)
        pixels = photo.camera.pixels(posed)
        col, row = np.floor(pixels[:, 0]).astype(int), np.floor(pixels[:, 1]).astype(int)
        on = (col >= 0) & (col < w) & (row >= 0) & (row < h)
        amount = np.zeros(len(posed))
        c, r = col[on], row[on]
        seen = posed[on, 2] >= photo.depth[r, c] - photo.tolerance
        amount[on] = sdf.smoothstep(*FACING, normal[on, 2]) * photo.weight[r, c] * seen * trust[on]
        take = amount > 0
        if take.any():
            out[take] += (bilinear(photo.photo, pixels[take] - 0.5) - out[take]) * amount[take, None]
        return out

    return colour
