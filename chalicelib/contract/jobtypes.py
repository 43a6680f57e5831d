"""Job types: their inputs, their stages (which worker, fed by what), the params each stage takes, and their cost.

Stage params are declared once per stage with bounds and defaults (`STAGE_PARAMS`); a job type exposes some of
them to users (`JobType.params`). The API validates what users send; each stage fills its defaults with
`stage_params`, so the API, the workers and the CLI share one table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from chalicelib.contract.formats import MODEL_FORMATS
from chalicelib.contract.params import InvalidParams, Param

PROMPT_MAX_CHARS = 500
TEXTURE_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
GENERATED_TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)
EXPORT_FORMATS = ("glb", "fbx", "blend")
FOREGROUND_METHODS = ("auto", "alpha", "person", "grabcut")
OBJECT_SHAPES = ("auto", "inflate", "lathe", "box")
SUBJECT_CHOICES = ("main", "all")
COMPRESSIONS = ("meshopt", "draco", "none")
AVATAR_POSES = ("T", "A")
SKELETON_KINDS = ("standard", "performer")
POSE_MODELS = ("full", "heavy")  # MediaPipe Pose's landmark models (its model_complexity 1 and 2)


def _param(kind: str, doc: str, **spec: Any) -> Param:
    return Param(kind, (), doc, **spec)


# Every param each stage understands, with its bounds and default (the stage's own view).
STAGE_PARAMS: dict[str, dict[str, Param]] = {
    "pose": {
        "smoothing": _param(
            "float", "One Euro smoothing strength, 0 (off) to 1 (heavy)", default=0.5, low=0.0, high=1.0
        ),
        "rootMotion": _param(
            "bool", "move the hips across the floor as the person moves across the frame", default=True
        ),
        "footLock": _param("bool", "pin feet that are on the floor", default=True),
        "maxGapSeconds": _param(
            "float",
            "longer runs without a person are held and flagged, not interpolated",
            default=0.5,
            low=0.0,
            high=10.0,
        ),
        "cameraFovDegrees": _param(
            "float", "the camera's field of view across the frame's longer side", default=65.0, low=20.0, high=150.0
        ),
        "performer": _param(
            "str",
            "who to capture when several people are in frame: largest, center, or a box x0,y0,x1,y1 "
            "(fractions of the frame) around them on the first frame they appear",
            default="largest",
        ),
        "hands": _param("bool", "capture the fingers too (finger bones in every output); slower", default=False),
        "skeleton": _param(
            "str",
            "bone lengths: the standard skeleton's, or the performer's own (measured over the clip)",
            default="standard",
            choices=SKELETON_KINDS,
        ),
        "poseModel": _param(
            "str",
            "pose model: full, or heavy (about 3x slower; arms, elbows and wrists closer to the truth)",
            default="full",
            choices=POSE_MODELS,
        ),
    },
    "reconstruct": {
        "foreground": _param(
            "str", "how the subject is cut out of the photo", default="auto", choices=FOREGROUND_METHODS
        ),
        "detail": _param("float", "surface relief from the photo's shading, 0 to 1", default=0.5, low=0.0, high=1.0),
        "shape": _param(
            "str",
            "shape prior for objects: auto (a box, a body of revolution, or else inflated), or one of them",
            default="auto",
            choices=OBJECT_SHAPES,
        ),
        "subjects": _param(
            "str",
            "main: only the most prominent subject; all: one mesh per subject (never fused)",
            default="main",
            choices=SUBJECT_CHOICES,
        ),
        "targetTriangles": _param("int", "triangle budget of the mesh", default=20_000, low=1_000, high=200_000),
        "textureSize": _param("int", "texture edge in pixels", default=1024, choices=GENERATED_TEXTURE_SIZES),
    },
    "avatar": {
        "seed": _param(
            "int", "variation seed: the same prompt and seed give the same avatar", default=0, low=0, high=2**31 - 1
        ),
        "pose": _param("str", "rest pose of the rig", default="T", choices=AVATAR_POSES),
        "targetTriangles": _param("int", "triangle budget of the mesh", default=30_000, low=2_000, high=150_000),
        "textureSize": _param("int", "texture edge in pixels", default=1024, choices=GENERATED_TEXTURE_SIZES),
    },
    "photo_avatar": {
        "person": _param(
            "int", "which person when the photo shows several: 0 is the most prominent", default=0, low=0, high=9
        ),
        "pose": _param(
            "str", "rest pose of the rig (posed.glb is always in the photo's pose)", default="T", choices=AVATAR_POSES
        ),
        "targetTriangles": _param("int", "triangle budget of the mesh", default=30_000, low=2_000, high=150_000),
        "textureSize": _param("int", "texture edge in pixels", default=1024, choices=GENERATED_TEXTURE_SIZES),
    },
    "optimize": {
        "targetTriangles": _param("int", "triangle budget", low=4, high=10_000_000),
        "ratio": _param("float", "fraction of the triangles to keep", low=0.001, high=1.0),
        "errorBound": _param(
            "float",
            "simplify until the error would pass this fraction of the model's size (meshoptimizer's measure)",
            low=0.0001,
            high=0.5,
        ),
        "compression": _param(
            "str",
            "geometry compression of the GLB: meshopt (quantized, EXT_meshopt_compression), draco, or none",
            default="meshopt",
            choices=COMPRESSIONS,
        ),
        "maxTextureSize": _param("int", "largest texture edge in pixels", choices=TEXTURE_SIZES),
        "keepNames": _param("bool", "keep named nodes and materials apart instead of merging them", default=False),
        "cleanup": _param(
            "bool",
            "first merge close vertices, drop loose geometry and make face winding consistent (slower)",
            default=False,
        ),
        "mergeDistance": _param(
            "float", "with cleanup: merge vertices closer than this many metres", default=1e-5, low=0.0, high=1.0
        ),
        "lods": Param(
            "ratios",
            (),
            "extra levels of detail, as decreasing ratios of the optimized triangles",
            default=(),
            low=0.001,
            high=0.999,
        ),
    },
    "convert": {"format": _param("str", "the format to convert to", choices=MODEL_FORMATS)},
    "export": {"formats": _param("list", "formats to export", default=EXPORT_FORMATS, choices=EXPORT_FORMATS)},
    "retarget": {},
}


class Stage(NamedTuple):
    """A stage of a job type: the worker serving it, where its input files come from, and fixed params."""

    name: str
    worker: str  # "gpu" | "blender"
    inputs: Mapping[str, str] = MappingProxyType({})  # role -> "input:<field>" | "<stage>:<role>"
    fixed_params: Mapping[str, Any] = MappingProxyType({})


class JobType(NamedTuple):
    """A job type: its inputs, stages, the params users may set (name -> stages receiving it), and its base cost."""

    inputs: dict[str, tuple[str, ...]]  # input field -> accepted asset kinds ("text" for a prompt)
    stages: tuple[Stage, ...]
    cost: int
    params: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    required_params: tuple[str, ...] = ()
    one_of_params: tuple[str, ...] = ()

    def param(self, name: str) -> Param:
        """The user-facing spec of a param: the first receiving stage's (its bounds and default)."""
        return STAGE_PARAMS[self.params[name][0]][name]


