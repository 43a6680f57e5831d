"""The parametric humanoid: the shared skeleton scaled to an AvatarSpec, and the body, hair and clothing as distance shapes.

Shapes live in the frames of the skeleton's joints, so one description gives the T-pose and the A-pose mesh. Clothes,
hair and beard are *layers*: the body's distance field pushed outwards by a thickness where a coverage function of the
T-pose ("rest") position is 1 (so a sleeve ends at a given distance along the arm in any pose). Skirts, coat tails,
long hair, ponytails, buns, afros and hats are *extra* shapes united with the layered body.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker import gltf_writer, sdf
from container_workers.gpu_worker.prompt import AvatarSpec

A_POSE_DEGREES = 45.0
REFERENCE_TOP = 0.155  # the top of the head above the Head joint on the 1.75 m reference skeleton
_CHAINS = {  # which proportion factor scales each joint's offset
    "Hips": "leg", "Spine": "spine", "Spine1": "spine", "Spine2": "spine", "Neck": "neck", "Head": "neck",
    "LeftShoulder": "shoulder", "RightShoulder": "shoulder", "LeftArm": "arm", "LeftForeArm": "arm", "LeftHand": "arm",
    "RightArm": "arm", "RightForeArm": "arm", "RightHand": "arm", "LeftUpLeg": "leg", "LeftLeg": "leg",
    "LeftFoot": "leg", "LeftToeBase": "leg", "RightUpLeg": "leg", "RightLeg": "leg", "RightFoot": "leg", "RightToeBase": "leg",
}
_AGE_FACTORS = {
    "child": {"leg": 0.86, "arm": 0.9, "spine": 0.92, "neck": 0.78, "head": 1.32, "shoulder": 0.82},
    "teen": {"leg": 0.99, "arm": 0.98, "spine": 0.97, "neck": 0.95, "head": 1.08, "shoulder": 0.93},
    "adult": {},
    "elderly": {"spine": 0.97, "neck": 0.95},
}
_SEX_FACTORS = {"female": {"shoulder": 0.9, "arm": 0.96, "head": 0.97, "neck": 0.95}, "male": {"shoulder": 1.04}, "neutral": {}}
HAIR_THICKNESS = {"bald": 0.0, "buzz": 0.003, "short": 0.011, "medium": 0.014, "long": 0.014, "ponytail": 0.007, "bun": 0.007, "afro": 0.01}
_GARMENT_THICKNESS = {"tanktop": 0.004, "tshirt": 0.005, "shirt": 0.005, "turtleneck": 0.007, "sweater": 0.010,
                      "dress": 0.004, "gown": 0.004, "jacket": 0.014, "coat": 0.016, "leggings": 0.002, "jeans": 0.006,
                      "trousers": 0.007, "shorts": 0.007, "skirt": 0.004, "miniskirt": 0.004, "shoes": 0.011,
                      "boots": 0.013, "gloves": 0.004, "hat": 0.006, "cap": 0.006, "beanie": 0.010}


@dataclass
class Shape:
    """A distance shape in the frame of `frame` (a joint); `bone` is the joint it moves with."""

    name: str
    frame: str
    bone: str
    distance: Callable[[np.ndarray], np.ndarray]
    blend: float  # smooth-union radius with what came before (metres)
    material: str = "skin"  # extras: the material of their surface


@dataclass
class Fields:
    """The avatar's fields at some posed points."""

    surface: np.ndarray  # signed distance to the avatar
    layered: np.ndarray  # signed distance to the body with its layers, without the extra shapes
    extras: list[np.ndarray]  # signed distance to each extra shape
    nearest: np.ndarray  # index of the body shape each point is closest to
    rest: np.ndarray  # (N, 4): T-pose position and 1.0 where that shape belongs to an arm


@dataclass
class Layer:
    """A thickness added to the body where `coverage(rest)` is 1 (clothes, hair, beard); rest as in Fields."""

    material: str
    thickness: float
    coverage: Callable[[np.ndarray], np.ndarray]


