"""The parametric humanoid fitted to a person in a photo: proportions and pose from MediaPipe's landmarks, colours and
clothing from the photo's regions, and the orthographic camera that lays the posed avatar over the photo.

Landmarks are put in one metric frame: X and Y from the photo (pixels divided by the person's pixels per metre, so
the pose projects back onto the photo exactly), Z from MediaPipe's world landmarks. Parts of the body the photo does
not show reliably (outside the frame, or low visibility) take a default: legs straight, arms hanging, spine upright.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.avatar.prompt import COLOURS, EYE_COLOURS, SKIN_TONES, AvatarSpec, Garment
from container_workers.gpu_worker.image_to_3d.people import Person
from container_workers.gpu_worker.mocap.cleanup import HIP_MID, SHOULDER_MID, with_midpoints
from container_workers.gpu_worker.mocap.estimation import LM
from container_workers.gpu_worker.mocap.solve import align, local_rotations, solve_world_rotations

RELIABLE = 0.35  # landmark visibility from which the photo decides a bone
SAMPLED = 0.1  # ... and from which colours are sampled around it
HANG_DEGREES = 75.0  # an arm the photo does not show hangs this far below the T-pose
DEFAULT_HEIGHT = 1.72
REFERENCE_HEIGHT = 1.75  # skeleton.py's offsets are for this height
# Skeleton joints and the MediaPipe landmark at the same place.
JOINT_LANDMARKS: dict[str, str] = {
    f"{side}{joint}": f"{side.lower()}_{landmark}"
    for side in ("Left", "Right")
    for joint, landmark in (
        ("Arm", "shoulder"),
        ("ForeArm", "elbow"),
        ("Hand", "wrist"),
        ("UpLeg", "hip"),
        ("Leg", "knee"),
        ("Foot", "ankle"),
    )
}
_SKIN_DISTANCE = 22.0  # Lab distance under which a colour counts as the person's skin tone
_SAME_DISTANCE = 28.0  # Lab distance under which two garment colours count as one
_BALD_DISTANCE = 10.0  # the top of the head this close to the skin's colour is bare (blonde hair is further)


@dataclass(frozen=True)
class Camera:
    """An orthographic view along -Z: pixel = centre + scale * (X, -Y) of a posed point in metres (photo pixels)."""

    scale: float  # pixels per metre
    centre: tuple[float, float]  # the pixel the posed origin projects to

    def pixels(self, points: np.ndarray) -> np.ndarray:
        """Photo coordinates (N, 2; x right, y down, pixel centres at +0.5) of posed points (N, 3)."""
        return np.column_stack([self.centre[0] + self.scale * points[:, 0], self.centre[1] - self.scale * points[:, 1]])

    def describe(self) -> dict:
        """JSON for the metadata."""
        return {"pixelsPerMetre": round(self.scale, 4), "originPixel": [round(v, 3) for v in self.centre]}


@dataclass
class Observation:
    """What the photo says about a person: reliable landmarks, their metric positions, and the body's appearance."""

    reliable: np.ndarray  # (33,) bool
    points: np.ndarray  # (33, 3) metres, hip-centred: X, Y from the photo, Z from MediaPipe's depth
    spec: AvatarSpec
    measured: dict = field(default_factory=dict)  # facts for the metadata


def reliable_landmarks(person: Person, shape: tuple[int, int], threshold: float = RELIABLE) -> np.ndarray:
    """Landmarks at least `threshold` visible and inside the photo (1 % margin)."""
    h, w = shape
    xy = person.landmarks
    inside = (xy[:, 0] >= 0.01 * w) & (xy[:, 0] <= 0.99 * w) & (xy[:, 1] >= 0.01 * h) & (xy[:, 1] <= 0.99 * h)
    return (person.visibility >= threshold) & inside


