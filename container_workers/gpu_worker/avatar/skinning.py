"""Smooth skin weights for the humanoid: each vertex starts on the bone of the shape it lies on, then weights diffuse over the mesh."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from container_workers.common import skeleton
from container_workers.gpu_worker.avatar import sdf
from container_workers.gpu_worker.avatar.humanoid import NAMES, SPINE, Humanoid

MAX_INFLUENCES = 4
SMOOTHING_ITERATIONS = 14


def adjacency(faces: np.ndarray, count: int) -> scipy.sparse.csr_matrix:
    """The row-normalised vertex adjacency of a triangle mesh (each row averages a vertex's neighbours)."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    matrix = scipy.sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count)).tocsr()
    matrix = ((matrix + matrix.T) > 0).astype(np.float64)
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    return scipy.sparse.diags(1.0 / np.maximum(degree, 1.0)) @ matrix


def rigid_weights(humanoid: Humanoid, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex weights (N, J) before smoothing, and each vertex's rest position and arm flag (N, 4), as in Fields.

    Torso shapes are split between Hips, Spine, Spine1 and Spine2 by height; a skirt or coat tail hangs from the hips
    and follows each thigh more towards its hem.
    """
    fields = humanoid.fields(vertices)
    layered, extras, rest = fields.layered, fields.extras, fields.rest
    bone = np.array([skeleton.INDEX[s.joint] for s in humanoid.shapes])[fields.nearest]
    torso = np.isin(bone, [skeleton.INDEX[b] for b in SPINE])
    heights = np.array([humanoid.joint(b)[1] for b in SPINE[1:]])
    bone[torso] = np.array([skeleton.INDEX[b] for b in SPINE])[np.searchsorted(heights, rest[torso, 1])]
    weights = np.zeros((len(vertices), len(NAMES)))
    weights[np.arange(len(vertices)), bone] = 1.0
    if extras:
        margins = np.stack([layered - d for d in extras])
        winner = np.argmax(margins, axis=0)
        on_extra = margins[winner, np.arange(len(vertices))] > 0
        for i, shape in enumerate(humanoid.extras):
            on = on_extra & (winner == i)
            weights[on] = 0.0
            if shape.name.endswith("Skirt"):
                weights[on] = _skirt_weights(humanoid, vertices[on])
            else:
                weights[on, skeleton.INDEX[shape.joint]] = 1.0
    return weights, rest


def _skirt_weights(humanoid: Humanoid, points: np.ndarray) -> np.ndarray:
    hips = humanoid.joint("Hips")
    knee = humanoid.joint("LeftLeg")
    towards_hem = np.clip((hips[1] - points[:, 1]) / max(hips[1] - knee[1], 1e-6), 0.0, 1.0)
    left = sdf.smoothstep(-0.06 * humanoid.scale, 0.06 * humanoid.scale, points[:, 0])
    weights = np.zeros((len(points), len(NAMES)))
    weights[:, skeleton.INDEX["Hips"]] = 1.0 - 0.7 * towards_hem
    weights[:, skeleton.INDEX["LeftUpLeg"]] = 0.7 * towards_hem * left
    weights[:, skeleton.INDEX["RightUpLeg"]] = 0.7 * towards_hem * (1.0 - left)
    return weights


def skin(
    humanoid: Humanoid,
    vertices: np.ndarray,
    faces: np.ndarray,
    follow: np.ndarray | None = None,
    nearest: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(joints (N, 4) uint8, weights (N, 4) summing to 1, dominant bone (N,), rest positions and arm flags (N, 4)) for a posed mesh.

    `follow` (0..1 per vertex) blends a vertex's weights towards those of vertex `nearest[i]`: a detail region's
    mesh where it overlaps the body's takes the body's weights, so the two surfaces move as one.
    """
    weights, rest = rigid_weights(humanoid, vertices)
    average = adjacency(faces, len(vertices))
    for _ in range(SMOOTHING_ITERATIONS):
        weights = 0.5 * weights + 0.5 * (average @ weights)
    if follow is not None and nearest is not None:
        weights = follow[:, None] * weights[nearest] + (1.0 - follow[:, None]) * weights
    order = np.argsort(-weights, axis=1, kind="stable")[:, :MAX_INFLUENCES]
    top = np.take_along_axis(weights, order, axis=1)
    top[top < 1e-3] = 0.0
    top /= top.sum(axis=1, keepdims=True)
    joints = np.where(top > 0, order, 0).astype(np.uint8)
    return joints, top, order[:, 0], rest


def blend_matrices(joints: np.ndarray, weights: np.ndarray, bind: np.ndarray, posed: np.ndarray) -> np.ndarray:
    """Per-vertex linear-blend skinning matrices (N, 4, 4) taking the bind pose (J, 4, 4 world) to the posed one."""
    per_joint = posed @ np.linalg.inv(bind)
    return np.einsum("nk,nkij->nij", weights, per_joint[joints.astype(np.int64)])


def deform(vertices: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Vertices (N, 3) moved by their skinning matrices (N, 4, 4)."""
    return np.einsum("nij,nj->ni", matrices[:, :3, :3], vertices) + matrices[:, :3, 3]