JOB_TYPES: dict[str, JobType] = {
    "MOTION_CAPTURE": JobType(
        inputs={"videoAssetId": ("VIDEO",)},
        stages=(
            Stage("pose", "gpu", {"video": "input:videoAssetId"}),
            Stage("export", "blender", {"model": "pose:bvh"}, {"formats": ["glb", "fbx"]}),
        ),
        cost=5,
        params=dict.fromkeys(STAGE_PARAMS["pose"], ("pose",)),
    ),
    "IMAGE_TO_3D": JobType(
        inputs={"imageAssetId": ("IMAGE",)},
        stages=(
            Stage("reconstruct", "gpu", {"image": "input:imageAssetId"}),
            Stage("optimize", "blender", {"model": "reconstruct:glb"}),
        ),
        cost=10,
        params={
            "foreground": ("reconstruct",),
            "detail": ("reconstruct",),
            "shape": ("reconstruct",),
            "subjects": ("reconstruct",),
            "targetTriangles": ("reconstruct", "optimize"),
            "textureSize": ("reconstruct",),
        },
    ),
    "TEXT_TO_AVATAR": JobType(
        inputs={"prompt": ("text",)},
        stages=(
            Stage("avatar", "gpu", {}),
            Stage("export", "blender", {"model": "avatar:glb"}, {"formats": ["fbx", "blend"]}),
        ),
        cost=10,
        params=dict.fromkeys(STAGE_PARAMS["avatar"], ("avatar",)),
    ),
    "PHOTO_TO_AVATAR": JobType(
        inputs={"imageAssetId": ("IMAGE",)},
        stages=(
            Stage("photo_avatar", "gpu", {"image": "input:imageAssetId"}),
            Stage("export", "blender", {"model": "photo_avatar:glb"}, {"formats": ["fbx", "blend"]}),
        ),
        cost=10,
        params=dict.fromkeys(STAGE_PARAMS["photo_avatar"], ("photo_avatar",)),
    ),
    "ANIMATE": JobType(
        inputs={"avatarAssetId": ("MODEL_3D", "ANIMATION"), "motionAssetId": ("ANIMATION",)},
        stages=(Stage("retarget", "blender", {"avatar": "input:avatarAssetId", "motion": "input:motionAssetId"}),),
        cost=5,
    ),
    "CONVERT": JobType(
        inputs={"modelAssetId": ("MODEL_3D", "ANIMATION")},
        stages=(Stage("convert", "blender", {"model": "input:modelAssetId"}),),
        cost=1,
        params={"format": ("convert",)},
        required_params=("format",),
    ),
    "OPTIMIZE": JobType(
        inputs={"modelAssetId": ("MODEL_3D", "ANIMATION")},
        stages=(Stage("optimize", "blender", {"model": "input:modelAssetId"}),),
        cost=2,
        params=dict.fromkeys(STAGE_PARAMS["optimize"], ("optimize",)),
        one_of_params=("targetTriangles", "ratio", "errorBound"),
    ),
}
MOTION_CAPTURE_COST_PER_10S = 2  # MOTION_CAPTURE adds this for every started 10 s of video


