"""A human-looking textured figure for the harness: a TEXT_TO_AVATAR avatar with finger capsules, animated as a GLB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.avatar import prompt
from container_workers.gpu_worker.avatar.stage import build
from container_workers.gpu_worker.exchange import gltf

FINGER_RADIUS = {"Thumb": 0.011, "Index": 0.009, "Middle": 0.0095, "Ring": 0.009, "Pinky": 0.008}


def _capsule(a: np.ndarray, b: np.ndarray, radius: float, segments: int = 8, rings: int = 5):
    """An ellipsoid covering the segment a..b: positions, normals, triangles."""
    axis = b - a
    length = float(np.linalg.norm(axis))
    z = axis / length
    x = np.cross(z, [0.0, 1.0, 0.0] if abs(z[1]) < 0.9 else [1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    theta = np.linspace(0, np.pi, rings + 1)
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    unit = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1).reshape(-1, 3)
    basis = np.stack([x, y, z])
    half = length / 2 + radius * 0.6
    pos = (a + b) / 2 + (unit * [radius, radius, half]) @ basis
    normals = unit @ basis
    tris = []
    for r in range(rings):
        for s in range(segments):
            n = (s + 1) % segments
            p, q = r * segments, (r + 1) * segments
            tris += [(p + s, q + s, q + n), (p + s, q + n, p + n)]
    return pos, normals, np.array(tris)


def build_figure(description: str, seed: int, triangles: int = 20_000, texture: int = 512):
    """(meshes, glTF skeleton with finger joints, rest offsets (J, 3)) of a textured avatar with fingers."""
    spec = prompt.parse(description, seed)
    mesh, bones, _ = build(spec, "T", triangles, texture, lambda pct, msg: None)
    body = np.asarray(bones.translations, dtype=np.float64)
    hand_scale = np.linalg.norm(body[skeleton.INDEX["LeftHand"]]) / np.linalg.norm(
        skeleton.offsets()[skeleton.INDEX["LeftHand"]]
    )
    fingers = skeleton.offsets(hands=True)[len(skeleton.NAMES) :] * hand_scale
    offsets = np.vstack([body, fingers])
    names = list(skeleton.names(hands=True))
    parents = [skeleton.INDEX[skeleton.PARENTS[n]] if skeleton.PARENTS[n] else -1 for n in names]
    rig = gltf.Skeleton(names, parents, offsets)
    rest = rig.world_matrices()[:, :3, 3]
    ends = skeleton.end_sites(hands=True)
    pos, nrm, tri, jnt = [], [], [], []
    for name in skeleton.HAND_NAMES:
        j = skeleton.INDEX[name]
        kids = skeleton.children(name, hands=True)
        end = rest[skeleton.INDEX[kids[0]]] if kids else rest[j] + np.array(ends[name]) * hand_scale
        finger = next(f for f in skeleton.FINGERS if f in name)
        p, n, t = _capsule(rest[j], end, FINGER_RADIUS[finger] * hand_scale)
        tri.append(t + sum(len(q) for q in pos))
        pos.append(p)
        nrm.append(n)
        jnt.append(np.full(len(p), j))
    count = sum(len(p) for p in pos)
    joints = np.zeros((count, 4), dtype=np.int64)
    joints[:, 0] = np.concatenate(jnt)
    weights = np.zeros((count, 4))
    weights[:, 0] = 1.0
    skin = tuple(c / 255 for c in spec.skin_rgb) + (1.0,)
    finger_mesh = gltf.Mesh(
        "Fingers",
        np.vstack(pos),
        np.vstack(tri),
        np.vstack(nrm),
        joints=joints,
        weights=weights,
        material=gltf.Material("skin", base_color=skin, roughness=0.7),
    )
    return [mesh, finger_mesh], rig, offsets


def write_animated(path: Path, meshes, rig: gltf.Skeleton, R: np.ndarray, root: np.ndarray, fps: float) -> Path:
    """The figure playing local rotations (T, J, 3, 3) and a Hips path (T, 3), one key per frame."""
    times = np.arange(len(R)) / fps
    quats = Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat().reshape(len(R), -1, 4)
    channels = [gltf.Channel(j, "rotation", times, quats[:, j]) for j in range(R.shape[1])]
    channels.append(gltf.Channel(0, "translation", times, root))
    return gltf.write_glb(path, meshes, rig, [gltf.Animation("motion", channels)], name="figure")
