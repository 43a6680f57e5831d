"""What each job type runs: its inputs, its params (validated), and its stages on the gpu/blender workers."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from chalicelib import settings
from chalicelib.errors import ValidationError


@dataclass(frozen=True)
class Param:
    """One accepted param: type, bounds, and which stages receive it."""

    kind: type | tuple
    stages: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None


@dataclass(frozen=True)
class Stage:
    """A stage of a pipeline: the worker serving it and where its inputs come from."""

    name: str
    worker: str  # "gpu" | "blender"
    inputs: dict[str, str] = field(default_factory=dict)  # role -> "input:<field>" | "<stage>:<role>"
    fixed_params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    """A job type."""

    inputs: dict[str, tuple[str, ...]]  # input field -> accepted asset kinds ("text" for a prompt)
    stages: tuple[Stage, ...]
    params: dict[str, Param] = field(default_factory=dict)
    required_params: tuple[str, ...] = ()
    one_of_params: tuple[str, ...] = ()


_MODEL_FORMATS = ("glb", "gltf", "fbx", "obj", "stl", "ply", "usdz", "blend")
_TEXTURE_SIZES = (64, 128, 256, 512, 1024, 2048, 4096)
_GENERATED_TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)

PIPELINES: dict[str, Pipeline] = {
    "MOTION_CAPTURE": Pipeline(
        inputs={"videoAssetId": ("VIDEO",)},
        stages=(Stage("pose", "gpu", {"video": "input:videoAssetId"}),
                Stage("export", "blender", {"model": "pose:bvh"}, {"formats": ["glb", "fbx"]})),
        params={"smoothing": Param(float, ("pose",), 0.0, 1.0), "rootMotion": Param(bool, ("pose",))},
    ),
    "IMAGE_TO_3D": Pipeline(
        inputs={"imageAssetId": ("IMAGE",)},
        stages=(Stage("reconstruct", "gpu", {"image": "input:imageAssetId"}),
                Stage("optimize", "blender", {"model": "reconstruct:glb"})),
        params={
            "foreground": Param(str, ("reconstruct",), choices=("auto", "alpha", "person", "grabcut")),
            "detail": Param(float, ("reconstruct",), 0.0, 1.0),
            "targetTriangles": Param(int, ("reconstruct", "optimize"), 1_000, 200_000),
            "textureSize": Param(int, ("reconstruct",), choices=_GENERATED_TEXTURE_SIZES),
        },
    ),
    "TEXT_TO_AVATAR": Pipeline(
        inputs={"prompt": ("text",)},
        stages=(Stage("avatar", "gpu", {}),
                Stage("export", "blender", {"model": "avatar:glb"}, {"formats": ["fbx", "blend"]})),
        params={
            "seed": Param(int, ("avatar",), 0, 2**31 - 1),
            "pose": Param(str, ("avatar",), choices=("T", "A")),
            "targetTriangles": Param(int, ("avatar",), 2_000, 150_000),
            "textureSize": Param(int, ("avatar",), choices=_GENERATED_TEXTURE_SIZES),
        },
    ),
    "ANIMATE": Pipeline(
        inputs={"avatarAssetId": ("MODEL_3D", "ANIMATION"), "motionAssetId": ("ANIMATION",)},
        stages=(Stage("retarget", "blender", {"avatar": "input:avatarAssetId", "motion": "input:motionAssetId"}),),
    ),
    "CONVERT": Pipeline(
        inputs={"modelAssetId": ("MODEL_3D", "ANIMATION")},
        stages=(Stage("convert", "blender", {"model": "input:modelAssetId"}),),
        params={"format": Param(str, ("convert",), choices=_MODEL_FORMATS)},
        required_params=("format",),
    ),
    "OPTIMIZE": Pipeline(
        inputs={"modelAssetId": ("MODEL_3D", "ANIMATION")},
        stages=(Stage("optimize", "blender", {"model": "input:modelAssetId"}),),
        params={
            "targetTriangles": Param(int, ("optimize",), 4, 10_000_000),
            "ratio": Param(float, ("optimize",), 0.001, 1.0),
            "maxTextureSize": Param(int, ("optimize",), choices=_TEXTURE_SIZES),
            "mergeDistance": Param(float, ("optimize",), 0.0, 1.0),
            "compression": Param(str, ("optimize",), choices=("none", "draco")),
            "lods": Param(list, ("optimize",), 0.001, 0.999),
        },
        one_of_params=("targetTriangles", "ratio"),
    ),
}
JOB_TYPES = tuple(PIPELINES)


def _check_param(name: str, value, spec: Param):
    if spec.kind is list:  # a short list of ratios (LODs)
        if not isinstance(value, list) or len(value) > 4:
            raise ValidationError(f"params.{name} must be a list of at most 4 ratios", code="INVALID_PARAMS")
        return [_check_param(name, item, Param(float, spec.stages, spec.low, spec.high)) for item in value]
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise ValidationError(f"params.{name} must be true or false", code="INVALID_PARAMS")
        return value
    if spec.kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(f"params.{name} must be a whole number", code="INVALID_PARAMS")
    if spec.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(f"params.{name} must be a number", code="INVALID_PARAMS")
        value = float(value)
    if spec.kind is str and not isinstance(value, str):
        raise ValidationError(f"params.{name} must be a string", code="INVALID_PARAMS")
    if spec.choices is not None and value not in spec.choices:
        raise ValidationError(f"params.{name} must be one of {', '.join(map(str, spec.choices))}", code="INVALID_PARAMS")
    if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
        raise ValidationError(f"params.{name} must be between {spec.low} and {spec.high}", code="INVALID_PARAMS")
    return value


def validate_params(job_type: str, params) -> dict:
    """Check a job's params against its type; unknown names, wrong types and out-of-range values are 400s."""
    pipeline = PIPELINES[job_type]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError("params must be an object", code="INVALID_PARAMS")
    unknown = sorted(set(params) - set(pipeline.params))
    if unknown:
        allowed = ", ".join(sorted(pipeline.params)) or "none"
        raise ValidationError(f"unknown params for {job_type}: {', '.join(unknown)} (allowed: {allowed})", code="INVALID_PARAMS")
    checked = {name: _check_param(name, value, pipeline.params[name]) for name, value in params.items()}
    missing = [name for name in pipeline.required_params if name not in checked]
    if missing:
        raise ValidationError(f"{job_type} needs params.{missing[0]}", code="INVALID_PARAMS")
    if pipeline.one_of_params and sum(name in checked for name in pipeline.one_of_params) != 1:
        raise ValidationError(f"{job_type} needs exactly one of params.{' or params.'.join(pipeline.one_of_params)}",
                              code="INVALID_PARAMS")
    return checked


