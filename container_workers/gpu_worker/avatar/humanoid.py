"""The parametric humanoid: the shared skeleton scaled to an AvatarSpec, and the body, hair and clothing as distance shapes.

Shapes live in the frames of the skeleton's joints, so one description gives the T-pose and the A-pose mesh. Clothes,
hair and beard are *layers*: the body's distance field pushed outwards by a thickness where a coverage function of the
T-pose ("rest") position is 1 (so a sleeve ends at a given distance along the arm in any pose). Skirts, coat tails,
long hair, ponytails, buns, afros and hats are *extra* shapes united with the layered body.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker.avatar import sdf
from container_workers.gpu_worker.avatar.prompt import AvatarSpec
from container_workers.gpu_worker.exchange import gltf

A_POSE_DEGREES = 45.0
SPINE = ("Hips", "Spine", "Spine1", "Spine2")  # the torso's joints, bottom to top
REFERENCE_TOP = 0.155  # the top of the head above the Head joint on the 1.75 m reference skeleton
REACH = 0.12  # metres (x scale): beyond this from a shape's bounding sphere, the sphere's distance stands in for it
NAMES = skeleton.names(hands=True)  # the avatar's joints: the body, then three per finger, left hand then right
HAND_REACH = 0.15  # metres (x scale): the radius around a hand's middle that its own mesh covers
REGION_START = 0.03  # metres (x scale): a detail region's mesh starts this far before its cut, over the body's...
BODY_END = 0.01  # ... and the body's mesh ends this far past the cut, inside the region's
HAND_VOXEL, HEAD_VOXEL, FEET_VOXEL = 0.0025, 0.0045, 0.0045  # metres (x scale): the regions' marching-cubes voxels
HAND_SHARE, HEAD_SHARE, FEET_SHARE = 0.035, 0.2, 0.08  # each region's share of the triangle budget
FEET_CUT = 0.07  # metres (x scale) above the ankles: where the feet's region begins
LOCKS, LOCK_DEPTH = 44, 0.0025  # grooves around a hair volume, and their depth (head scale)
# Finger radii (metres on the 1.75 m reference) at the first, second and third joint.
FINGER_RADII = {
    "Thumb": (0.0105, 0.0098, 0.0088),
    "Index": (0.0085, 0.0078, 0.0071),
    "Middle": (0.0087, 0.008, 0.0073),
    "Ring": (0.0082, 0.0076, 0.0069),
    "Pinky": (0.0072, 0.0066, 0.006),
}
# Face layout relative to the Head joint, in units of the head scale: eyes (x, y), eyebrows y, mouth y.
EYE = (0.031, 0.045)
BROW_Y = 0.068
MOUTH_Y = -0.026
_CHAINS = {  # which proportion factor scales each joint's offset
    "Hips": "leg",
    "Spine": "spine",
    "Spine1": "spine",
    "Spine2": "spine",
    "Neck": "neck",
    "Head": "neck",
    "LeftShoulder": "shoulder",
    "RightShoulder": "shoulder",
    "LeftArm": "arm",
    "LeftForeArm": "arm",
    "LeftHand": "arm",
    "RightArm": "arm",
    "RightForeArm": "arm",
    "RightHand": "arm",
    "LeftUpLeg": "leg",
    "LeftLeg": "leg",
    "LeftFoot": "leg",
    "LeftToeBase": "leg",
    "RightUpLeg": "leg",
    "RightLeg": "leg",
    "RightFoot": "leg",
    "RightToeBase": "leg",
}
_AGE_FACTORS = {
    "child": {"leg": 0.86, "arm": 0.9, "spine": 0.92, "neck": 0.78, "head": 1.32, "shoulder": 0.82},
    "teen": {"leg": 0.99, "arm": 0.98, "spine": 0.97, "neck": 0.95, "head": 1.08, "shoulder": 0.93},
    "adult": {},
    "elderly": {"spine": 0.97, "neck": 0.95},
}
_SEX_FACTORS = {
    "female": {"shoulder": 0.9, "arm": 0.96, "head": 0.97, "neck": 0.95},
    "male": {"shoulder": 1.04},
    "neutral": {},
}
HAIR_THICKNESS = {
    "bald": 0.0,
    "buzz": 0.003,
    "short": 0.011,
    "medium": 0.014,
    "long": 0.014,
    "ponytail": 0.007,
    "bun": 0.007,
    "afro": 0.01,
}
GARMENT_THICKNESS = {
    "tanktop": 0.004,
    "tshirt": 0.005,
    "shirt": 0.005,
    "turtleneck": 0.007,
    "sweater": 0.010,
    "dress": 0.004,
    "gown": 0.004,
    "jacket": 0.014,
    "coat": 0.016,
    "leggings": 0.002,
    "jeans": 0.006,
    "trousers": 0.007,
    "shorts": 0.007,
    "skirt": 0.004,
    "miniskirt": 0.004,
    "shoes": 0.011,
    "boots": 0.013,
    "gloves": 0.004,
    "hat": 0.006,
    "cap": 0.006,
    "beanie": 0.010,
}
_SKIRTS = ("skirt", "miniskirt")


@dataclass(frozen=True)
class Primitive:
    """A distance function with a bounding sphere (centre, radius) that contains its shape."""

    distance: Callable[[np.ndarray], np.ndarray]
    centre: np.ndarray
    radius: float


def ellipsoid(centre, radii) -> Primitive:
    """An axis-aligned ellipsoid."""
    c, r = np.asarray(centre, float), np.asarray(radii, float)
    return Primitive(lambda p: sdf.ellipsoid(p - c, r), c, float(r.max()))


def round_cone(a, b, ra: float, rb: float) -> Primitive:
    """A capsule from a (radius ra) to b (radius rb)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return Primitive(
        lambda p: sdf.round_cone(p, a, b, ra, rb), (a + b) / 2, float(np.linalg.norm(b - a) / 2 + max(ra, rb))
    )


def clipped(primitive: Primitive, cut: Callable[[np.ndarray], np.ndarray]) -> Primitive:
    """The part of a primitive where cut(p) <= 0 (an intersection; the bound still holds)."""
    return Primitive(lambda p: np.maximum(primitive.distance(p), cut(p)), primitive.centre, primitive.radius)


