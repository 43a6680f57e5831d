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


def vase_photo(size: tuple[int, int] = (480, 640)) -> tuple[np.ndarray, np.ndarray]:
    """A drawn vase (a body of revolution: shaded, a blue label band with white text on its front) and its mask."""
    width, height = size
    image = np.full((height, width, 3), (236, 232, 224), np.uint8)
    mask = np.zeros((height, width), bool)
    top, bottom, cx = int(0.12 * height), int(0.9 * height), width / 2
    for y in range(top, bottom):
        t = (y - top) / (bottom - top)
        r = width * (0.1 + 0.17 * np.sin(np.pi * (0.15 + 0.8 * t)) ** 2 + 0.03 * (t < 0.08))
        xs = np.arange(int(cx - r), int(cx + r) + 1)
        u = (xs - cx) / r
        shade = 0.45 + 0.55 * np.sqrt(np.clip(1 - u**2, 0, 1)) * (0.8 + 0.2 * u)
        colour = np.array((196, 92, 48)) if not 0.45 < t < 0.62 else np.array((40, 70, 160))
        image[y, xs] = np.clip(colour * shade[:, None], 0, 255).astype(np.uint8)
        mask[y, xs] = True
    cv2.putText(
        image,
        "VASE",
        (int(cx - 0.11 * width), int(0.57 * height)),
        cv2.FONT_HERSHEY_SIMPLEX,
        width / 420,
        (250, 250, 250),
        3,
    )
    return image, mask


def box_photo(size: int = 560, yaw: float = 35.0, pitch: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """A drawn box seen from above towards a corner (an orthographic view of a rotated box: three shaded faces, a logo
    on the right one) and its mask."""
    from container_workers.gpu_worker.render import rotation

    axes = np.array([[0.34, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.28]]) @ rotation(yaw, pitch).T  # rows: edges
    a, up, b = (np.array([e[0], -e[1]]) * size for e in axes)  # on screen (y down)
    ea, eb = (a if a[1] < 0 else -a), (b if b[1] < 0 else -b)  # from the nearest (lowest) corner, up the screen
    near = np.array([0.5, 0.5]) * size - (ea + eb + up) / 2
    image = np.full((size, size, 3), (228, 230, 234), np.uint8)
    top = near + up
    faces = [
        ((near, near + ea, near + ea + up, near + up), (170, 120, 60)),
        ((near, near + eb, near + eb + up, near + up), (120, 84, 42)),
        ((top, top + ea, top + ea + eb, top + eb), (205, 160, 95)),
    ]
    for corners, colour in faces:
        cv2.fillConvexPoly(image, np.round(np.array(corners)).astype(np.int32), colour, cv2.LINE_AA)
    logo = near + 0.5 * ea + 0.45 * up
    cv2.circle(image, tuple(int(v) for v in logo), int(0.05 * size), (30, 30, 160), -1, cv2.LINE_AA)
    mask = np.zeros((size, size), np.uint8)
    for corners, _ in faces:
        cv2.fillConvexPoly(mask, np.round(np.array(corners)).astype(np.int32), 1)
    return image, mask > 0


def pebble_photo(size: int = 520) -> tuple[np.ndarray, np.ndarray]:
    """A drawn compact, irregular object (a shaded pebble with a painted face) and its mask."""
    image = np.full((size, size, 3), (232, 232, 228), np.uint8)
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    radius = size * (0.3 + 0.04 * np.sin(3 * angles + 0.4) + 0.03 * np.cos(5 * angles))
    outline = np.stack([size / 2 + 1.15 * radius * np.cos(angles), size / 2 + radius * np.sin(angles)], axis=1)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
    ys, xs = np.mgrid[0:size, 0:size]
    light = np.clip(1.0 - ((xs - 0.42 * size) ** 2 + (ys - 0.4 * size) ** 2) / (0.45 * size) ** 2, 0.35, 1.0)
    image[mask > 0] = (np.array((90, 150, 110)) * light[mask > 0][:, None]).astype(np.uint8)
    for dx in (-0.08, 0.08):
        cv2.circle(image, (int(size * (0.5 + dx)), int(0.45 * size)), int(0.025 * size), (20, 20, 20), -1)
    cv2.ellipse(image, (size // 2, int(0.56 * size)), (int(0.08 * size), int(0.03 * size)), 0, 0, 180, (20, 20, 20), 4)
    return image, mask > 0
