"""The avatar's texture: UV charts per body part, and colours (skin, face, hair, clothing patterns, baked occlusion) from T-pose positions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker.avatar import sdf
from container_workers.gpu_worker.avatar.humanoid import BROW_Y, EYE, MOUTH_Y, NAMES, SPINE, Humanoid
from container_workers.gpu_worker.avatar.uv_atlas import Chart

MATERIALS = ("skin", "hair", "beard", "top", "dress", "outer", "bottom", "feet", "hands", "head")
_KNIT = {"sweater", "turtleneck", "beanie"}
_CHART_BONES = {
    "head": ("Head", "Neck"),
    "torso": (*SPINE, "LeftShoulder", "RightShoulder"),
    "armL": ("LeftArm", "LeftForeArm", "LeftHand"),
    "armR": ("RightArm", "RightForeArm", "RightHand"),
    "legL": ("LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase"),
    "legR": ("RightUpLeg", "RightLeg", "RightFoot", "RightToeBase"),
}


def charts(humanoid: Humanoid) -> tuple[list[Chart], np.ndarray]:
    """The six charts (cylinders around the head and neck, torso, arms and legs in the T-pose) and the chart index of every joint."""
    s, hs = humanoid.scale, humanoid.head
    shoulder = humanoid.joint("LeftArm")
    hip = humanoid.joint("LeftUpLeg")
    out = [
        Chart("head", (0, 0, 0), (0, 1, 0), (0, 0, 1), 0.09 * hs, density=2.0),
        Chart("torso", (0, 0, 0), (0, 1, 0), (0, 0, 1), 0.15 * s),
        Chart("armL", (0, shoulder[1], 0), (1, 0, 0), (0, 1, 0), 0.045 * s),
        Chart("armR", (0, shoulder[1], 0), (-1, 0, 0), (0, 1, 0), 0.045 * s),
        Chart("legL", (hip[0], 0, 0), (0, 1, 0), (0, 0, 1), 0.07 * s),
        Chart("legR", (-hip[0], 0, 0), (0, 1, 0), (0, 0, 1), 0.07 * s),
    ]
    joint_chart = np.zeros(len(NAMES), dtype=np.int64)
    for c, chart in enumerate(out):
        for bone in _CHART_BONES[chart.name]:
            joint_chart[skeleton.INDEX[bone]] = c
    for name in skeleton.HAND_NAMES:  # fingers unroll around their arm's axis (folds go to planar patches)
        joint_chart[skeleton.INDEX[name]] = joint_chart[skeleton.INDEX[name[: name.index("Hand") + 4]]]
    return out, joint_chart


def occlusion(
    distance: Callable[[np.ndarray], np.ndarray], vertices: np.ndarray, normals: np.ndarray, step: float
) -> np.ndarray:
    """Ambient occlusion in [0, 1] (1 open) from how close the field comes to points stepped out along the normal."""
    occluded = np.zeros(len(vertices))
    for k in range(1, 5):
        reach = k * step
        occluded += (reach - distance(vertices + normals * reach)) / reach * 0.5**k
    return np.clip(1.0 - 1.3 * occluded, 0.0, 1.0)


def _mix(base: np.ndarray, colour, amount: np.ndarray) -> np.ndarray:
    return base + (np.asarray(colour, float) - base) * np.asarray(amount, float)[:, None]


def materials(humanoid: Humanoid, rest: np.ndarray, extra_margins: np.ndarray) -> np.ndarray:
    """The visible material (index into MATERIALS) at surface points given by `rest` (as in Fields) and extras' margins (E, N)."""
    out = np.zeros(len(rest), dtype=np.int64)
    if humanoid.layers:
        present = np.stack([layer.coverage(rest) for layer in humanoid.layers]) > 0.5
        thickness = np.array([layer.thickness for layer in humanoid.layers])[:, None]
        winner = np.argmax(np.where(present, thickness, -1.0), axis=0)  # the outermost layer worn here
        present = present[winner, np.arange(len(rest))]
        names = np.array([MATERIALS.index(layer.material) for layer in humanoid.layers])
        out[present] = names[winner[present]]
    if len(extra_margins):
        best = np.argmax(extra_margins, axis=0)
        on = extra_margins[best, np.arange(len(rest))] > 0
        names = np.array([MATERIALS.index(shape.material) for shape in humanoid.extras])
        out[on] = names[best[on]]
    return out