def plan(job_type: str, inputs: dict, params: dict) -> list[dict]:
    """The job's stage list as stored on the job and read by the workers."""
    pipeline = PIPELINES[job_type]
    planned = []
    for stage in pipeline.stages:
        refs = {}
        for role, source in stage.inputs.items():
            origin, name = source.split(":", 1)
            refs[role] = {"asset": inputs[name]} if origin == "input" else {"stage": origin, "role": name}
        stage_params = {k: v for k, v in params.items() if stage.name in pipeline.params[k].stages}
        if job_type == "TEXT_TO_AVATAR" and stage.name == "avatar":
            stage_params["prompt"] = inputs["prompt"]
        planned.append({"name": stage.name, "worker": stage.worker, "inputs": refs,
                        "params": {**stage.fixed_params, **stage_params}})
    return planned


def queue_url(worker: str) -> str:
    """The task queue of a worker."""
    return {"gpu": settings.GPU_QUEUE_URL, "blender": settings.BLENDER_QUEUE_URL}[worker]


def execution_input(job_id: str, stages: list[dict]) -> dict:
    """The state machine's input for a job."""
    return {"jobId": job_id, "stageCount": len(stages),
            "stages": [{"index": i, "name": s["name"], "queueUrl": queue_url(s["worker"])} for i, s in enumerate(stages)]}


def cost(job_type: str, video_seconds: float | None = None) -> int:
    """Credits a job costs (MOTION_CAPTURE adds a price per started 10 s of video)."""
    base = settings.JOB_COSTS[job_type]
    if job_type == "MOTION_CAPTURE":
        base += settings.MOTION_CAPTURE_COST_PER_10S * max(1, math.ceil((video_seconds or 0) / 10))
    return base