def validate_params(job_type: str, params: object) -> dict:
    """A job's params as users send them, checked against its type (InvalidParams for unknown, wrong or missing)."""
    spec = JOB_TYPES[job_type]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidParams("params must be an object")
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(sorted(spec.params)) or "none"
        raise InvalidParams(f"unknown params for {job_type}: {', '.join(unknown)} (allowed: {allowed})")
    checked = {name: spec.param(name).check(name, value) for name, value in params.items()}
    missing = [name for name in spec.required_params if name not in checked]
    if missing:
        raise InvalidParams(f"{job_type} needs params.{missing[0]}")
    if spec.one_of_params and sum(name in checked for name in spec.one_of_params) != 1:
        raise InvalidParams(f"{job_type} needs exactly one of params.{' or params.'.join(spec.one_of_params)}")
    return checked


def stage_params(stage: str, params: dict | None) -> dict:
    """What a stage runs with: its known params checked against its bounds, defaults filled, other keys kept."""
    if params is not None and not isinstance(params, dict):
        raise InvalidParams("params must be an object")
    given = dict(params or {})
    resolved = {}
    for name, spec in STAGE_PARAMS[stage].items():
        value = given.pop(name, None)
        if value is None:
            value = list(spec.default) if isinstance(spec.default, tuple) else spec.default
        else:
            value = spec.check(name, value)
        resolved[name] = value
    return {**given, **resolved}


def plan(job_type: str, inputs: dict, params: dict) -> list[dict]:
    """The job's stage list as stored on the job and read by the workers."""
    spec = JOB_TYPES[job_type]
    planned = []
    for stage in spec.stages:
        refs = {}
        for role, source in stage.inputs.items():
            origin, name = source.split(":", 1)
            refs[role] = {"asset": inputs[name]} if origin == "input" else {"stage": origin, "role": name}
        given = {k: v for k, v in params.items() if stage.name in spec.params[k]}
        if "prompt" in spec.inputs and stage.name == "avatar":
            given["prompt"] = inputs["prompt"]
        planned.append(
            {"name": stage.name, "worker": stage.worker, "inputs": refs, "params": {**stage.fixed_params, **given}}
        )
    return planned


def cost(job_type: str, video_seconds: float | None = None) -> int:
    """Credits a job costs (MOTION_CAPTURE adds a price per started 10 s of video)."""
    base = JOB_TYPES[job_type].cost
    if job_type == "MOTION_CAPTURE":
        base += MOTION_CAPTURE_COST_PER_10S * max(1, math.ceil((video_seconds or 0) / 10))
    return base


def describe() -> dict:
    """Every job type as JSON: inputs, user params (type, bounds, default, doc), required/one-of, cost."""
    return {
        name: {
            "inputs": {k: list(v) for k, v in t.inputs.items()},
            "params": {p: t.param(p).describe() for p in t.params},
            "requiredParams": list(t.required_params),
            "oneOfParams": list(t.one_of_params),
            "cost": t.cost,
            **({"costPer10s": MOTION_CAPTURE_COST_PER_10S} if name == "MOTION_CAPTURE" else {}),
            "stages": [s.name for s in t.stages],
        }
        for name, t in JOB_TYPES.items()
    }


def request_schema(job_type: str) -> dict:
    """The JSON Schema of a POST /jobs body for one job type: its inputs and its params with their bounds (the
    OpenAPI document's view of this table; `validate_params` stays the judge)."""
    spec = JOB_TYPES[job_type]
    inputs = {
        name: {"type": "string", "minLength": 1, "maxLength": PROMPT_MAX_CHARS, "description": "the prompt"}
        if kinds == ("text",)
        else {"type": "string", "minLength": 1, "description": f"the id of a {' or '.join(kinds)} asset"}
        for name, kinds in spec.inputs.items()
    }
    params: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: spec.param(name).json_schema() for name in spec.params},
    }
    if spec.required_params:
        params["required"] = list(spec.required_params)
    if spec.one_of_params:
        params["oneOf"] = [{"required": [name]} for name in spec.one_of_params]
    return {
        "title": job_type,
        "type": "object",
        "additionalProperties": False,
        "required": [
            "type",
            "projectId",
            "inputs",
            *(["params"] if spec.required_params or spec.one_of_params else []),
        ],
        "properties": {
            "type": {"const": job_type},
            "projectId": {"type": "string", "minLength": 1},
            "inputs": {"type": "object", "additionalProperties": False, "required": list(inputs), "properties": inputs},
            "params": params,
            "webhookUrl": {
                "type": ["string", "null"],
                "maxLength": 2000,
                "description": "http(s) URL told of the job's end (signed with the caller's webhook secret)",
            },
        },
    }
