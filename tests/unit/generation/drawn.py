"""Photos drawn in code: people (prompt avatars posed and rendered on a backdrop) and objects (vases, boxes, blobs)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar import prompt, skinning
from container_workers.gpu_worker.avatar.stage import build
from container_workers.gpu_worker.exchange import gltf

# A relaxed standing pose: (axis, degrees) per joint, local rotations from the T-pose.
RELAXED = {
    "LeftArm": ((0, 0, 1), -62.0),
    "RightArm": ((0, 0, 1), 58.0),
    "LeftForeArm": ((0, 1, 0), -25.0),
    "RightForeArm": ((0, 1, 0), 15.0),
    "LeftUpLeg": ((0, 0, 1), 6.0),
    "RightUpLeg": ((0, 0, 1), -7.0),
    "RightLeg": ((1, 0, 0), 12.0),
    "Head": ((0, 1, 0), 8.0),
}


def backdrop(width: int, height: int) -> np.ndarray:
    """A studio-like RGB background: a warm wall fading to a grey floor."""
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    wall = np.array([214, 206, 190]) * (1.0 - 0.25 * t)
    floor = np.array([150, 150, 155]) * np.ones_like(t)
    image = np.where(t < 0.78, wall, floor) * np.ones((1, width, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def posed_avatar(
    text: str, pose: dict = RELAXED, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A prompt's avatar posed by local rotations: (positions, faces, normals, uvs, texture)."""
    mesh, bones, texture = build(prompt.parse(text, seed), "T", 12000, 512, lambda *_: None)
    rotations = bones.local_rotations().copy()
    for name, (axis, degrees) in pose.items():
        rotations[skeleton.INDEX[name]] = gltf.quat_from_axis_angle(axis, np.radians(degrees))
    posed = dataclasses.replace(bones, rotations=rotations)
    matrices = skinning.blend_matrices(mesh.joints, mesh.weights, bones.world_matrices(), posed.world_matrices())
    positions = skinning.deform(mesh.positions, matrices)
    normals = np.einsum("nij,nj->ni", matrices[:, :3, :3], mesh.normals)
    return positions, mesh.indices, normals, mesh.uvs, texture


def person_photo(
    texts: list[str], size: tuple[int, int] = (720, 960), yaw: float = 0.0, spacing: float = 1.0
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A photo (RGB) of posed avatars side by side on a backdrop (`spacing` < 1 brings them closer), each one's true mask.

    Later avatars stand in front of earlier ones where they overlap.
    """
    width, height = size
    image = backdrop(width, height).astype(np.float64)
    masks: list[np.ndarray] = []
    slot = width / len(texts) * spacing
    first = width / 2 - slot * (len(texts) - 1) / 2
    for k, text in enumerate(texts):
        positions, faces, normals, uvs, texture = posed_avatar(text, seed=k + 1)
        side = int(0.92 * height)
        rgba = render.shaded(positions, faces, normals, uvs, texture, size=side, yaw=yaw, pitch=2.0)
        alpha = rgba[..., 3:] / 255.0
        x0 = int(first + slot * k - side / 2)
        y0 = height - side - int(0.03 * height)
        canvas_alpha = np.zeros((height, width, 1))
        canvas_rgb = np.zeros((height, width, 3))
        xs, xe = max(0, x0), min(width, x0 + side)
        canvas_alpha[y0 : y0 + side, xs:xe] = alpha[:, xs - x0 : xe - x0]
        canvas_rgb[y0 : y0 + side, xs:xe] = rgba[:, xs - x0 : xe - x0, :3]
        image = image * (1 - canvas_alpha) + canvas_rgb * canvas_alpha
        front = canvas_alpha[..., 0] > 0.5
        masks = [m & ~front for m in masks] + [front]
    return np.round(image).astype(np.uint8), masks


def save(path, rgb: np.ndarray, alpha: np.ndarray | None = None):
    """Write an RGB (or RGB + alpha) image as PNG; returns the path."""
    if alpha is None:
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    else:
        cv2.imwrite(str(path), cv2.cvtColor(np.dstack([rgb, alpha]), cv2.COLOR_RGBA2BGRA))
    return path
