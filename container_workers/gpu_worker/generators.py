"""The generation stages and their backend interface: IMAGE_TO_3D (`reconstruct`) and TEXT_TO_AVATAR (`avatar`).

A stage validates its params, then hands them to the backend registered for its job type; the environment variable
IMAGE_TO_3D_BACKEND / TEXT_TO_AVATAR_BACKEND picks one by name. A learned backend (e.g. TripoSR on a GPU) implements
`Generator` and calls `register`; the pipeline keeps calling the same two stage functions.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from container_workers.common.stage import (
    BadInputError,
    ProgressFn,
    StageError,
    StageResult,
)
from container_workers.gpu_worker.avatar import ParametricAvatarGenerator
from container_workers.gpu_worker.foreground import METHODS
from container_workers.gpu_worker.image_to_3d import InflateReconstructor

IMAGE_TO_3D, TEXT_TO_AVATAR = "IMAGE_TO_3D", "TEXT_TO_AVATAR"
ENVIRONMENT = {IMAGE_TO_3D: "IMAGE_TO_3D_BACKEND", TEXT_TO_AVATAR: "TEXT_TO_AVATAR_BACKEND"}
TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)
MAX_PROMPT = 500


class Generator(Protocol):
    """A backend: turns validated params (and input files) into output files in `workdir`."""

    name: str

    def generate(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult: ...


_REGISTRY: dict[str, dict[str, Generator]] = {IMAGE_TO_3D: {}, TEXT_TO_AVATAR: {}}
_DEFAULTS: dict[str, str] = {}


def register(job_type: str, generator: Generator, default: bool = False) -> None:
    """Make `generator` available for `job_type` under its name (and the default when `default`)."""
    _REGISTRY[job_type][generator.name] = generator
    if default or job_type not in _DEFAULTS:
        _DEFAULTS[job_type] = generator.name


def backend(job_type: str) -> Generator:
    """The generator the environment selects for `job_type`, else the default one."""
    name = os.environ.get(ENVIRONMENT[job_type]) or _DEFAULTS[job_type]
    if name not in _REGISTRY[job_type]:
        raise StageError("BACKEND_UNAVAILABLE", f"No {job_type} backend named {name!r} (available: {', '.join(backends(job_type))}).")
    return _REGISTRY[job_type][name]


def backends(job_type: str) -> list[str]:
    """The names of the registered generators for `job_type`."""
    return sorted(_REGISTRY[job_type])


register(IMAGE_TO_3D, InflateReconstructor(), default=True)
register(TEXT_TO_AVATAR, ParametricAvatarGenerator(), default=True)


def _invalid(message: str) -> BadInputError:
    return BadInputError("INVALID_PARAMS", message)


def _number(params: dict, name: str, default, low, high, integer: bool = False):
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and float(value) != int(value)):
        raise _invalid(f"{name} must be a {'whole ' if integer else ''}number between {low} and {high}.")
    if not low <= value <= high:
        raise _invalid(f"{name} must be between {low} and {high}.")
    return int(value) if integer else float(value)


def _texture_size(params: dict, default: int) -> int:
    size = _number(params, "textureSize", default, TEXTURE_SIZES[0], TEXTURE_SIZES[-1], integer=True)
    if size not in TEXTURE_SIZES:
        raise _invalid(f"textureSize must be one of {', '.join(map(str, TEXTURE_SIZES))}.")
    return size


def reconstruct_params(params: dict) -> dict:
    """IMAGE_TO_3D params with defaults: foreground (auto|alpha|person|grabcut), detail 0..1, targetTriangles, textureSize."""
    foreground = params.get("foreground") or "auto"
    if foreground not in METHODS:
        raise _invalid(f"foreground must be one of {', '.join(METHODS)}.")
    return {
        "foreground": foreground,
        "detail": _number(params, "detail", 0.5, 0.0, 1.0),
        "targetTriangles": _number(params, "targetTriangles", 20000, 1000, 200000, integer=True),
        "textureSize": _texture_size(params, 1024),
    }


def avatar_params(params: dict) -> dict:
    """TEXT_TO_AVATAR params with defaults: prompt (required), seed, pose (T|A), targetTriangles, textureSize."""
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("prompt must be a non-empty text.")
    if len(prompt) > MAX_PROMPT:
        raise _invalid(f"prompt must be at most {MAX_PROMPT} characters.")
    pose = str(params.get("pose") or "T").upper()
    if pose not in ("T", "A"):
        raise _invalid("pose must be T or A.")
    return {
        "prompt": prompt.strip(),
        "seed": _number(params, "seed", 0, 0, 2**31 - 1, integer=True),
        "pose": pose,
        "targetTriangles": _number(params, "targetTriangles", 30000, 2000, 150000, integer=True),
        "textureSize": _texture_size(params, 1024),
    }


def reconstruct(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """IMAGE_TO_3D stage: inputs {"image"} -> outputs glb (MODEL_3D) and thumbnail (IMAGE)."""
    if "image" not in inputs:
        raise BadInputError("MISSING_INPUT", "IMAGE_TO_3D needs an image.")
    return backend(IMAGE_TO_3D).generate(inputs, reconstruct_params(params), Path(workdir), progress)


def avatar(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """TEXT_TO_AVATAR stage: params {"prompt", ...} -> outputs glb (MODEL_3D, rigged) and thumbnail (IMAGE)."""
    return backend(TEXT_TO_AVATAR).generate(inputs, avatar_params(params), Path(workdir), progress)