def metric_points(person: Person, reliable: np.ndarray) -> tuple[np.ndarray, float]:
    """Landmarks in metres (X, Y from the photo, Z from the world landmarks; hip-centred) and pixels per metre."""
    use = reliable.copy()
    use[: LM["left_shoulder"]] = False  # the face is near the camera: its scale would overstate the body's
    if use.sum() < 3:
        use = reliable.copy()
    if use.sum() < 3:
        use = person.visibility >= 0.1
    world, image = person.world, person.landmarks
    w = world[use, :2] - world[use, :2].mean(axis=0)
    u = image[use] - image[use].mean(axis=0)
    scale = float((u[:, 0] * w[:, 0] - u[:, 1] * w[:, 1]).sum() / max((w**2).sum(), 1e-9))
    scale = max(scale, 1.0)
    points = np.column_stack([image[:, 0] / scale, -image[:, 1] / scale, world[:, 2]])
    hips = points[[LM["left_hip"], LM["right_hip"]]].mean(axis=0)
    return points - hips, scale


def _rz(degrees: float) -> np.ndarray:
    return Rotation.from_euler("z", degrees, degrees=True).as_matrix()


def photo_pose(points: np.ndarray, reliable: np.ndarray) -> np.ndarray:
    """World rotations (J, 3, 3) of the body joints (identity = the T-pose) that put the bones along the landmarks."""
    G = solve_world_rotations(points[None])[0]
    J = skeleton.INDEX
    ok = {name: bool(reliable[i]) for name, i in LM.items()}
    hips_seen = ok["left_hip"] and ok["right_hip"]
    if not hips_seen:  # an upright spine turned with the shoulders
        shoulders = points[LM["left_shoulder"]] - points[LM["right_shoulder"]]
        upright = align(np.array([0.0, 1.0, 0.0]), shoulders * (1, 0, 1), np.array([0, 1.0, 0]), np.array([1.0, 0, 0]))
        for name in ("Hips", "Spine", "Spine1", "Spine2", "LeftShoulder", "RightShoulder"):
            G[J[name]] = upright
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        s = side.lower()
        if not (ok[f"{s}_shoulder"] and ok[f"{s}_elbow"]):
            G[J[f"{side}Arm"]] = G[J["Spine2"]] @ _rz(-sign * HANG_DEGREES)
        if not (ok[f"{s}_elbow"] and ok[f"{s}_wrist"]) or not ok[f"{s}_shoulder"]:
            G[J[f"{side}ForeArm"]] = G[J[f"{side}Arm"]]
        if not (ok[f"{s}_wrist"] and ok[f"{s}_index"] and ok[f"{s}_pinky"]):
            G[J[f"{side}Hand"]] = G[J[f"{side}ForeArm"]]
        if not (hips_seen and ok[f"{s}_knee"]):
            G[J[f"{side}UpLeg"]] = G[J["Hips"]]
        if not (hips_seen and ok[f"{s}_knee"] and ok[f"{s}_ankle"]):
            G[J[f"{side}Leg"]] = G[J[f"{side}UpLeg"]]
        if not (ok[f"{s}_ankle"] and ok[f"{s}_foot_index"]) or not hips_seen:
            G[J[f"{side}Foot"]] = G[J[f"{side}ToeBase"]] = G[J[f"{side}Leg"]]
    return G


# The landmarks that must be reliable for the photo to show a bone (its joint and the next one).
_BONE_LANDMARKS: dict[str, tuple[str, ...]] = {
    "Hips": ("left_hip", "right_hip"),
    "Spine": ("left_shoulder", "right_shoulder"),
    "Spine1": ("left_shoulder", "right_shoulder"),
    "Spine2": ("left_shoulder", "right_shoulder"),
    "Neck": ("left_shoulder", "right_shoulder", "nose"),
    "Head": ("nose", "left_eye", "right_eye"),
    **{
        f"{side}{bone}": tuple(f"{side.lower()}_{m}" for m in marks)
        for side in ("Left", "Right")
        for bone, marks in (
            ("Shoulder", ("shoulder",)),
            ("Arm", ("shoulder", "elbow")),
            ("ForeArm", ("elbow", "wrist")),
            ("Hand", ("wrist", "index", "pinky")),
            ("UpLeg", ("hip", "knee")),
            ("Leg", ("knee", "ankle")),
            ("Foot", ("ankle", "foot_index")),
            ("ToeBase", ("ankle", "foot_index")),
        )
    },
}


