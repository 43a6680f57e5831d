"""Silhouette fitting: the outline grows to the mask within a girth of each bone, gaps the mask fills close from the
torso, and a held object beyond every bone's girth pulls nothing."""

from __future__ import annotations

import cv2
import numpy as np
import trimesh

from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar import silhouette
from container_workers.gpu_worker.avatar.fit import Camera

CAMERA = Camera(400.0, (200.0, 200.0))
SHAPE = (400, 480)


def upright(radius: float, x: float) -> trimesh.Trimesh:
    """A vertical capsule (0.6 m between its caps' centres) at (x, 0, 0), with vertices every 2 cm or less."""
    capsule = trimesh.creation.capsule(height=0.6, radius=radius, count=[24, 24]).subdivide_to_size(0.02)
    capsule.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    capsule.apply_translation((x, 0.0, 0.0))
    return capsule


def drawn(mesh: trimesh.Trimesh) -> np.ndarray:
    """A mesh's silhouette through CAMERA."""
    return render.silhouette(CAMERA.pixels(mesh.vertices) - 0.5, mesh.faces, SHAPE)


def test_the_outline_fills_the_body_but_not_a_held_object():
    torso, arm = upright(0.15, 0.0), upright(0.05, 0.26)
    posed = np.concatenate([torso.vertices, arm.vertices])
    faces = np.concatenate([torso.faces, arm.faces + len(torso.vertices)])
    is_arm = np.arange(len(posed)) >= len(torso.vertices)
    # The person: a coat wider than the torso on the left, filling the gap up to the hanging arm, and the arm.
    body = drawn(upright(0.25, 0.0)) | drawn(arm)
    gap = np.zeros(SHAPE, bool)
    (left, right), (top, bottom) = CAMERA.pixels(np.array([[0.14, 0.3, 0], [0.22, -0.3, 0]])).astype(int).T
    gap[top:bottom, left:right] = True
    body |= gap
    held = np.zeros(SHAPE, np.uint8)  # a ball held beside the arm, touching it
    cv2.circle(held, CAMERA.pixels(np.array([[0.43, 0.0, 0.0]])).astype(int)[0].tolist(), 48, 1, -1)
    held = (held > 0) & ~body
    mask = body | held

    def axis(x: float) -> np.ndarray:
        return np.array([[x, -0.3, 0.0], [x, 0.3, 0.0]])

    ends = np.where(is_arm[:, None, None], axis(0.26)[None], axis(0.0)[None])
    axes = silhouette.Axes(
        ends[:, 0],
        ends[:, 1],
        np.where(is_arm, silhouette.GIRTH["ForeArm"], silhouette.GIRTH["Spine"]),
        np.where(is_arm, silhouette.GAP_SHARE["ForeArm"], silhouette.GAP_SHARE["Spine"]),
    )
    before = render.silhouette(CAMERA.pixels(posed) - 0.5, faces, SHAPE)
    move = silhouette.fit(posed, faces, CAMERA, mask, 1.0, axes)
    after = render.silhouette(CAMERA.pixels(posed + move) - 0.5, faces, SHAPE)

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return float((a & b).sum() / (a | b).sum())

    assert iou(before, body) < 0.8 < 0.9 < iou(after, body)
    assert (after & gap).sum() > 0.9 * gap.sum()  # the gap the coat fills is closed ...
    arm_side = posed[is_arm, 0] < 0.26
    assert np.abs(move[is_arm][arm_side, 0]).max() < 0.01  # ... by the torso: the arm does not grow a fin into it
    assert (after & held).sum() < 0.05 * held.sum()  # the ball lies beyond the arm's girth: not body