def _factors(spec: AvatarSpec) -> dict[str, float]:
    factors = {"leg": 1.0, "spine": 1.0, "neck": 1.0, "arm": 1.0, "shoulder": 1.0, "head": 1.0}
    for table in (_AGE_FACTORS[spec.age], _SEX_FACTORS[spec.sex]):
        for key, value in table.items():
            factors[key] *= value
    return factors


class Humanoid:
    """The skeleton, shapes and layers for one AvatarSpec in a "T" or "A" rest pose."""

    def __init__(self, spec: AvatarSpec, pose: str = "T"):
        self.spec = spec
        self.pose = pose
        f = _factors(spec)
        base = skeleton.offsets()
        chain = np.array([f[_CHAINS[name]] for name in skeleton.NAMES])
        unit = base * chain[:, None]
        head_chain = [skeleton.INDEX[n] for n in ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")]
        top = unit[head_chain, 1].sum() + REFERENCE_TOP * f["head"]
        self.scale = spec.height / top
        self.head = self.scale * f["head"]
        self.translations = unit * self.scale
        self.parents = [skeleton.INDEX[p] if p else -1 for p in (skeleton.PARENTS[n] for n in skeleton.NAMES)]
        self.rotations = np.tile([0.0, 0.0, 0.0, 1.0], (len(skeleton.NAMES), 1))
        if pose == "A":
            angle = np.radians(A_POSE_DEGREES)
            self.rotations[skeleton.INDEX["LeftArm"]] = gltf_writer.quat_from_axis_angle((0, 0, 1), -angle)
            self.rotations[skeleton.INDEX["RightArm"]] = gltf_writer.quat_from_axis_angle((0, 0, 1), angle)
        rest = gltf_writer.Skeleton(list(skeleton.NAMES), self.parents, self.translations)
        self.rest = rest.world_matrices()[:, :3, 3]
        self.world = self.skeleton().world_matrices()
        self._arm_joints = [skeleton.INDEX[f"{side}{part}"] for side in ("Left", "Right") for part in ("Arm", "ForeArm", "Hand")]
        self.shapes = self._body_shapes()
        self.layers = self._layers()
        self.extras = self._extras()

    # ---- skeleton -------------------------------------------------------------------------------------------------
    def skeleton(self) -> gltf_writer.Skeleton:
        """The glTF skeleton: skeleton.py's joints and hierarchy, offsets scaled per chain, the pose as rotations."""
        return gltf_writer.Skeleton(list(skeleton.NAMES), self.parents, self.translations, self.rotations)

    def joint(self, name: str) -> np.ndarray:
        """The rest (T-pose) position of a joint."""
        return self.rest[skeleton.INDEX[name]]

    def to_local(self, points: np.ndarray, frame: str) -> np.ndarray:
        """Posed points in the frame of joint `frame` (its rest axes are the world axes)."""
        m = self.world[skeleton.INDEX[frame]]
        return (points - m[:3, 3]) @ m[:3, :3]

    def to_rest(self, points: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Posed points carried back to the T-pose by the joint frame each one belongs to (`frames`: joint indices)."""
        rest = points.copy()
        for j in np.unique(frames):
            on = frames == j
            m = self.world[j]
            rest[on] = (points[on] - m[:3, 3]) @ m[:3, :3] + self.rest[j]
        return rest

    # ---- fields ---------------------------------------------------------------------------------------------------
    def shape_distances(self, points: np.ndarray, shapes: list[Shape]) -> list[np.ndarray]:
        """Each shape's own distance at each point (the points are moved into each joint frame once)."""
        local: dict[str, np.ndarray] = {}
        out = []
        for shape in shapes:
            if shape.frame not in local:
                local[shape.frame] = self.to_local(points, shape.frame)
            out.append(shape.distance(local[shape.frame]))
        return out

    def fields(self, points: np.ndarray) -> Fields:
        """Everything the shapes say about posed points (see Fields)."""
        own = self.shape_distances(points, self.shapes + self.extras)
        body, best = own[0], own[0].copy()
        nearest = np.zeros(len(points), dtype=np.int64)
        for i in range(1, len(self.shapes)):
            body = sdf.smooth_min(body, own[i], self.shapes[i].blend)
            closer = own[i] < best
            best = np.where(closer, own[i], best)
            nearest[closer] = i
        frames = np.array([skeleton.INDEX[s.frame] for s in self.shapes])[nearest]
        rest = np.column_stack([self.to_rest(points, frames), np.isin(frames, self._arm_joints)])
        offset = np.zeros(len(points))
        for layer in self.layers:
            offset = np.maximum(offset, layer.thickness * layer.coverage(rest))
        layered = body - offset
        extras = own[len(self.shapes):]
        surface = layered
        for shape, d in zip(self.extras, extras):
            surface = sdf.smooth_min(surface, d, shape.blend)
        return Fields(surface, layered, extras, nearest, rest)

    def distance(self, points: np.ndarray) -> np.ndarray:
        """The avatar's signed distance at posed points."""
        return self.fields(points).surface

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """A box (posed) that contains the whole avatar."""
        joints = self.world[:, :3, 3]
        lo, hi = joints.min(axis=0) - 0.4 * self.scale, joints.max(axis=0) + 0.4 * self.scale
        lo[1] = -0.02 * self.scale
        hi[1] = self.joint("Head")[1] + 0.35 * self.head
        return lo, hi

    # ---- the body ------------------------------------------------------------------------------------------------
    def _body_shapes(self) -> list[Shape]:
        spec, s, hs = self.spec, self.scale, self.head
        female = spec.sex == "female"
        weight, muscle = spec.weight, spec.muscle
        fat = 1.0 + 0.17 * weight
        strong = 1.0 + 0.25 * (muscle - 0.2)
        limb = s * fat * (0.93 if female else 1.0) * (0.95 if spec.age == "child" else 1.0)
        torso_w = s * (1.0 + 0.15 * weight)
        chest = (0.155 if female else 0.178) * torso_w * (1.0 + 0.1 * (muscle - 0.2))
        hips = (0.172 if female else 0.158) * torso_w
        waist = (0.128 if female else 0.142) * torso_w * (1.0 - 0.04 * muscle)
        depth = s * (1.0 + 0.2 * max(weight, 0.0))
        shapes: list[Shape] = []

        def add(name, frame, fn, blend, bone=None):
            shapes.append(Shape(name, frame, bone or frame, fn, blend))

        def ell(centre, radii):
            c, r = np.asarray(centre, float), np.asarray(radii, float)
            return lambda p: sdf.ellipsoid(p - c, r)

        def cone(a, b, ra, rb):
            return lambda p: sdf.round_cone(p, a, b, ra, rb)

        j = self.joint
        k_torso = 0.06 * s
        add("pelvis", "Hips", ell((0, -0.01 * s, -0.005 * s), (hips, 0.11 * s, 0.105 * depth)), 0)
        add("waist", "Spine", ell((0, 0.03 * s, 0.0), (waist, 0.11 * s, 0.095 * depth)), k_torso)
        add("ribs", "Spine1", ell((0, 0.06 * s, 0.005 * s), ((chest + waist) / 2, 0.15 * s, 0.105 * depth)), k_torso)
        add("chest", "Spine2", ell((0, 0.055 * s, 0.0), (chest, 0.12 * s, 0.1 * depth)), k_torso)
        seat = 0.085 * s * (1.12 if female else 1.0) * fat
        for side, sign in (("Left", 1), ("Right", -1)):
            add(f"{side}Seat", "Hips", ell((sign * 0.068 * s, -0.05 * s, -0.045 * s), (seat, 0.1 * s, 0.08 * s * fat)), 0.04 * s)
        if weight > 0.05:
            belly = 0.06 + 0.07 * weight
            add("belly", "Spine", ell((0, 0.0, 0.04 * s), (0.12 * torso_w, 0.11 * s, belly * s)), 0.05 * s)
        if female:
            bust = 0.056 * s * (1.0 + 0.25 * max(weight, 0.0))
            for sign in (1, -1):
                add("bust", "Spine2", ell((sign * 0.075 * s, -0.005 * s, 0.062 * depth), (bust * 1.1, bust, bust * 0.9)), 0.03 * s)
        elif muscle > 0.45:
            pec = 0.07 * s * strong
            for sign in (1, -1):
                add("pec", "Spine2", ell((sign * 0.07 * s, 0.03 * s, 0.06 * depth), (pec, pec * 0.7, 0.045 * s)), 0.03 * s)
        neck_r = 0.052 * s * (0.88 if female else 1.0) * (1.0 + 0.15 * (muscle - 0.2) + 0.1 * max(weight, 0))
        neck, head = j("Neck"), j("Head")
        add("neck", "Neck", cone((0, -0.04 * s, -0.012 * s), (0, head[1] - neck[1] + 0.02 * hs, -0.01 * hs), neck_r * 1.1, neck_r), 0.03 * s)
        for side, sign in (("Left", 1), ("Right", -1)):
            arm = j(f"{side}Arm") - j(f"{side}Shoulder")
            shoulder_r = 0.05 * limb * strong
            add(f"{side}Trapezius", f"{side}Shoulder", cone((-sign * 0.03 * s, 0.045 * s, -0.015 * s), arm + (-sign * 0.035 * s, 0.01 * s, -0.01 * s), 0.045 * s, shoulder_r), 0.05 * s)
            add(f"{side}Deltoid", f"{side}Arm", ell((sign * 0.01 * s, 0.0, 0.0), (0.07 * limb * strong, 0.058 * limb * strong, 0.06 * limb * strong)), 0.04 * s)
            elbow = j(f"{side}ForeArm") - j(f"{side}Arm")
            wrist = j(f"{side}Hand") - j(f"{side}ForeArm")
            add(f"{side}UpperArm", f"{side}Arm", cone((0, 0, 0), elbow, 0.05 * limb * strong, 0.038 * limb), 0.03 * s)
            add(f"{side}Biceps", f"{side}Arm", ell(elbow * 0.5 + (0, 0.004 * s, 0.006 * s), (0.1 * s, 0.042 * limb * strong, 0.045 * limb * strong)), 0.02 * s)
            add(f"{side}LowerArm", f"{side}ForeArm", cone((0, 0, 0), wrist, 0.038 * limb, 0.026 * s), 0.02 * s)
            add(f"{side}ForearmMuscle", f"{side}ForeArm", ell(wrist * 0.28, (0.085 * s, 0.036 * limb * strong, 0.04 * limb * strong)), 0.02 * s)
            add(f"{side}Palm", f"{side}Hand", ell((sign * 0.045 * s, -0.004 * s, 0.0), (0.05 * s, 0.018 * s, 0.042 * s)), 0.02 * s)
            add(f"{side}Fingers", f"{side}Hand", ell((sign * 0.12 * s, -0.01 * s, -0.004 * s), (0.05 * s, 0.013 * s, 0.038 * s)), 0.015 * s)
            add(f"{side}Thumb", f"{side}Hand", cone((sign * 0.02 * s, -0.008 * s, 0.028 * s), (sign * 0.075 * s, -0.016 * s, 0.058 * s), 0.014 * s, 0.011 * s), 0.012 * s)
            knee = j(f"{side}Leg") - j(f"{side}UpLeg")
            ankle = j(f"{side}Foot") - j(f"{side}Leg")
            thigh = 0.08 * limb * (1.0 + 0.12 * (muscle - 0.2)) * (1.06 if female else 1.0)
            add(f"{side}Thigh", f"{side}UpLeg", cone((sign * 0.006 * s, 0.02 * s, 0), knee, thigh, 0.052 * limb), 0.06 * s)
            add(f"{side}Quad", f"{side}UpLeg", ell(knee * 0.42 + (sign * 0.004 * s, 0, 0.012 * s), (0.068 * limb * strong, 0.14 * s, 0.068 * limb * strong)), 0.03 * s)
            add(f"{side}Shin", f"{side}Leg", cone((0, 0, 0), ankle, 0.05 * limb, 0.033 * s), 0.03 * s)
            add(f"{side}Calf", f"{side}Leg", ell(ankle * 0.3 + (0, 0, -0.02 * s), (0.048 * limb * strong, 0.1 * s, 0.05 * limb * strong)), 0.03 * s)
            toe = j(f"{side}ToeBase") - j(f"{side}Foot")
            ground = -j(f"{side}Foot")[1]
            add(f"{side}Heel", f"{side}Foot", ell((0, ground + 0.035 * s, -0.025 * s), (0.034 * s, 0.035 * s, 0.045 * s)), 0.02 * s)
            add(f"{side}Instep", f"{side}Foot", ell((0, ground + 0.045 * s, 0.045 * s), (0.04 * s, 0.035 * s, 0.075 * s)), 0.03 * s)
            add(f"{side}Toes", f"{side}ToeBase", cone((0, 0.005 * s, -0.02 * s), (0, ground - toe[1] + 0.018 * s - 0.0, 0.045 * s), 0.03 * s, 0.018 * s), 0.03 * s)
        h = hs
        add("cranium", "Head", ell((0, 0.06 * h, -0.005 * h), (0.077 * h, 0.095 * h, 0.098 * h)), 0.02 * s)
        add("face", "Head", ell((0, 0.0, 0.028 * h), (0.062 * h, 0.078 * h, 0.07 * h)), 0.03 * h)
        add("chin", "Head", ell((0, -0.052 * h, 0.062 * h), (0.026 * h, 0.022 * h, 0.024 * h)), 0.02 * h)
        add("nose", "Head", ell((0, 0.02 * h, 0.094 * h), (0.012 * h, 0.024 * h, 0.016 * h)), 0.012 * h)
        for sign in (1, -1):
            add("ear", "Head", ell((sign * 0.077 * h, 0.03 * h, -0.005 * h), (0.011 * h, 0.03 * h, 0.02 * h)), 0.008 * h)
        return shapes

    # ---- clothes, hair and beard as layers --------------------------------------------------------------------------
    def _layers(self) -> list[Layer]:
        spec, s, hs = self.spec, self.scale, self.head
        j = self.joint
        head = j("Head")
        shoulder_x = j("LeftArm")[0]
        wrist_x = j("LeftHand")[0]
        hips_y, knee_y, ankle_y = j("Hips")[1], j("LeftLeg")[1], j("LeftFoot")[1]
        neck_y = j("Neck")[1]
        edge = 0.012 * s  # half-width of a thickness ramp; colours switch sharply at its middle
        layers: list[Layer] = []

        def up(y0):
            return lambda p: sdf.smoothstep(y0 - edge, y0 + edge, p[:, 1])

        def down(y0):
            return lambda p: 1.0 - sdf.smoothstep(y0 - edge, y0 + edge, p[:, 1])

        def arm_until(x_end):
            return lambda p: 1.0 - sdf.smoothstep(x_end - edge, x_end + edge, np.abs(p[:, 0]))

        def on_arm(p):
            return p[:, 3] > 0.5

        def neckline(drop_front, collar, p):
            """0 above the collar height, and in a ring around the neck above an edge that dips by `drop_front` at the front."""
            opening = 0.085 * s
            across = np.clip(1.0 - (p[:, 0] / opening) ** 2, 0.0, 1.0)
            front = sdf.smoothstep(0.0, 0.05 * s, p[:, 2]) * across
            line = neck_y - 0.012 * s + collar - drop_front * front
            near_neck = 1.0 - sdf.smoothstep(opening - edge, opening + edge, np.hypot(p[:, 0], np.minimum(p[:, 2], 0.0) * 1.3))
            below_collar = 1.0 - sdf.smoothstep(-edge, edge, p[:, 1] - (neck_y + collar))
            return (1.0 - sdf.smoothstep(-edge, edge, p[:, 1] - line) * near_neck) * below_collar

        sleeve_ends = {"none": shoulder_x - 0.03 * s, "short": shoulder_x + 0.11 * s, "long": wrist_x - 0.01 * s}
        garments = spec.garments
        for slot in ("top", "dress", "outer"):
            g = garments.get(slot)
            if g is None:
                continue
            default_sleeve = {"tshirt": "short", "tanktop": "none", "dress": "none", "gown": "none"}.get(g.kind, "long")
            sleeve = sleeve_ends[g.length if (g.length in sleeve_ends and g.slot != "dress") else default_sleeve]
            hem = {"outer": hips_y - 0.06 * s, "dress": hips_y + 0.02 * s}.get(slot, hips_y - 0.035 * s)
            if slot == "top" and garments.get("bottom") is not None and garments["bottom"].kind in ("skirt", "miniskirt"):
                hem = hips_y + 0.04 * s  # tucked into the skirt
            drop = {"tanktop": 0.06, "dress": 0.05, "shirt": 0.03, "turtleneck": 0.0}.get(g.kind, 0.035) * s
            collar = {"turtleneck": 0.06, "jacket": 0.025, "coat": 0.03}.get(g.kind, 0.0) * s
            arms = arm_until(sleeve)
            is_outer = slot == "outer"

            def coverage(p, arms=arms, hem=hem, drop=drop, collar=collar, is_outer=is_outer):
                torso = up(hem)(p) * neckline(drop, collar, p)
                if is_outer:  # an open front shows what is worn under the jacket or coat
                    gap = np.clip((neck_y - p[:, 1]) * 0.25 + 0.008 * s, 0.0, 0.028 * s)
                    front = (p[:, 2] > 0.03 * s) & (np.abs(p[:, 0]) < 0.1 * s)
                    torso = torso * np.where(front, sdf.smoothstep(gap - edge / 2, gap + edge / 2, np.abs(p[:, 0])), 1.0)
                return np.where(on_arm(p), arms(p), torso)

            layers.append(Layer(slot, _GARMENT_THICKNESS[g.kind], coverage))
        g = garments.get("bottom")
        if g is not None and g.kind not in ("skirt", "miniskirt"):
            waist_y = hips_y + 0.07 * s
            end = {"shorts": knee_y + 0.14 * s}.get(g.kind, ankle_y + 0.025 * s)
            if g.length == "short":
                end = knee_y + 0.14 * s
            waist, cuff = down(waist_y), up(end)
            layers.append(Layer("bottom", _GARMENT_THICKNESS[g.kind], lambda p: waist(p) * cuff(p)))
        elif g is not None:
            waist_y, low = hips_y + 0.07 * s, hips_y - 0.12 * s
            band = down(waist_y)
            top = up(low)
            layers.append(Layer("bottom", _GARMENT_THICKNESS[g.kind], lambda p: band(p) * top(p)))
        g = garments.get("feet")
        if g is not None:
            shaft = ankle_y + 0.012 * s if g.kind == "shoes" else knee_y - 0.13 * s
            layers.append(Layer("feet", _GARMENT_THICKNESS[g.kind], down(shaft)))
        g = garments.get("hands")
        if g is not None:
            start = wrist_x - 0.03 * s
            layers.append(Layer("hands", _GARMENT_THICKNESS[g.kind], lambda p: sdf.smoothstep(start - edge, start + edge, np.abs(p[:, 0])) * on_arm(p)))
        hair_t = HAIR_THICKNESS[spec.hair_style]
        if hair_t > 0:
            layers.append(Layer("hair", hair_t * hs, self.hair_coverage))
        if spec.beard:
            layers.append(Layer("beard", 0.007 * hs, self.beard_coverage))
        g = garments.get("head")
        if g is not None:
            brim_y = head[1] + (0.105 if g.kind != "beanie" else 0.085) * hs
            layers.append(Layer("head", hair_t * hs + _GARMENT_THICKNESS[g.kind] * hs, lambda p: up(brim_y)(p) * (p[:, 1] > neck_y)))
        return layers

    def hair_coverage(self, p: np.ndarray) -> np.ndarray:
        """1 on the scalp above the hairline (high on the forehead, above the ears, low at the nape)."""
        hs = self.head
        head = self.joint("Head")
        q = p[:, :3] - head
        around = q[:, 2] / np.maximum(np.hypot(q[:, 0], q[:, 2]), 1e-9)  # 1 at the front, -1 at the back
        hairline = (0.052 + 0.073 * around) * hs
        if self.spec.hair_style in ("medium", "long"):
            hairline = np.minimum(hairline, (0.01 + 0.1 * np.maximum(around, 0.0) + 0.03 * (1.0 - np.abs(around))) * hs)
        ear = (np.abs(np.abs(q[:, 0]) - 0.077 * hs) < 0.018 * hs) & (q[:, 1] < 0.065 * hs) & (np.abs(q[:, 2]) < 0.03 * hs)
        on_head = q[:, 1] > -0.06 * hs
        return sdf.smoothstep(-0.01 * hs, 0.01 * hs, q[:, 1] - hairline) * on_head * ~ear

    def beard_coverage(self, p: np.ndarray) -> np.ndarray:
        """1 on the jaw, chin and upper lip, leaving the mouth and cheeks bare."""
        hs = self.head
        q = p[:, :3] - self.joint("Head")
        front = sdf.smoothstep(-0.01 * hs, 0.02 * hs, q[:, 2])
        below = 1.0 - sdf.smoothstep(0.0, 0.008 * hs, q[:, 1] - (0.012 + 0.05 * (np.abs(q[:, 0]) / (0.07 * hs)) ** 2 * 0.9) * hs)
        chin = sdf.smoothstep(-0.085 * hs, -0.07 * hs, q[:, 1])
        mouth = ((q[:, 0] / (0.021 * hs)) ** 2 + ((q[:, 1] + 0.02 * hs) / (0.007 * hs)) ** 2) < 1.0
        return front * below * chin * ~mouth

    # ---- extra shapes -------------------------------------------------------------------------------------------------
    def _extras(self) -> list[Shape]:
        spec, s, hs = self.spec, self.scale, self.head
        j = self.joint
        head, hips = j("Head"), j("Hips")
        extras: list[Shape] = []
        garments = spec.garments
        bottom = garments.get("bottom")
        dress = garments.get("dress")
        outer = garments.get("outer")
        knee_y, ankle_y = j("LeftLeg")[1], j("LeftFoot")[1]
        waist_y = hips[1] + 0.06 * s
        skirt = None
        if dress is not None:
            hem = {"long": ankle_y + 0.06 * s, "short": knee_y + 0.16 * s}.get(dress.length, knee_y - 0.02 * s)
            skirt = ("dress", hem if dress.kind != "gown" or dress.length == "short" else ankle_y + 0.03 * s)
        elif bottom is not None and bottom.kind in ("skirt", "miniskirt"):
            hem = {"long": ankle_y + 0.1 * s, "short": knee_y + 0.16 * s}.get(bottom.length, knee_y - 0.01 * s)
            skirt = ("bottom", knee_y + 0.16 * s if bottom.kind == "miniskirt" else hem)
        if outer is not None and outer.kind == "coat":
            skirt = ("outer", knee_y + 0.02 * s if outer.length != "short" else knee_y + 0.2 * s) if skirt is None or skirt[0] != "outer" else skirt
        if skirt is not None:
            extras.append(self._skirt(skirt[0], waist_y, skirt[1]))
        style = spec.hair_style
        h = hs
        if style in ("medium", "long"):
            bob_c = np.array((0, 0.06 * h, -0.02 * h))
            bob_r = np.array([0.094, 0.11, 0.108]) * h
            face_cut = 0.045 * h
            low = -0.035 * h if style == "medium" else -0.02 * h

            def bob(p, c=bob_c, r=bob_r, cut=face_cut, low=low):
                return np.maximum(np.maximum(sdf.ellipsoid(p - c, r), p[:, 2] - cut), low - p[:, 1])

            extras.append(Shape("hairVolume", "Head", "Head", bob, 0.02 * h, "hair"))
            if style == "long":
                top_y = 0.06 * h
                bottom_y = j("Spine2")[1] - head[1] + 0.02 * s
                centre = (0, (top_y + bottom_y) / 2, -0.075 * h)
                half = (0.085 * h, (top_y - bottom_y) / 2, 0.03 * h)
                extras.append(Shape("hairFall", "Head", "Head", lambda p, c=np.array(centre), hf=half: sdf.round_box(p - c, hf, 0.025 * h), 0.03 * h, "hair"))
        elif style == "ponytail":
            extras.append(Shape("ponytail", "Head", "Head", lambda p: sdf.round_cone(p, (0, 0.09 * h, -0.095 * h), (0, -0.1 * h, -0.13 * h), 0.028 * h, 0.014 * h), 0.02 * h, "hair"))
        elif style == "bun":
            extras.append(Shape("bun", "Head", "Head", lambda p: sdf.ellipsoid(p - np.array((0, 0.15 * h, -0.07 * h)), np.array((0.045, 0.04, 0.042)) * h), 0.015 * h, "hair"))
        elif style == "afro":
            def afro(p):
                ball = sdf.ellipsoid(p - np.array((0, 0.1 * h, -0.025 * h)), np.array((0.135, 0.125, 0.13)) * h)
                return np.maximum(np.maximum(ball, 0.035 * h - p[:, 1]), p[:, 2] - (0.07 * h - 0.25 * np.maximum(0.1 * h - p[:, 1], 0)))
            extras.append(Shape("afro", "Head", "Head", afro, 0.02 * h, "hair"))
        hat = garments.get("head")
        if hat is not None and hat.kind == "hat":
            brim_y = 0.105 * h
            extras.append(Shape("hatBrim", "Head", "Head", lambda p: sdf.cylinder(p - np.array((0, brim_y, -0.005 * h)), 0.165 * h, 0.005 * h), 0.006 * h, "head"))
            extras.append(Shape("hatCrown", "Head", "Head", lambda p: sdf.frustum(p - np.array((0, brim_y + 0.06 * h, -0.005 * h)), 0.06 * h, 0.102 * h, 0.088 * h) - 0.006 * h, 0.01 * h, "head"))
        elif hat is not None and hat.kind == "cap":
            extras.append(Shape("capVisor", "Head", "Head", lambda p: sdf.ellipsoid(p - np.array((0, 0.108 * h, 0.105 * h)), np.array((0.075, 0.007, 0.06)) * h), 0.008 * h, "head"))
        return extras

    def _skirt(self, material: str, waist_y: float, hem_y: float) -> Shape:
        """A flared frustum from the waist to the hem, elliptical (hips are wider than deep)."""
        s = self.scale
        hips = self.joint("Hips")
        top_r = (0.172 if self.spec.sex == "female" else 0.16) * s * (1.0 + 0.2 * max(self.spec.weight, 0.0)) + 0.015 * s
        length = waist_y - hem_y
        bottom_r = top_r + 0.22 * length
        centre = np.array((0.0, (waist_y + hem_y) / 2 - hips[1], -0.01 * s))
        squash = np.array((1.0, 1.0, 1.0 / 0.72))

        def skirt(p):
            return sdf.frustum((p - centre) * squash, length / 2, bottom_r, top_r)

        return Shape(f"{material}Skirt", "Hips", "Hips", skirt, 0.04 * s, material)