@dataclass
class Shape:
    """A primitive in the frame of `joint`, the bone it moves with."""

    name: str
    joint: str
    primitive: Primitive
    blend: float  # smooth-union radius with what came before (metres)
    material: str = "skin"  # extras: the material of their surface
    hand: str | None = None  # "Left" / "Right" for the palm and fingers, which are meshed finer, on their own
    carve: bool = False  # cut this shape out of what came before (an eye socket) instead of adding it


@dataclass(frozen=True)
class Region:
    """A part of the avatar meshed on its own, finer: past a cut (`depth` > 0: how far past, metres), within an
    optional `bound` (signed distance, negative inside), sampled in `box` at `voxel`, with a share of the budget.

    `shapes` (ids) limits the field to the shapes near the region, or None for all.
    """

    name: str
    depth: Callable[[np.ndarray], np.ndarray]
    bound: Callable[[np.ndarray], np.ndarray] | None
    box: tuple[np.ndarray, np.ndarray]
    voxel: float
    share: float
    shapes: set[int] | None


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
    """A thickness added to the body where `coverage(rest)` is 1 (clothes, hair, beard); rest as in Fields.

    Colours follow coverage > 0.5; an optional `profile(rest)` varies the thickness without moving that edge.
    """

    material: str
    thickness: float
    coverage: Callable[[np.ndarray], np.ndarray]
    profile: Callable[[np.ndarray], np.ndarray] | None = None


def _factors(spec: AvatarSpec) -> dict[str, float]:
    factors = {"leg": 1.0, "spine": 1.0, "neck": 1.0, "arm": 1.0, "shoulder": 1.0, "head": 1.0}
    for table in (_AGE_FACTORS[spec.age], _SEX_FACTORS[spec.sex], spec.proportions):
        for key, value in table.items():
            factors[key] *= value
    return factors