def shown_bones(reliable: np.ndarray, names: list[str]) -> np.ndarray:
    """For each joint name, whether the photo shows its bone reliably (fingers: as their hand)."""
    out = []
    for name in names:
        bone = name if name in _BONE_LANDMARKS else name[: name.index("Hand") + 4]
        out.append(all(reliable[LM[m]] for m in _BONE_LANDMARKS[bone]))
    return np.array(out)


def local_quaternions(world: np.ndarray, joint_count: int) -> np.ndarray:
    """Local rotations (joint_count, 4; x, y, z, w) from body world rotations; joints past the body stay at rest."""
    local = local_rotations(world[None])[0]
    quats = np.tile([0.0, 0.0, 0.0, 1.0], (joint_count, 1))
    quats[: len(local)] = Rotation.from_matrix(local).as_quat()
    return quats


def fit_camera(joints: np.ndarray, person: Person, reliable: np.ndarray, fallback: float) -> Camera:
    """The scale and offset that best lay the posed joints (J, 3) on the reliable landmarks (least squares)."""
    pairs = [(skeleton.INDEX[j], LM[m]) for j, m in JOINT_LANDMARKS.items() if reliable[LM[m]]]
    if len(pairs) < 2:
        pairs = [(skeleton.INDEX[j], LM[m]) for j, m in JOINT_LANDMARKS.items() if m.endswith("shoulder")]
    model = joints[[a for a, _ in pairs]][:, :2] * (1.0, -1.0)
    image = person.landmarks[[b for _, b in pairs]]
    m, i = model - model.mean(axis=0), image - image.mean(axis=0)
    scale = float((m * i).sum() / max((m**2).sum(), 1e-9))
    if not np.isfinite(scale) or scale <= 0:
        scale = fallback
    centre = image.mean(axis=0) - scale * model.mean(axis=0)
    return Camera(scale, (float(centre[0]), float(centre[1])))


# ---- proportions --------------------------------------------------------------------------------------------------
def _length(points: np.ndarray, a: str, b: str) -> float:
    return float(np.linalg.norm(points[LM[a]] - points[LM[b]]))