def _face(humanoid: Humanoid, rest: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """Paint eyes, eyebrows, cheeks and lips on the skin colour of points in front of the head."""
    spec = humanoid.spec
    male = spec.sex == "male"
    q = (rest - humanoid.joint("Head")) / humanoid.head
    front = q[:, 2] > 0.04
    for side in (1.0, -1.0):
        ex, ey = q[:, 0] - side * EYE[0], q[:, 1] - EYE[1]
        eye = front & ((ex / 0.0135) ** 2 + (ey / 0.0072) ** 2 < 1.0)
        colour[eye] = (0.93, 0.91, 0.88)
        radius = np.hypot(ex, ey)
        iris = eye & (radius < 0.0066)
        colour[iris] = np.asarray(spec.eye_rgb) / 255.0 * (1.15 - 0.45 * radius[iris] / 0.0066)[:, None]
        colour[eye & (radius < 0.0031)] = (0.05, 0.04, 0.04)
        lid = (
            front & (np.abs(ex) < 0.0145) & (ey > 0.0) & (np.abs((ex / 0.0135) ** 2 + (ey / 0.0072) ** 2 - 1.0) < 0.28)
        )
        colour[lid] = (0.14, 0.1, 0.09)
        u = (q[:, 0] - side * 0.034) / 0.018
        arc = BROW_Y + 0.005 * (1.0 - u**2)
        brow = (
            front & (np.abs(u) < 1.0) & (np.abs(q[:, 1] - arc) < (0.0036 if male else 0.0026) * (1.0 - 0.4 * np.abs(u)))
        )
        colour[brow] = np.asarray(spec.hair_rgb) / 255.0 * 0.75
        if not male:
            cheek = front & (np.hypot(q[:, 0] - side * 0.045, q[:, 1] - 0.012) < 0.022)
            colour[cheek] = _mix(colour[cheek], (0.85, 0.45, 0.42), np.full(int(cheek.sum()), 0.08))
    lips = front & ((q[:, 0] / 0.021) ** 2 + ((q[:, 1] - MOUTH_Y) / 0.0075) ** 2 < 1.0)
    colour[lips] = _mix(colour[lips], (0.72, 0.33, 0.36), np.full(int(lips.sum()), 0.2 if male else 0.45))
    colour[front & (np.abs(q[:, 1] - MOUTH_Y) < 0.0011) & (np.abs(q[:, 0]) < 0.019)] *= 0.55
    return colour


def _garment_colour(humanoid: Humanoid, slot: str, rest: np.ndarray) -> np.ndarray:
    g = humanoid.spec.garments[slot]
    s = humanoid.scale
    base = np.tile(np.asarray(g.rgb, float) / 255.0, (len(rest), 1))
    if g.kind == "jeans":
        twill = np.sin((rest[:, 0] + rest[:, 1]) * 2500.0 / s)
        fade = sdf.smoothstep(0.0, 0.08 * s, rest[:, 2]) * sdf.smoothstep(
            humanoid.joint("LeftLeg")[1], humanoid.joint("Hips")[1], rest[:, 1]
        )
        return base * (1.0 + 0.05 * twill + 0.18 * fade + 0.04 * sdf.wave_noise(rest, 300.0 / s))[:, None]
    if g.kind in _KNIT:
        ribs = np.sin(np.arctan2(rest[:, 0], rest[:, 2]) * 90.0 + rest[:, 0] * 400.0 / s)
        return base * (1.0 + 0.05 * ribs)[:, None]
    if slot == "feet":
        sole = rest[:, 1] < humanoid.lift + 0.005 * s
        shade = np.where(np.asarray(g.rgb).mean() > 128, 0.35, 0.92)
        base[sole] = shade
        return base * (1.0 + 0.03 * sdf.wave_noise(rest, 200.0 / s))[:, None]
    if g.kind == "hat":
        band = (rest[:, 1] > humanoid.joint("Head")[1] + 0.11 * humanoid.head) & (
            rest[:, 1] < humanoid.joint("Head")[1] + 0.13 * humanoid.head
        )
        base[band] *= 0.45
    return base * (1.0 + 0.025 * sdf.wave_noise(rest, 500.0 / s))[:, None]


def colour_function(humanoid: Humanoid, extras: int) -> Callable[[np.ndarray], np.ndarray]:
    """colour(texel attributes [T-pose xyz, arm flag, occlusion, extras' margins...]) -> RGB in 0..1 for the atlas."""
    spec = humanoid.spec

    def colour(attributes: np.ndarray) -> np.ndarray:
        rest, ao, margins = attributes[:, :4], attributes[:, 4], attributes[:, 5 : 5 + extras].T
        material = materials(humanoid, rest, margins)
        rest = rest[:, :3]
        out = np.tile(np.asarray(spec.skin_rgb, float) / 255.0, (len(rest), 1))
        out *= (1.0 + 0.02 * sdf.wave_noise(rest, 400.0 / humanoid.scale))[:, None]
        skin = material == 0
        out[skin] = _face(humanoid, rest[skin], out[skin])
        for name in ("hair", "beard"):
            on = material == MATERIALS.index(name)
            rgb = np.asarray(spec.hair_rgb if name == "hair" else spec.beard_rgb, float) / 255.0
            q = rest[on] - humanoid.joint("Head")
            strands = np.sin(
                np.arctan2(q[:, 0], q[:, 2]) * 110.0 + 9.0 * sdf.wave_noise(rest[on], 45.0 / humanoid.head)
            )
            fine = sdf.wave_noise(rest[on], 1400.0 / humanoid.head)
            curls = sdf.wave_noise(rest[on], 700.0 / humanoid.head) if spec.hair_texture == "curly" else 0.0
            out[on] = rgb * (1.0 + 0.05 * strands + 0.05 * fine + 0.1 * curls)[:, None]
        for slot in spec.garments:
            on = material == MATERIALS.index(slot)
            if on.any():
                out[on] = _garment_colour(humanoid, slot, rest[on])
        return np.clip(out, 0.0, 1.0) * (0.62 + 0.38 * ao)[:, None]

    return colour
