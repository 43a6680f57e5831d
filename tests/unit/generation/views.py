"""Test helpers: grey renders of a GLB from the front or the back, and how much fine detail two images share."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from container_workers.gpu_worker import render

from .glb import Glb


def texture_of(glb: Glb) -> np.ndarray:
    """The GLB's first texture as RGB."""
    return np.asarray(Image.open(io.BytesIO(glb.image(0))).convert("RGB"))


def view(path, yaw: float, size: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """A grey render (and its mask) of every mesh of a GLB seen from yaw degrees (0 the front, 180 the back)."""
    glb = Glb(path)
    positions, normals, uvs, faces = glb.merged("POSITION", "NORMAL", "TEXCOORD_0")
    image = render.shaded(positions, faces, normals, uvs, texture_of(glb), size=size, yaw=yaw, pitch=0.0)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2GRAY).astype(np.float64), image[..., 3] > 128


def albedo(path, yaw: float, size: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """An unlit, orthographic grey render of a GLB's texture colours (and its mask) seen from yaw degrees."""
    glb = Glb(path)
    positions, uvs, faces = glb.merged("POSITION", "TEXCOORD_0")
    pixels, depth = render.project(positions, size, yaw, 0.0, perspective=0.0, margin=0.02)
    ids, bary = render.rasterize(pixels, faces, (size, size), depth, cull=True)
    colour = render.sample(texture_of(glb), render.interpolate(ids, bary, faces, uvs))
    return cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY).astype(np.float64), ids >= 0


def detail_correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of two grey images' fine detail (minus a 4-pixel blur) over a mask (eroded off its edge).

    A copy scores near 1 (faces, badges and text line up); a painted back shares only the coarse colour layout (a
    dark jacket under a white collar), which the blur takes away.
    """
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    fine_a, fine_b = a - cv2.GaussianBlur(a, (0, 0), 4.0), b - cv2.GaussianBlur(b, (0, 0), 4.0)
    return float(np.corrcoef(fine_a[inner], fine_b[inner])[0, 1])


def against_photo(path, photo: np.ndarray, mask: np.ndarray, yaw: float) -> float:
    """detail_correlation of a render from `yaw` with the subject's photo (mirrored for the back), both cropped to
    their outlines and the photo scaled onto the render."""
    grey, seen = albedo(path, yaw)
    ys, xs = np.nonzero(seen)
    grey, seen = (
        grey[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1],
        seen[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1],
    )
    py, px = np.nonzero(mask)
    crop = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[py.min() : py.max() + 1, px.min() : px.max() + 1].astype(np.float64)
    held = mask[py.min() : py.max() + 1, px.min() : px.max() + 1].astype(np.uint8)
    size = (grey.shape[1], grey.shape[0])
    crop, held = cv2.resize(crop, size, interpolation=cv2.INTER_AREA), cv2.resize(held, size) > 0
    if abs(yaw - 180.0) < 1e-6:
        crop, held = crop[:, ::-1], held[:, ::-1]
    return detail_correlation(grey, crop, seen & held)