class Humanoid:
    """The skeleton, shapes and layers for one AvatarSpec in a "T" or "A" rest pose."""

    def __init__(self, spec: AvatarSpec, pose: str):
        self.spec = spec
        self.pose = pose
        f = self.factors = _factors(spec)
        chain = np.array([f[_CHAINS.get(name, "arm")] for name in NAMES])  # fingers scale with the arms
        unit = skeleton.offsets(hands=True) * chain[:, None]
        head_chain = [skeleton.INDEX[n] for n in (*SPINE, "Neck", "Head")]
        self.scale = spec.height / (unit[head_chain, 1].sum() + REFERENCE_TOP * f["head"])
        self.head = self.scale * f["head"]
        self.translations = unit * self.scale
        feet = spec.garments.get("feet")
        self.lift = GARMENT_THICKNESS[feet.kind] * self.scale if feet else 0.0  # shoes' soles raise the body
        self.translations[skeleton.INDEX["Hips"], 1] += self.lift
        self.parents = [skeleton.INDEX[p] if p else -1 for p in (skeleton.PARENTS[n] for n in NAMES)]
        self.rotations = np.tile([0.0, 0.0, 0.0, 1.0], (len(NAMES), 1))
        if pose == "A":
            angle = np.radians(A_POSE_DEGREES)
            self.rotations[skeleton.INDEX["LeftArm"]] = gltf.quat_from_axis_angle((0, 0, 1), -angle)
            self.rotations[skeleton.INDEX["RightArm"]] = gltf.quat_from_axis_angle((0, 0, 1), angle)
        self.rest = gltf.Skeleton(list(NAMES), self.parents, self.translations).world_matrices()[:, :3, 3]
        self.world = self.skeleton().world_matrices()
        self._arm_joints = [
            skeleton.INDEX[f"{side}{part}"] for side in ("Left", "Right") for part in ("Arm", "ForeArm", "Hand")
        ] + [skeleton.INDEX[name] for name in skeleton.HAND_NAMES]
        self.shapes = self._body_shapes()
        self.layers = self._layers()
        self.extras = self._extras()

    # ---- skeleton -------------------------------------------------------------------------------------------------
    def skeleton(self) -> gltf.Skeleton:
        """The glTF skeleton: skeleton.py's joints and hierarchy, offsets scaled per chain, the pose as rotations."""
        return gltf.Skeleton(list(NAMES), self.parents, self.translations, self.rotations)

    def joint(self, name: str) -> np.ndarray:
        """The rest (T-pose) position of a joint."""
        return self.rest[skeleton.INDEX[name]]

    def to_local(self, points: np.ndarray, joint: str) -> np.ndarray:
        """Posed points in the frame of `joint` (its rest axes are the world axes)."""
        m = self.world[skeleton.INDEX[joint]]
        return (points - m[:3, 3]) @ m[:3, :3]

    def to_rest(self, points: np.ndarray, joints: np.ndarray) -> np.ndarray:
        """Posed points carried back to the T-pose by the joint each one belongs to (`joints`: joint indices)."""
        rest = points.copy()
        for j in np.unique(joints):
            on = joints == j
            m = self.world[j]
            rest[on] = (points[on] - m[:3, 3]) @ m[:3, :3] + self.rest[j]
        return rest

    # ---- fields ---------------------------------------------------------------------------------------------------
    def shape_distances(self, points: np.ndarray, shapes: list[Shape]) -> list[np.ndarray]:
        """Each shape's distance at each point; beyond REACH of its bounding sphere, the sphere's (a lower bound).

        A shape whose bounding sphere is beyond REACH of the points' whole bounding box gets that gap, one lower bound
        for all of them, without any per-point work (isosurface sampling hands over spatially compact batches).
        """
        local: dict[str, np.ndarray] = {}
        reach = REACH * self.scale
        out = []
        if len(points) == 0:
            return [np.zeros(0) for _ in shapes]
        lo, hi = points.min(axis=0), points.max(axis=0)
        for shape in shapes:
            centre = self.world[skeleton.INDEX[shape.joint]] @ np.append(shape.primitive.centre, 1.0)
            gap = float(np.linalg.norm(np.maximum(np.maximum(lo - centre[:3], centre[:3] - hi), 0.0)))
            if gap - shape.primitive.radius > reach:
                out.append(np.full(len(points), gap - shape.primitive.radius))
                continue
            if shape.joint not in local:
                local[shape.joint] = self.to_local(points, shape.joint)
            p = local[shape.joint]
            offset = p - shape.primitive.centre
            d = np.sqrt(np.einsum("ij,ij->i", offset, offset)) - shape.primitive.radius
            near = np.nonzero(d < reach)[0]
            d[near] = shape.primitive.distance(p[near])
            out.append(d)
        return out

    def fields(self, points: np.ndarray, keep: Callable[[Shape], bool] | None = None) -> Fields:
        """Everything the shapes say about posed points (see Fields); `keep` leaves out the shapes it rejects (extras too)."""
        shapes = self.shapes if keep is None else [s if keep(s) else None for s in self.shapes]
        extras = self.extras if keep is None else [s for s in self.extras if keep(s)]
        own = self.shape_distances(points, [s for s in shapes if s is not None] + extras)
        own = [own.pop(0) if s is not None else None for s in shapes] + own
        body = np.full(len(points), np.inf)
        best = body.copy()
        nearest = np.zeros(len(points), dtype=np.int64)
        first = True
        for i, d in enumerate(own[: len(self.shapes)]):
            if d is None:
                continue
            if self.shapes[i].carve:
                body = -sdf.smooth_min(-body, d, self.shapes[i].blend)
                continue
            body = d.copy() if first else sdf.smooth_min(body, d, self.shapes[i].blend)
            first = False
            closer = d < best
            best = np.where(closer, d, best)
            nearest[closer] = i
        joints = np.array([skeleton.INDEX[s.joint] for s in self.shapes])[nearest]
        rest = np.column_stack([self.to_rest(points, joints), np.isin(joints, self._arm_joints)])
        offset = np.zeros(len(points))
        for layer in self.layers:
            amount = layer.coverage(rest) if layer.profile is None else layer.coverage(rest) * layer.profile(rest)
            offset = np.maximum(offset, layer.thickness * amount)
        layered = body - offset
        extra_distances = own[len(self.shapes) :]
        surface = layered
        for shape, d in zip(extras, extra_distances):
            surface = sdf.smooth_min(surface, d, shape.blend)
        return Fields(surface, layered, extra_distances, nearest, rest)

    def distance(self, points: np.ndarray) -> np.ndarray:
        """The avatar's signed distance at posed points."""
        return self.fields(points).surface

    def hand_centre(self, side: str) -> np.ndarray:
        """The posed middle of a hand (palm and fingers), a little beyond the wrist."""
        m = self.world[skeleton.INDEX[f"{side}Hand"]]
        sign = 1.0 if side == "Left" else -1.0
        return m[:3, 3] + m[:3, 0] * sign * 0.075 * self.scale

    def _posed_gap(self, shape: Shape, point: np.ndarray) -> float:
        """How far a shape's bounding sphere (posed) is from a point."""
        centre = self.world[skeleton.INDEX[shape.joint]] @ np.append(shape.primitive.centre, 1.0)
        return float(np.linalg.norm(centre[:3] - point) - shape.primitive.radius)

    def regions(self) -> list[Region]:
        """The parts meshed on their own, finer: each hand, the head (with hair and hat) and the feet."""
        s, out = self.scale, []
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            length = float(np.linalg.norm(self.translations[skeleton.INDEX[f"{side}Hand"]]))
            centre = self.hand_centre(side)
            reach = HAND_REACH * s
            out.append(
                Region(
                    f"{side}Hand",
                    lambda p, side=side, sign=sign, length=length: (
                        sign * self.to_local(p, f"{side}ForeArm")[:, 0] - length
                    ),
                    lambda p, centre=centre, reach=reach: np.linalg.norm(p - centre, axis=1) - reach,
                    (centre - reach, centre + reach),
                    HAND_VOXEL * s,
                    HAND_SHARE,
                    {
                        id(shape)
                        for shape in self.shapes + self.extras
                        if self._posed_gap(shape, centre) < reach + REACH * s
                    },
                )
            )
        lo, hi = self.bounds()
        neck = float(np.linalg.norm(self.translations[skeleton.INDEX["Head"]]))
        cut = self.joint("Neck")[1] + 0.55 * neck
        head = self.joint("Head")
        side = np.array([0.32 * s, 0.0, 0.32 * s])  # wider than a hat's brim or an afro
        box = (
            np.maximum(lo, head - side) * (1, 0, 1) + (0, cut - 0.05 * s, 0),
            np.minimum(hi, head + side) * (1, 0, 1) + (0, hi[1], 0),
        )
        out.append(
            Region(
                "Head",
                lambda p: self.to_local(p, "Neck")[:, 1] - 0.55 * neck,
                None,
                box,
                HEAD_VOXEL * s,
                HEAD_SHARE,
                self._near_box(*box),
            )
        )
        ankle = 0.5 * (self.joint("LeftFoot")[1] + self.joint("RightFoot")[1]) + FEET_CUT * s
        side = np.array([0.55 * s, 0.0, 0.55 * s])  # wider than a gown's hem
        box = (np.maximum(lo, -side), np.array([min(hi[0], side[0]), ankle + 0.05 * s, min(hi[2], side[2])]))
        out.append(
            Region("Feet", lambda p: ankle - p[:, 1], None, box, FEET_VOXEL * s, FEET_SHARE, self._near_box(*box))
        )
        return out

    def _near_box(self, lo: np.ndarray, hi: np.ndarray) -> set[int]:
        """The ids of the shapes whose bounding sphere comes within REACH of a box."""
        near = set()
        for shape in self.shapes + self.extras:
            centre = (self.world[skeleton.INDEX[shape.joint]] @ np.append(shape.primitive.centre, 1.0))[:3]
            gap = np.linalg.norm(np.maximum(np.maximum(lo - centre, centre - hi), 0.0))
            if gap - shape.primitive.radius < REACH * self.scale:
                near.add(id(shape))
        return near

    def _inside(self, region: Region, points: np.ndarray, margin: float) -> np.ndarray:
        """Signed distance (negative inside) to the part of a region from `margin` before its cut."""
        inside = -(region.depth(points) + margin)
        return inside if region.bound is None else np.maximum(inside, region.bound(points))

    def body_distance(self, points: np.ndarray) -> np.ndarray:
        """The avatar without its detail regions: everything ends (capped) just past each region's cut."""
        f = self.fields(points, keep=lambda shape: shape.hand is None)
        surface = f.surface
        for region in self.regions():
            surface = np.maximum(surface, -self._inside(region, points, BODY_END * self.scale))
        return surface

    def region_distance(self, region: Region) -> Callable[[np.ndarray], np.ndarray]:
        """The distance to a region's own mesh: the avatar there, from a little before the region's cut.

        Where it overlaps the body's mesh it lies a fraction of a millimetre outside it, so it shows; at its start
        it sinks 3 mm inside (more than the coarser body mesh's facets stray), so its edge does not.
        """
        start = REGION_START * self.scale

        def distance(points: np.ndarray) -> np.ndarray:
            ramp = sdf.smoothstep(-start, -start + 0.015 * self.scale, region.depth(points))
            lift = self.scale * (0.0008 * ramp - 0.003 * (1.0 - ramp))
            keep = None if region.shapes is None else (lambda shape: id(shape) in region.shapes)
            surface = self.fields(points, keep=keep).surface - lift
            return np.maximum(surface, self._inside(region, points, start))

        return distance

    def follow_body(self, region: Region, points: np.ndarray) -> np.ndarray:
        """How much (0..1) a region's vertex should take its skin and shading from the body's mesh next to it: 1 where
        the two overlap, 0 past the body mesh's end."""
        return 1.0 - sdf.smoothstep(-REGION_START * self.scale, -BODY_END * self.scale, region.depth(points))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """A box (posed) that contains the whole avatar."""
        joints = self.world[:, :3, 3]
        lo, hi = joints.min(axis=0) - 0.4 * self.scale, joints.max(axis=0) + 0.4 * self.scale
        lo[1] = -0.02 * self.scale
        hi[1] = self.joint("Head")[1] + 0.35 * self.head
        return lo, hi

    # ---- the body ------------------------------------------------------------------------------------------------
    def _body_shapes(self) -> list[Shape]:
        spec, s, h = self.spec, self.scale, self.head
        j = self.joint
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

        def add(name: str, joint: str, primitive: Primitive, blend: float) -> None:
            shapes.append(Shape(name, joint, primitive, blend))

        k_torso = 0.06 * s
        add("pelvis", "Hips", ellipsoid((0, -0.01 * s, -0.005 * s), (hips, 0.11 * s, 0.105 * depth)), 0)
        add("waist", "Spine", ellipsoid((0, 0.03 * s, 0.0), (waist, 0.11 * s, 0.095 * depth)), k_torso)
        add(
            "ribs",
            "Spine1",
            ellipsoid((0, 0.06 * s, 0.005 * s), ((chest + waist) / 2, 0.15 * s, 0.105 * depth)),
            k_torso,
        )
        add("chest", "Spine2", ellipsoid((0, 0.055 * s, 0.0), (chest, 0.12 * s, 0.1 * depth)), k_torso)
        seat = 0.085 * s * (1.12 if female else 1.0) * fat
        for side, sign in (("Left", 1), ("Right", -1)):
            add(
                f"{side}Seat",
                "Hips",
                ellipsoid((sign * 0.068 * s, -0.05 * s, -0.045 * s), (seat, 0.1 * s, 0.08 * s * fat)),
                0.04 * s,
            )
        if weight > 0.05:
            add(
                "belly",
                "Spine",
                ellipsoid((0, 0.0, 0.04 * s), (0.12 * torso_w, 0.11 * s, (0.06 + 0.07 * weight) * s)),
                0.05 * s,
            )
        if female:
            bust = 0.056 * s * (1.0 + 0.25 * max(weight, 0.0))
            for sign in (1, -1):
                add(
                    "bust",
                    "Spine2",
                    ellipsoid((sign * 0.075 * s, -0.005 * s, 0.062 * depth), (bust * 1.1, bust, bust * 0.9)),
                    0.03 * s,
                )
        elif muscle > 0.45:
            pec = 0.07 * s * strong
            for sign in (1, -1):
                add(
                    "pec",
                    "Spine2",
                    ellipsoid((sign * 0.07 * s, 0.03 * s, 0.06 * depth), (pec, pec * 0.7, 0.045 * s)),
                    0.03 * s,
                )
        neck_r = 0.052 * s * (0.88 if female else 1.0) * (1.0 + 0.15 * (muscle - 0.2) + 0.1 * max(weight, 0))
        neck_top = j("Head")[1] - j("Neck")[1] + 0.02 * h
        add(
            "neck",
            "Neck",
            round_cone((0, -0.04 * s, -0.012 * s), (0, neck_top, -0.01 * h), neck_r * 1.1, neck_r),
            0.03 * s,
        )
        for side, sign in (("Left", 1), ("Right", -1)):
            arm = j(f"{side}Arm") - j(f"{side}Shoulder")
            add(
                f"{side}Trapezius",
                f"{side}Shoulder",
                round_cone(
                    (-sign * 0.03 * s, 0.045 * s, -0.015 * s),
                    arm + (-sign * 0.035 * s, 0.01 * s, -0.01 * s),
                    0.045 * s,
                    0.05 * limb * strong,
                ),
                0.05 * s,
            )
            add(
                f"{side}Deltoid",
                f"{side}Arm",
                ellipsoid((sign * 0.01 * s, 0.0, 0.0), np.array((0.07, 0.058, 0.06)) * limb * strong),
                0.04 * s,
            )
            elbow = j(f"{side}ForeArm") - j(f"{side}Arm")
            wrist = j(f"{side}Hand") - j(f"{side}ForeArm")
            add(
                f"{side}UpperArm",
                f"{side}Arm",
                round_cone((0, 0, 0), elbow, 0.05 * limb * strong, 0.038 * limb),
                0.03 * s,
            )
            add(
                f"{side}Biceps",
                f"{side}Arm",
                ellipsoid(
                    elbow * 0.5 + (0, 0.004 * s, 0.006 * s), (0.1 * s, 0.042 * limb * strong, 0.045 * limb * strong)
                ),
                0.02 * s,
            )
            add(f"{side}LowerArm", f"{side}ForeArm", round_cone((0, 0, 0), wrist, 0.038 * limb, 0.026 * s), 0.02 * s)
            add(
                f"{side}ForearmMuscle",
                f"{side}ForeArm",
                ellipsoid(wrist * 0.28, (0.085 * s, 0.036 * limb * strong, 0.04 * limb * strong)),
                0.02 * s,
            )
            shapes.extend(self._hand_shapes(side, sign))
            knee = j(f"{side}Leg") - j(f"{side}UpLeg")
            ankle = j(f"{side}Foot") - j(f"{side}Leg")
            thigh = 0.08 * limb * (1.0 + 0.12 * (muscle - 0.2)) * (1.06 if female else 1.0)
            add(
                f"{side}Thigh",
                f"{side}UpLeg",
                round_cone((sign * 0.006 * s, 0.02 * s, 0), knee, thigh, 0.052 * limb),
                0.06 * s,
            )
            add(
                f"{side}Quad",
                f"{side}UpLeg",
                ellipsoid(
                    knee * 0.42 + (sign * 0.004 * s, 0, 0.012 * s),
                    (0.068 * limb * strong, 0.14 * s, 0.068 * limb * strong),
                ),
                0.03 * s,
            )
            add(f"{side}Shin", f"{side}Leg", round_cone((0, 0, 0), ankle, 0.05 * limb, 0.033 * s), 0.03 * s)
            add(
                f"{side}Calf",
                f"{side}Leg",
                ellipsoid(ankle * 0.3 + (0, 0, -0.02 * s), (0.048 * limb * strong, 0.1 * s, 0.05 * limb * strong)),
                0.03 * s,
            )
            ground = self.lift - j(f"{side}Foot")[1]  # the sole's height in the foot's frame
            toe_ground = ground - (j(f"{side}ToeBase")[1] - j(f"{side}Foot")[1])
            add(
                f"{side}Heel",
                f"{side}Foot",
                ellipsoid((0, ground + 0.035 * s, -0.025 * s), (0.034 * s, 0.035 * s, 0.045 * s)),
                0.02 * s,
            )
            add(
                f"{side}Instep",
                f"{side}Foot",
                ellipsoid((0, ground + 0.045 * s, 0.045 * s), (0.04 * s, 0.035 * s, 0.075 * s)),
                0.03 * s,
            )
            add(
                f"{side}Toes",
                f"{side}ToeBase",
                round_cone(
                    (0, toe_ground + 0.028 * s, -0.02 * s), (0, toe_ground + 0.018 * s, 0.045 * s), 0.028 * s, 0.018 * s
                ),
                0.03 * s,
            )
        add("cranium", "Head", ellipsoid((0, 0.06 * h, -0.005 * h), (0.077 * h, 0.095 * h, 0.098 * h)), 0.02 * s)
        add(
            "face",
            "Head",
            ellipsoid((0, 0.0, 0.028 * h), ((0.058 if female else 0.066) * h, 0.078 * h, 0.07 * h)),
            0.03 * h,
        )
        add("chin", "Head", ellipsoid((0, -0.052 * h, 0.062 * h), (0.026 * h, 0.022 * h, 0.024 * h)), 0.02 * h)
        add("nose", "Head", ellipsoid((0, 0.02 * h, 0.094 * h), (0.012 * h, 0.024 * h, 0.016 * h)), 0.012 * h)
        for sign in (1, -1):
            add(
                "ear",
                "Head",
                ellipsoid((sign * 0.077 * h, 0.03 * h, -0.005 * h), (0.011 * h, 0.03 * h, 0.02 * h)),
                0.008 * h,
            )
        head_shapes = [shape for shape in shapes if shape.joint == "Head"]

        def face_z(x: float, y: float) -> float:  # where a ray forward from the head's axis leaves the head so far
            ray = np.column_stack([np.full(200, x), np.full(200, y), np.linspace(0.0, 0.16 * h, 200)])
            d = head_shapes[0].primitive.distance(ray)
            for shape in head_shapes[1:]:
                d = sdf.smooth_min(d, shape.primitive.distance(ray), shape.blend)
            return float(ray[np.nonzero(d < 0)[0].max(), 2]) if (d < 0).any() else 0.07 * h

        mouth_z = face_z(0.0, MOUTH_Y * h) - 0.004 * h
        add(
            "upperLip",
            "Head",
            ellipsoid((0, (MOUTH_Y + 0.0055) * h, mouth_z), np.array((0.019, 0.005, 0.008)) * h),
            0.004 * h,
        )
        add(
            "lowerLip",
            "Head",
            ellipsoid((0, (MOUTH_Y - 0.006) * h, mouth_z - 0.001 * h), np.array((0.017, 0.0055, 0.008)) * h),
            0.004 * h,
        )
        for sign in (1, -1):
            x, y = sign * EYE[0] * h, EYE[1] * h
            z = face_z(x, y)
            shapes.append(
                Shape(
                    "eyeSocket", "Head", ellipsoid((x, y, z + 0.004 * h), np.full(3, 0.0145 * h)), 0.004 * h, carve=True
                )
            )
            add("eyeball", "Head", ellipsoid((x, y - 0.001 * h, z - 0.006 * h), np.full(3, 0.0118 * h)), 0.0015 * h)
        return shapes

    def _hand_shapes(self, side: str, sign: int) -> list[Shape]:
        """A palm, the thumb's ball and five three-jointed fingers on the finger bones (palms down, thumbs forward)."""
        s = self.scale
        girth = s * (0.92 if self.spec.sex == "female" else 1.0) * (1.0 + 0.08 * max(self.spec.weight, 0.0))
        out = [
            Shape(
                f"{side}Palm",
                f"{side}Hand",
                ellipsoid((sign * 0.047 * s, -0.002 * s, -0.004 * s), np.array((0.05, 0.0155, 0.044)) * girth),
                0.02 * s,
                hand=side,
            ),
            Shape(
                f"{side}ThumbBall",
                f"{side}Hand",
                ellipsoid((sign * 0.03 * s, -0.007 * s, 0.022 * s), np.array((0.03, 0.014, 0.018)) * girth),
                0.01 * s,
                hand=side,
            ),
        ]
        for finger, radii in FINGER_RADII.items():
            for k in range(3):
                name = f"{side}Hand{finger}{k + 1}"
                if k < 2:
                    end = self.translations[skeleton.INDEX[f"{side}Hand{finger}{k + 2}"]]
                else:
                    end = np.asarray(skeleton.HAND_END_SITES[name]) * s * self.factors["arm"]
                tip = radii[k + 1] if k < 2 else 0.85 * radii[2]
                out.append(
                    Shape(
                        name,
                        name,
                        round_cone((0.0, 0.0, 0.0), end, radii[k] * girth, tip * girth),
                        (0.008 if k == 0 else 0.003) * s,
                        hand=side,
                    )
                )
        return out

    # ---- clothes, hair and beard as layers --------------------------------------------------------------------------
    def _layers(self) -> list[Layer]:
        spec, s, hs = self.spec, self.scale, self.head
        j = self.joint
        shoulder_x, wrist_x = j("LeftArm")[0], j("LeftHand")[0]
        hips_y, knee_y, ankle_y, neck_y = j("Hips")[1], j("LeftLeg")[1], j("LeftFoot")[1], j("Neck")[1]
        edge = 0.012 * s  # half-width of a thickness ramp; colours switch sharply at its middle
        layers: list[Layer] = []

        def up(y0, p):
            return sdf.smoothstep(y0 - edge, y0 + edge, p[:, 1])

        def down(y0, p):
            return 1.0 - up(y0, p)

        def on_arm(p):
            return p[:, 3] > 0.5

        def neckline(drop_front, collar, p):
            """0 in a ring around the neck above an edge that dips by `drop_front` at the front, and above the collar."""
            opening = 0.085 * s
            front = sdf.smoothstep(0.0, 0.05 * s, p[:, 2]) * np.clip(1.0 - (p[:, 0] / opening) ** 2, 0.0, 1.0)
            line = neck_y - 0.012 * s + collar - drop_front * front
            near_neck = 1.0 - sdf.smoothstep(
                opening - edge, opening + edge, np.hypot(p[:, 0], np.minimum(p[:, 2], 0.0) * 1.3)
            )
            return (1.0 - up(line, p) * near_neck) * down(neck_y + collar, p)

        sleeve_ends = {"none": shoulder_x - 0.03 * s, "short": shoulder_x + 0.11 * s, "long": wrist_x - 0.01 * s}
        garments = spec.garments
        bottom = garments.get("bottom")
        skirted = "dress" in garments or (bottom is not None and bottom.kind in _SKIRTS)
        for slot in ("top", "dress", "outer"):
            g = garments.get(slot)
            if g is None:
                continue
            default_sleeve = {"tshirt": "short", "tanktop": "none", "dress": "none", "gown": "none"}.get(g.kind, "long")
            sleeve = sleeve_ends[g.length if (g.length in sleeve_ends and slot != "dress") else default_sleeve]
            hem = {"outer": hips_y - 0.06 * s, "dress": hips_y + 0.02 * s}.get(slot, hips_y - 0.035 * s)
            if slot != "dress" and g.kind != "coat" and skirted:
                hem = hips_y + 0.04 * s  # ends at the waist, where the skirt begins
            drop = {"tanktop": 0.06, "dress": 0.05, "shirt": 0.03, "turtleneck": 0.0}.get(g.kind, 0.035) * s
            collar = {"turtleneck": 0.06, "jacket": 0.025, "coat": 0.03}.get(g.kind, 0.0) * s

            def coverage(p, sleeve=sleeve, hem=hem, drop=drop, collar=collar, is_outer=slot == "outer"):
                torso = up(hem, p) * neckline(drop, collar, p)
                if is_outer:  # an open front shows what is worn under the jacket or coat
                    gap = np.clip((neck_y - p[:, 1]) * 0.25 + 0.008 * s, 0.0, 0.028 * s)
                    front = (p[:, 2] > 0.03 * s) & (np.abs(p[:, 0]) < 0.1 * s)
                    torso = torso * np.where(
                        front, sdf.smoothstep(gap - edge / 2, gap + edge / 2, np.abs(p[:, 0])), 1.0
                    )
                sleeves = 1.0 - sdf.smoothstep(sleeve - edge, sleeve + edge, np.abs(p[:, 0]))
                return np.where(on_arm(p), sleeves, torso)

            layers.append(Layer(slot, GARMENT_THICKNESS[g.kind], coverage))
        if bottom is not None:
            waist_y = hips_y + 0.07 * s
            if bottom.kind in _SKIRTS:
                end = hips_y - 0.12 * s  # a waistband; the skirt itself is an extra shape
            elif bottom.kind == "shorts" or bottom.length == "short":
                end = knee_y + 0.14 * s
            else:
                end = ankle_y + 0.025 * s
            layers.append(Layer("bottom", GARMENT_THICKNESS[bottom.kind], lambda p: down(waist_y, p) * up(end, p)))
        g = garments.get("feet")
        if g is not None:
            shaft = ankle_y + 0.012 * s if g.kind == "shoes" else knee_y - 0.13 * s
            layers.append(Layer("feet", GARMENT_THICKNESS[g.kind], lambda p: down(shaft, p)))
        g = garments.get("hands")
        if g is not None:
            start = wrist_x - 0.03 * s
            layers.append(
                Layer(
                    "hands",
                    GARMENT_THICKNESS[g.kind],
                    lambda p: sdf.smoothstep(start - edge, start + edge, np.abs(p[:, 0])) * on_arm(p),
                )
            )
        hair = HAIR_THICKNESS[spec.hair_style] * hs
        if hair > 0:
            layers.append(Layer("hair", hair, self.hair_coverage, self.hair_profile))
        if spec.beard:
            layers.append(Layer("beard", 0.007 * hs, self.beard_coverage))
        g = garments.get("head")
        if g is not None:
            brim_y = j("Head")[1] + (0.085 if g.kind == "beanie" else 0.105) * hs
            layers.append(Layer("head", hair + GARMENT_THICKNESS[g.kind] * hs, lambda p: up(brim_y, p)))
        return layers

    def hair_coverage(self, p: np.ndarray) -> np.ndarray:
        """1 on the scalp above the hairline (high on the forehead, above the ears, low at the nape)."""
        hs = self.head
        q = p[:, :3] - self.joint("Head")
        around = q[:, 2] / np.maximum(np.hypot(q[:, 0], q[:, 2]), 1e-9)  # 1 at the front, 0 at the ears, -1 at the back
        forehead = 0.11 if self.spec.hair_style in ("medium", "long") else 0.105
        hairline = (0.02 + forehead * np.maximum(around, 0.0) ** 1.5 - 0.06 * np.maximum(-around, 0.0)) * hs
        ear = (
            (np.abs(np.abs(q[:, 0]) - 0.077 * hs) < 0.018 * hs) & (q[:, 1] < 0.065 * hs) & (np.abs(q[:, 2]) < 0.03 * hs)
        )
        return sdf.smoothstep(-0.01 * hs, 0.01 * hs, q[:, 1] - hairline) * (q[:, 1] > -0.06 * hs) * ~ear

    def hair_profile(self, p: np.ndarray) -> np.ndarray:
        """Hair thickness relative to the layer's: thinner at the hairline, fuller on top, in soft clumps."""
        hs = self.head
        q = (p[:, :3] - self.joint("Head")) / hs
        crown = sdf.smoothstep(0.0, 0.09, q[:, 1])
        clumps = sdf.wave_noise(q, 70.0) if self.spec.hair_texture == "straight" else sdf.wave_noise(q, 160.0) * 1.6
        strands = np.sin(LOCKS * np.arctan2(q[:, 0], q[:, 2]) + 3.0 * q[:, 1])  # combed back from the face
        return 0.55 + 0.65 * crown + 0.15 * clumps + 0.12 * strands

    def beard_coverage(self, p: np.ndarray) -> np.ndarray:
        """1 on the jaw, chin and upper lip, leaving the mouth and cheeks bare."""
        hs = self.head
        q = p[:, :3] - self.joint("Head")
        front = sdf.smoothstep(-0.01 * hs, 0.02 * hs, q[:, 2])
        below = 1.0 - sdf.smoothstep(  # a moustache under the nose, up to the cheekbones at the sides, not the eyes
            0.0, 0.008 * hs, q[:, 1] - (-0.008 + 0.03 * (np.abs(q[:, 0]) / (0.07 * hs)) ** 2) * hs
        )
        chin = sdf.smoothstep(-0.085 * hs, -0.07 * hs, q[:, 1])
        mouth = ((q[:, 0] / (0.021 * hs)) ** 2 + ((q[:, 1] - MOUTH_Y * hs) / (0.007 * hs)) ** 2) < 1.0
        return front * below * chin * ~mouth

    # ---- extra shapes -------------------------------------------------------------------------------------------------
    def _extras(self) -> list[Shape]:
        spec, s, h = self.spec, self.scale, self.head
        j = self.joint
        garments = spec.garments
        extras: list[Shape] = []
        hem = self._skirt_hem()
        if hem is not None:
            extras.append(self._skirt(hem[0], j("Hips")[1] + 0.06 * s, hem[1]))
        style = spec.hair_style
        if style in ("medium", "long"):
            low = (-0.035 if style == "medium" else -0.02) * h
            volume = clipped(
                ellipsoid((0, 0.06 * h, -0.02 * h), np.array((0.094, 0.11, 0.108)) * h),
                lambda p: np.maximum(p[:, 2] - 0.045 * h, low - p[:, 1]),
            )  # the face and neck stay free
            extras.append(Shape("hairVolume", "Head", self._locks(volume), 0.02 * h, "hair"))
            if style == "long":
                top, bottom = 0.06 * h, j("Spine2")[1] - j("Head")[1] + 0.02 * s
                centre, half = (
                    np.array((0, (top + bottom) / 2, -0.075 * h)),
                    np.array((0.085 * h, (top - bottom) / 2, 0.03 * h)),
                )
                fall = Primitive(
                    lambda p: sdf.round_box(p - centre, half, 0.025 * h), centre, float(np.linalg.norm(half))
                )
                extras.append(Shape("hairFall", "Head", self._locks(fall), 0.03 * h, "hair"))
        elif style == "ponytail":
            extras.append(
                Shape(
                    "ponytail",
                    "Head",
                    self._locks(
                        round_cone((0, 0.09 * h, -0.095 * h), (0, -0.1 * h, -0.13 * h), 0.028 * h, 0.014 * h),
                        np.array((0, 0, -0.11 * h)),
                    ),
                    0.02 * h,
                    "hair",
                )
            )
        elif style == "bun":
            extras.append(
                Shape(
                    "bun",
                    "Head",
                    self._locks(
                        ellipsoid((0, 0.15 * h, -0.07 * h), np.array((0.045, 0.04, 0.042)) * h),
                        np.array((0, 0.15 * h, -0.07 * h)),
                        twist=True,
                    ),
                    0.015 * h,
                    "hair",
                )
            )
        elif style == "afro":
            afro = clipped(
                ellipsoid((0, 0.1 * h, -0.025 * h), np.array((0.135, 0.125, 0.13)) * h),
                lambda p: np.maximum(
                    0.035 * h - p[:, 1], p[:, 2] - (0.07 * h - 0.25 * np.maximum(0.1 * h - p[:, 1], 0))
                ),
            )
            extras.append(Shape("afro", "Head", self._curls(afro), 0.02 * h, "hair"))
        if garments.get("feet") is not None:
            extras.extend(self._soles())
        hat = garments.get("head")
        if hat is not None and hat.kind == "hat":
            brim, crown = np.array((0, 0.105 * h, -0.005 * h)), np.array((0, 0.165 * h, -0.005 * h))
            extras.append(
                Shape(
                    "hatBrim",
                    "Head",
                    Primitive(lambda p: sdf.cylinder(p - brim, 0.165 * h, 0.005 * h), brim, 0.166 * h),
                    0.006 * h,
                    "head",
                )
            )
            extras.append(
                Shape(
                    "hatCrown",
                    "Head",
                    Primitive(
                        lambda p: sdf.frustum(p - crown, 0.06 * h, 0.102 * h, 0.088 * h) - 0.006 * h, crown, 0.13 * h
                    ),
                    0.01 * h,
                    "head",
                )
            )
        elif hat is not None and hat.kind == "cap":
            extras.append(
                Shape(
                    "capVisor",
                    "Head",
                    ellipsoid((0, 0.108 * h, 0.105 * h), np.array((0.075, 0.007, 0.06)) * h),
                    0.008 * h,
                    "head",
                )
            )
        return extras

    def _locks(self, primitive: Primitive, axis=(0.0, 0.0, 0.0), twist: bool = False) -> Primitive:
        """A hair volume with locks: grooves running down (wavy or curly hair sways) around a vertical `axis` (head
        frame), or wound round it (`twist`: a bun)."""
        h = self.head
        axis = np.asarray(axis, float)
        sway = {"wavy": 1.2, "curly": 2.0}.get(self.spec.hair_texture, 0.0)

        def distance(p: np.ndarray) -> np.ndarray:
            q = p - axis
            angle = np.arctan2(q[:, 0], q[:, 2])
            phase = q[:, 1] / (0.012 * h) if twist else sway * np.sin(q[:, 1] / (0.025 * h))
            return primitive.distance(p) - LOCK_DEPTH * h * (0.5 + 0.5 * np.sin(LOCKS * angle + phase))

        return Primitive(distance, primitive.centre, primitive.radius + LOCK_DEPTH * h)

    def _curls(self, primitive: Primitive) -> Primitive:
        """A hair volume in tight curls (about 2 cm bumps)."""
        h = self.head

        def distance(p: np.ndarray) -> np.ndarray:
            return primitive.distance(p) - 2.0 * LOCK_DEPTH * h * (0.5 + 0.5 * sdf.wave_noise(p / h, 300.0))

        return Primitive(distance, primitive.centre, primitive.radius + 2.0 * LOCK_DEPTH * h)

    def _soles(self) -> list[Shape]:
        """Each shoe's sole: the footprint (heel to ball, on the foot; ball to toe tip, on the toe bone, so it bends
        there) extruded from the ground to just above the lift, with rounded edges."""
        s, out = self.scale, []
        top = self.lift + 0.004 * s  # world height of the sole's top edge
        edge = 0.003 * s
        for side in ("Left", "Right"):
            foot_y, toe_y = self.joint(f"{side}Foot")[1], self.joint(f"{side}ToeBase")[1]
            for joint, y0, (za, ra), (zb, rb) in (
                (f"{side}Foot", foot_y, (-0.05 * s, 0.036 * s), (0.13 * s, 0.046 * s)),
                (f"{side}ToeBase", toe_y, (0.0, 0.046 * s), (0.055 * s, 0.03 * s)),
            ):
                a, b = np.array((0.0, 0.0, za)), np.array((0.0, 0.0, zb))
                mid, half_y = top / 2 - y0, top / 2 - edge

                def slab(p, a=a, b=b, ra=ra, rb=rb, mid=mid, half_y=half_y):
                    flat = sdf.round_cone(p * (1.0, 0.0, 1.0), a, b, ra - edge, rb - edge)
                    dy = np.abs(p[:, 1] - mid) - half_y
                    outside = np.hypot(np.maximum(flat, 0.0), np.maximum(dy, 0.0))
                    return outside + np.minimum(np.maximum(flat, dy), 0.0) - edge

                centre = np.array((0.0, mid, (za + zb) / 2))
                radius = float(np.hypot((zb - za) / 2 + max(ra, rb), top / 2))
                out.append(Shape(f"{joint}Sole", joint, Primitive(slab, centre, radius), 0.004 * s, "feet"))
        return out

    def _skirt_hem(self) -> tuple[str, float] | None:
        """(material, hem height) of the skirt-like extra: a dress, a skirt, or a coat's tails; None without one."""
        s, garments = self.scale, self.spec.garments
        knee_y, ankle_y = self.joint("LeftLeg")[1], self.joint("LeftFoot")[1]
        outer, dress, bottom = garments.get("outer"), garments.get("dress"), garments.get("bottom")
        if outer is not None and outer.kind == "coat":
            return "outer", knee_y + (0.2 if outer.length == "short" else 0.02) * s
        if dress is not None:
            if dress.kind == "gown" and dress.length != "short":
                return "dress", ankle_y + 0.03 * s
            return "dress", {"long": ankle_y + 0.06 * s, "short": knee_y + 0.16 * s}.get(
                dress.length, knee_y - 0.02 * s
            )
        if bottom is not None and bottom.kind in _SKIRTS:
            if bottom.kind == "miniskirt":
                return "bottom", knee_y + 0.16 * s
            return "bottom", {"long": ankle_y + 0.1 * s, "short": knee_y + 0.16 * s}.get(
                bottom.length, knee_y - 0.01 * s
            )
        return None

    def _skirt(self, material: str, waist_y: float, hem_y: float) -> Shape:
        """A flared frustum from the waist to the hem, elliptical (hips are wider than deep)."""
        s = self.scale
        top_r = (0.172 if self.spec.sex == "female" else 0.16) * s * (
            1.0 + 0.2 * max(self.spec.weight, 0.0)
        ) + 0.015 * s
        length = waist_y - hem_y
        bottom_r = top_r + 0.22 * length
        centre = np.array((0.0, (waist_y + hem_y) / 2 - self.joint("Hips")[1], -0.01 * s))
        squash = np.array((1.0, 1.0, 1.0 / 0.72))
        primitive = Primitive(
            lambda p: sdf.frustum((p - centre) * squash, length / 2, bottom_r, top_r),
            centre,
            float(np.hypot(bottom_r, length / 2)),
        )
        return Shape(f"{material}Skirt", "Hips", primitive, 0.04 * s, material)
