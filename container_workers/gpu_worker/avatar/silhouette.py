"""Silhouette fitting: the posed avatar's outline slides onto the person's outline in the photo.

Vertices on the rendered outline move across the view, along their normal as seen on screen, to where the person's
mask ends, or towards where the avatar's own outline resumes: a gap between a hanging arm and the torso that the mask
fills (a loose suit) is closed by the torso, legs close it half each, and an arm never grows into it (carried back to
the T-pose, that would hang a fin under the arm). How far the mask may pull is a girth fit per bone: the new outline
must stay within a human girth (in loose clothes) of the vertex's bone axis, so a coat's back or a head of hair is
reached wherever the bone is, while an object held in a hand, which lies further from any bone, pulls nothing. Every
other vertex follows by diffusion over the mesh, so fronts and backs stay smooth. A few rounds re-render the outline
in between.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import trimesh

from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar.fit import Camera
from container_workers.gpu_worker.avatar.skinning import adjacency

REACH = 0.35  # the farthest an outline vertex looks for the mask's edge outwards, as a fraction of the avatar's height
SHRINK = 0.06  # ... and inwards (further, a thin finger off the mask would find the torso behind it)
# The farthest the outline may lie from a bone's axis (metres of the posed avatar, seen across the view): a human body
# part in loose clothes (a coat's rounded back seen side-on, hair around the skull); the mask beyond this is not this
# part of the body. Not scaled by the estimated height: a bent or cut-off body understates it.
GIRTH: dict[str, float] = {
    "Hips": 0.34,
    "Spine": 0.34,
    "Neck": 0.16,
    "Head": 0.24,
    "Shoulder": 0.24,
    "Arm": 0.12,
    "ForeArm": 0.1,
    "Hand": 0.1,
    "UpLeg": 0.16,
    "Leg": 0.13,
    "Foot": 0.12,
    "ToeBase": 0.12,
}
# The share of a gap in the avatar's outline, filled by the mask, that a part's outline grows across.
GAP_SHARE: dict[str, float] = {"Hips": 1.0, "Spine": 1.0, "Arm": 0.0, "ForeArm": 0.0, "Hand": 0.0}
ROUNDS = 3
STEP = 0.85  # each round moves this share of the way
_RIM_PIXELS = 2.0  # a vertex this close to the rendered outline is on it
_GRAZING = 0.6  # ... and faces sideways (|normal . view| below this)
_DIFFUSION = 40


@dataclass
class Axes:
    """Per vertex: the posed axis of its bone (segment a-b, metres) and how far from it the outline may lie (metres)."""

    a: np.ndarray  # (N, 3)
    b: np.ndarray  # (N, 3)
    girth: np.ndarray  # (N,)
    gap_share: np.ndarray  # (N,)


def part_of(name: str) -> str:
    """The key of GIRTH for a joint name (sides dropped; Spine1, Spine2 as Spine; fingers as the hand)."""
    bare = name.removeprefix("Left").removeprefix("Right").rstrip("0123456789")
    return "Hand" if bare.startswith("Hand") else bare


def bone_axes(posed: np.ndarray, bones: np.ndarray, names: list[str], parents: list[int], joints: np.ndarray) -> Axes:
    """Each vertex's bone axis in the posed mesh: from its dominant joint (posed position, joints (J, 3)) to its
    children's mean, or for a joint without children (head, toes, finger tips) to its vertices' centroid."""
    ends = joints.copy()
    for j in range(len(names)):
        children = [c for c, p in enumerate(parents) if p == j]
        if children:
            ends[j] = joints[children].mean(axis=0)
        elif (bones == j).any():
            ends[j] = posed[bones == j].mean(axis=0)
    girth = np.array([GIRTH[part_of(n)] for n in names])
    share = np.array([GAP_SHARE.get(part_of(n), 0.5) for n in names])
    return Axes(joints[bones], ends[bones], girth[bones], share[bones])


def axis_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance (N,) of 2D points from 2D segments a-b (all (N, 2))."""
    ab = b - a
    t = np.clip(((points - a) * ab).sum(axis=1) / np.maximum((ab**2).sum(axis=1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(points - a - t[:, None] * ab, axis=1)


def _inside(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether photo points (..., 2; pixel centres at +0.5) fall on the mask (outside the photo: no)."""
    h, w = mask.shape
    col, row = np.floor(points[..., 0]).astype(int), np.floor(points[..., 1]).astype(int)
    ok = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    out = np.zeros(points.shape[:-1], bool)
    out[ok] = mask[row[ok], col[ok]]
    return out


def outline_offsets(
    points: np.ndarray,
    directions: np.ndarray,
    mask: np.ndarray,
    reach: float,
    seen: np.ndarray | None = None,
    shrink: float | None = None,
    gap_share: np.ndarray | float = 0.5,
) -> np.ndarray:
    """Signed distance (pixels) along each unit direction from each point to the mask's edge; 0 when none within reach.

    Positive: the mask goes on beyond the point (grow outwards); negative: the point is outside it (shrink). With
    `seen` (the avatar's current silhouette), growing stops at `gap_share` (per point) of the way to where the ray,
    having left the avatar, meets it again inside the mask (the other side of the gap grows the rest), and a ray that
    runs on inside the avatar (it points into another part of the body) does not grow. Shrinking looks `shrink`
    pixels back (default: `reach`).
    """
    steps = np.arange(1, int(np.ceil(reach)) + 1, dtype=np.float64)
    start = _inside(mask, points)
    out = np.zeros(len(points))
    ahead = points[:, None, :] + steps[None, :, None] * directions[:, None, :]
    forward = _inside(mask, ahead)
    inward = steps[steps <= (reach if shrink is None else shrink)]
    backward = _inside(mask, points[:, None, :] - inward[None, :, None] * directions[:, None, :])
    leaves = ~forward
    first_out = np.where(leaves.any(axis=1), leaves.argmax(axis=1), -1)
    first_in = np.where(backward.any(axis=1), backward.argmax(axis=1), -1)
    grow = start & (first_out >= 0)
    out[grow] = steps[first_out[grow]] - 0.5
    if seen is not None:
        own = _inside(seen, ahead)
        left = np.maximum.accumulate(~own, axis=1)  # the ray has been outside the avatar
        meets = left & own  # ... and meets it again
        blocked = meets | (own & ~left & (steps > 2 * _RIM_PIXELS))  # or runs on inside it: it points into the avatar
        first_block = np.where(blocked.any(axis=1), blocked.argmax(axis=1), len(steps))
        ends = np.where(first_out >= 0, first_out, len(steps))
        out[start & (first_block < ends)] = 0.0
        gap = start & (first_block < ends) & meets[np.arange(len(out)), np.minimum(first_block, len(steps) - 1)]
        out[gap] = (np.broadcast_to(gap_share, out.shape) * steps[np.minimum(first_block, len(steps) - 1)])[gap]
    inwards = ~start & (first_in >= 0)
    out[inwards] = -(inward[first_in[inwards]] - 0.5)
    return out


def fit(
    posed: np.ndarray,
    faces: np.ndarray,
    camera: Camera,
    mask: np.ndarray,
    height: float,
    axes: Axes,
    rounds: int = ROUNDS,
) -> np.ndarray:
    """Displacements (N, 3) of posed vertices (metres, in the view plane) that lay the avatar's outline on the mask,
    no further from each vertex's bone axis than its girth."""
    average = adjacency(faces, len(posed))
    reach, shrink = REACH * height * camera.scale, SHRINK * height * camera.scale
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
        offsets = outline_offsets(pixels[rim], directions, mask, reach, seen, shrink, axes.gap_share[rim])
        target = pixels[rim] + offsets[:, None] * directions
        bone = camera.pixels(axes.a[rim]), camera.pixels(axes.b[rim])
        offsets[(offsets > 0) & (axis_distance(target, *bone) > axes.girth[rim] * camera.scale)] = 0.0
        move[rim] = offsets[:, None] * directions
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