def proportions(points: np.ndarray, reliable: np.ndarray) -> tuple[float, dict[str, float]]:
    """The height (metres) and per-chain length factors the reliable bones suggest (1 where the photo says nothing)."""
    ref = skeleton.rest_positions()
    J = skeleton.INDEX
    ref_shoulders = float(np.linalg.norm(ref[J["LeftArm"]] - ref[J["RightArm"]]))
    ref_torso = float(ref[J["LeftArm"], 1] - ref[J["LeftUpLeg"], 1])
    ref_arm = float(np.linalg.norm(ref[J["LeftHand"]] - ref[J["LeftArm"]]))
    ref_leg = float(np.linalg.norm(ref[J["LeftFoot"]] - ref[J["LeftUpLeg"]]))
    seen = {name: bool(reliable[i]) for name, i in LM.items()}
    mid = with_midpoints(points[None])[0]
    shoulders = (
        _length(points, "left_shoulder", "right_shoulder") if seen["left_shoulder"] and seen["right_shoulder"] else None
    )
    torso = (
        float(np.linalg.norm(mid[SHOULDER_MID] - mid[HIP_MID]))
        if all(seen[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
        else None
    )
    if torso is not None:
        height = REFERENCE_HEIGHT * torso / ref_torso
    elif shoulders is not None:
        height = REFERENCE_HEIGHT * shoulders / ref_shoulders
    else:
        height = DEFAULT_HEIGHT
    height = float(np.clip(height, 1.5, 1.95))
    unit = height / REFERENCE_HEIGHT
    factors: dict[str, float] = {}
    if torso is not None and shoulders is not None:
        factors["shoulder"] = float(np.clip(shoulders / (ref_shoulders * unit), 0.88, 1.12))
    arms = [
        _length(points, f"{s}_shoulder", f"{s}_elbow") + _length(points, f"{s}_elbow", f"{s}_wrist")
        for s in ("left", "right")
        if seen[f"{s}_shoulder"] and seen[f"{s}_elbow"] and seen[f"{s}_wrist"]
    ]
    if arms:
        factors["arm"] = float(np.clip(max(arms) / (ref_arm * unit), 0.9, 1.1))
    legs = [
        _length(points, f"{s}_hip", f"{s}_knee") + _length(points, f"{s}_knee", f"{s}_ankle")
        for s in ("left", "right")
        if seen[f"{s}_hip"] and seen[f"{s}_knee"] and seen[f"{s}_ankle"]
    ]
    if legs:
        factors["leg"] = float(np.clip(max(legs) / (ref_leg * unit), 0.9, 1.1))
    return height, factors


# ---- appearance ---------------------------------------------------------------------------------------------------
def _lab(rgb) -> np.ndarray:
    rgb = np.asarray(rgb, np.uint8).reshape(-1, 1, 3)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64) * (100 / 255, 1, 1) - (0, 128, 128)


def colour_distance(a, b) -> float:
    """Perceptual (CIE Lab) distance between two RGB colours."""
    return float(np.linalg.norm(_lab(a)[0] - _lab(b)[0]))


def distances(pixels: np.ndarray, colour) -> np.ndarray:
    """Lab distances (N,) of RGB pixels (N, 3) from one colour."""
    return np.linalg.norm(_lab(pixels) - _lab(colour)[0], axis=1)


def colour_clusters(pixels: np.ndarray, k: int = 3) -> list[tuple[tuple[int, int, int], float]]:
    """Up to `k` colour clusters of the pixels as (RGB centre, share), largest first; none when too few pixels."""
    if len(pixels) < 12:
        return []
    samples = pixels.reshape(-1, 3).astype(np.float32)
    if len(samples) > 4000:
        samples = samples[np.linspace(0, len(samples) - 1, 4000).astype(int)]
    k = min(k, len(samples))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(samples, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    counts = np.bincount(labels.ravel(), minlength=k) / len(samples)
    order = np.argsort(-counts, kind="stable")
    return [(tuple(int(v) for v in np.clip(np.round(centres[i]), 0, 255)), float(counts[i])) for i in order]


def dominant_colour(pixels: np.ndarray) -> tuple[int, int, int] | None:
    """The centre of the largest of three colour clusters (ignores badges, logos and shadows), or None if too few."""
    clusters = colour_clusters(pixels)
    return clusters[0][0] if clusters else None


def _segment_pixels(rgb: np.ndarray, mask: np.ndarray, a, b, radius: float, part=(0.2, 0.8)) -> np.ndarray:
    """Photo pixels (inside the mask) within `radius` of the middle part of the segment a-b."""
    region = np.zeros(mask.shape, np.uint8)
    a, b = np.asarray(a, float), np.asarray(b, float)
    p, q = a + part[0] * (b - a), a + part[1] * (b - a)
    cv2.line(
        region, tuple(int(v) for v in np.round(p)), tuple(int(v) for v in np.round(q)), 1, max(1, round(2 * radius))
    )
    return rgb[(region > 0) & mask]


def _polygon_pixels(rgb: np.ndarray, mask: np.ndarray, corners: np.ndarray) -> np.ndarray:
    region = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(region, np.round(corners).astype(np.int32), 1)
    return rgb[(region > 0) & mask]


def _skin_tone_name(rgb) -> str:
    return min(SKIN_TONES, key=lambda name: colour_distance(SKIN_TONES[name], rgb))


def appearance(rgb: np.ndarray, person: Person, height: float, factors: dict) -> tuple[AvatarSpec, dict]:
    """An AvatarSpec whose colours, hair and clothes come from the photo (defaults where it shows nothing).

    Colours are sampled inside the person's mask wherever a landmark is in the frame, even when MediaPipe is unsure
    of it (a pixel of the mask near a guessed ankle is still the person's foot or leg).
    """
    lm = person.landmarks
    framed = reliable_landmarks(person, rgb.shape[:2], SAMPLED)
    seen = {name: bool(framed[i]) for name, i in LM.items()}
    mask = cv2.erode(person.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    eye_y = lm[[LM["left_eye"], LM["right_eye"]], 1].mean()
    mouth_y = lm[[LM["mouth_left"], LM["mouth_right"]], 1].mean()
    face_unit = max(abs(mouth_y - eye_y), 2.0)  # eyes to mouth, in pixels
    ear_x = sorted(lm[[LM["left_ear"], LM["right_ear"]], 0])
    head_w = max(ear_x[1] - ear_x[0], 2.0 * face_unit)
    skin_pixels = np.concatenate(
        [
            _segment_pixels(rgb, mask, lm[LM[f"{s}_eye_outer"]], lm[LM[f"mouth_{s}"]], 0.18 * face_unit, (0.45, 0.6))
            for s in ("left", "right")
        ]
    )
    skin = dominant_colour(skin_pixels) or (205, 158, 122)
    measured: dict = {"skin": skin}
    # Hair: the person's pixels above the forehead between the ears that are not skin-coloured.
    top = int(max(0, eye_y - 4.0 * face_unit))
    hairline = int(max(0, eye_y - 0.9 * face_unit))
    x0, x1 = int(max(0, ear_x[0] - 0.1 * head_w)), int(min(rgb.shape[1], ear_x[1] + 0.1 * head_w))
    above = rgb[top:hairline, x0:x1][mask[top:hairline, x0:x1]]
    hair = next(  # the largest cluster up there that is not the skin (a high forehead is skin too)
        (c for c, share in colour_clusters(above) if share >= 0.2 and colour_distance(c, skin) >= _BALD_DISTANCE),
        None,
    )
    garments = _garments(rgb, mask, lm, seen, skin, face_unit, person.mask)
    clothes = [g.rgb for g in garments.values() if g.slot in ("top", "outer", "dress")]
    style = "bald" if hair is None else _hair_length(rgb, mask, lm, hair, face_unit, ear_x, seen, clothes)
    mouth = lm[[LM["mouth_left"], LM["mouth_right"]]]
    chin = _segment_pixels(
        rgb,
        mask,
        mouth.mean(axis=0) + (0, 0.45 * face_unit),
        mouth.mean(axis=0) + (0, 0.9 * face_unit),
        0.25 * face_unit,
        (0.0, 1.0),
    )
    beard = dominant_colour(chin) if len(chin) else None
    bearded = (
        beard is not None
        and colour_distance(beard, skin) > 1.5 * _SKIN_DISTANCE
        and (hair is None or colour_distance(beard, hair) < 2 * _SKIN_DISTANCE)
    )
    measured["hair"] = hair
    spec = AvatarSpec(sex="neutral", age="adult", height=height, weight=0.0, muscle=0.2)
    spec.proportions = factors
    spec.skin, spec.skin_rgb = _skin_tone_name(skin), skin
    spec.hair_style = style
    spec.hair_rgb = hair if hair is not None else skin
    spec.hair_colour = "photo"
    spec.beard = bool(bearded)
    spec.beard_rgb = beard if bearded else spec.hair_rgb
    spec.eye_colour, spec.eye_rgb = "brown", EYE_COLOURS["brown"]
    spec.garments = garments
    spec.recognized = ["photo"]
    measured["garments"] = {slot: g.rgb for slot, g in spec.garments.items()}
    return spec, measured


def _hair_length(rgb, mask, lm, hair, face_unit, ear_x, seen, clothes) -> str:
    """short, medium or long from hair-coloured pixels beside the neck below the mouth, and beside the face.

    Beside the neck a collar in the hair's colour would look like long hair, so that test needs the clothes to differ.
    """
    mouth_y = lm[[LM["mouth_left"], LM["mouth_right"]], 1].mean()
    eye_y = lm[[LM["left_eye"], LM["right_eye"]], 1].mean()
    shoulder_y = (
        lm[[LM["left_shoulder"], LM["right_shoulder"]], 1].mean() if seen["left_shoulder"] else mouth_y + 3 * face_unit
    )

    def share(y0: float, y1: float, inner: float, outer: float) -> float:
        picks = []
        for x, out in ((ear_x[0], -1.0), (ear_x[1], 1.0)):
            xa, xb = sorted((x + out * inner * face_unit, x + out * outer * face_unit))
            xa, xb = int(max(0, xa)), int(min(rgb.shape[1], xb))
            ya, yb = int(max(0, y0)), int(min(rgb.shape[0], y1))
            picks.append(rgb[ya:yb, xa:xb][mask[ya:yb, xa:xb]])
        pixels = np.concatenate(picks)
        if len(pixels) < 12:
            return 0.0
        return float(np.mean(distances(pixels, hair) < _SKIN_DISTANCE))

    collar_like = any(colour_distance(hair, c) < _SAME_DISTANCE for c in clothes)
    low = share(mouth_y + 0.8 * face_unit, max(mouth_y + 1.2 * face_unit, shoulder_y - 0.3 * face_unit), 0.1, 0.9)
    if low > 0.35 and not collar_like:
        return "long"
    if share(eye_y, mouth_y + 0.5 * face_unit, -0.3, 0.5) > 0.35:
        return "medium"
    return "short"


def _skirt_hem(rgb, mask, lm, seen, thigh) -> str | None:
    """A skirt's (or dress's) hem length when the person's mask fills the gap between the thighs in the thighs'
    colour while the knees stand apart; None when the legs are separate (trousers, shorts) or the photo cannot tell."""
    if not all(seen[n] for n in ("left_hip", "right_hip", "left_knee", "right_knee")):
        return None
    hips, knees = lm[[LM["left_hip"], LM["right_hip"]]], lm[[LM["left_knee"], LM["right_knee"]]]
    apart = np.linalg.norm(knees[0] - knees[1])
    if apart < 0.6 * np.linalg.norm(hips[0] - hips[1]):
        return None
    gap = hips.mean(axis=0) + 0.85 * (knees.mean(axis=0) - hips.mean(axis=0))
    pixels = _segment_pixels(rgb, mask, gap - (0.12 * apart, 0), gap + (0.12 * apart, 0), 0.05 * apart, (0.0, 1.0))
    if len(pixels) < 0.5 * 0.24 * apart * 0.1 * apart or distances(pixels, thigh).mean() > _SAME_DISTANCE:
        return None
    if not (seen["left_ankle"] or seen["right_ankle"]):
        return "default"
    side = "left" if seen["left_ankle"] else "right"
    knee, ankle = lm[LM[f"{side}_knee"]], lm[LM[f"{side}_ankle"]]
    for t in np.linspace(0.05, 0.95, 10):  # down the shin until the skirt's colour ends
        probe = _segment_pixels(rgb, mask, knee, ankle, 0.04 * apart, (t, t + 0.05))
        if len(probe) and distances(probe, thigh).mean() > _SAME_DISTANCE:
            return "long" if t > 0.7 else "default"
    return "long"


def _garments(rgb, mask, lm, seen, skin, face_unit, person_mask) -> dict[str, Garment]:
    """Top (with sleeves and an open jacket when the torso's middle differs), bottom and shoes from the photo."""
    garments: dict[str, Garment] = {}
    shoulders = lm[[LM["left_shoulder"], LM["right_shoulder"]]]
    hips = lm[[LM["left_hip"], LM["right_hip"]]]
    if not (seen["left_hip"] and seen["right_hip"]):
        hips = shoulders + (0.0, 2.6 * np.linalg.norm(shoulders[0] - shoulders[1]) * 0.55)
    centre = np.concatenate([shoulders, hips[::-1]]).mean(axis=0)
    quad = np.array([shoulders[0], shoulders[1], hips[1], hips[0]])
    neck_drop = 0.9 * face_unit
    inner = centre + 0.7 * (quad - centre) + (0, 0.5 * neck_drop)
    torso = dominant_colour(_polygon_pixels(rgb, mask, inner))
    top = torso or COLOURS["grey"]
    width = np.linalg.norm(shoulders[0] - shoulders[1])
    middle = _segment_pixels(
        rgb, mask, shoulders.mean(axis=0) + (0, neck_drop), hips.mean(axis=0), 0.07 * width, (0.0, 0.6)
    )
    sides = np.concatenate(
        [_segment_pixels(rgb, mask, s + (0.0, neck_drop), h, 0.09 * width, (0.1, 0.7)) for s, h in zip(shoulders, hips)]
    )
    inner_colour, side_colour = dominant_colour(middle), dominant_colour(sides)
    jacket = (
        inner_colour is not None
        and side_colour is not None
        and colour_distance(inner_colour, side_colour) > 2 * _SAME_DISTANCE
        and colour_distance(inner_colour, skin) > _SKIN_DISTANCE
    )
    radius = 0.08 * width

    def limb(a: str, b: str, part=(0.2, 0.8)):
        if not (seen[a] and seen[b]):
            return None
        return dominant_colour(_segment_pixels(rgb, mask, lm[LM[a]], lm[LM[b]], radius, part))

    def covered(colour) -> bool | None:
        if colour is None:
            return None
        return colour_distance(colour, skin) > _SKIN_DISTANCE

    sleeve = "long"
    tops = [covered(limb(f"{s}_shoulder", f"{s}_elbow", (0.1, 0.3))) for s in ("left", "right")]
    uppers = [covered(limb(f"{s}_shoulder", f"{s}_elbow", (0.55, 0.9))) for s in ("left", "right")]
    fores = [covered(limb(f"{s}_elbow", f"{s}_wrist")) for s in ("left", "right")]

    def bare(samples: list[bool | None]) -> bool:
        seen_samples = [c for c in samples if c is not None]
        return bool(seen_samples) and not any(seen_samples)  # every arm the photo shows agrees

    if bare(tops):
        sleeve = "none"
    elif bare(uppers) or bare(fores):
        sleeve = "short"
    if jacket:
        garments["top"] = Garment("top", "shirt", "photo", inner_colour, "long")
        garments["outer"] = Garment("outer", "jacket", "photo", side_colour, sleeve)
    else:
        kind = {"none": "tanktop", "short": "tshirt"}.get(sleeve, "shirt")
        garments["top"] = Garment("top", kind, "photo", top, sleeve)
    thighs = [limb(f"{s}_hip", f"{s}_knee") for s in ("left", "right")]
    shins = [limb(f"{s}_knee", f"{s}_ankle") for s in ("left", "right")]
    thigh = next((c for c in thighs if c is not None), None)
    skirt = _skirt_hem(rgb, person_mask, lm, seen, thigh) if thigh is not None and covered(thigh) else None
    if skirt is not None and colour_distance(thigh, garments["top"].rgb) < _SAME_DISTANCE and "outer" not in garments:
        garments.pop("top")
        garments["dress"] = Garment("dress", "dress", "photo", thigh, skirt)
    elif skirt is not None:
        garments["bottom"] = Garment("bottom", "skirt", "photo", thigh, skirt)
    elif thigh is None or not covered(thigh):
        garments["bottom"] = Garment("bottom", "trousers", "charcoal", COLOURS["charcoal"])
    else:
        bare_shins = any(covered(c) is False for c in shins)
        garments["bottom"] = Garment("bottom", "shorts" if bare_shins else "trousers", "photo", thigh)
    feet = [limb(f"{s}_ankle", f"{s}_foot_index") for s in ("left", "right")]
    shoe = next((c for c in feet if c is not None and covered(c)), None)
    garments["feet"] = Garment("feet", "shoes", "photo" if shoe else "black", shoe or COLOURS["black"])
    return garments


def observe(rgb: np.ndarray, person: Person) -> Observation:
    """Everything fitting needs from the photo about one person (who has landmarks)."""
    reliable = reliable_landmarks(person, rgb.shape[:2])
    points, scale = metric_points(person, reliable)
    height, factors = proportions(points, reliable)
    spec, measured = appearance(rgb, person, height, factors)
    measured["pixelsPerMetre"] = scale
    return Observation(reliable, points, spec, measured)
