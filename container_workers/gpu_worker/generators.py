"""The generation backend interface: a registry of generators per job type (IMAGE_TO_3D, TEXT_TO_AVATAR, PHOTO_TO_AVATAR).

The stage functions (`image_to_3d.stage.reconstruct`, `avatar.stage.avatar`, `avatar.photo.photo_avatar`) validate their
params and call `run`, which hands them to the backend the environment selects (IMAGE_TO_3D_BACKEND /
TEXT_TO_AVATAR_BACKEND / PHOTO_TO_AVATAR_BACKEND) or else the default. The
classical backends register themselves as defaults when their modules are imported. A learned backend (e.g. TripoSR
on a GPU) implements `Generator`, calls `register` when its module is imported by the worker, and is selected by
name; the pipeline keeps calling the same stage functions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from container_workers.common.stage import ProgressFn, StageError, StageResult

IMAGE_TO_3D, TEXT_TO_AVATAR, PHOTO_TO_AVATAR = "IMAGE_TO_3D", "TEXT_TO_AVATAR", "PHOTO_TO_AVATAR"
ENVIRONMENT = {job_type: f"{job_type}_BACKEND" for job_type in (IMAGE_TO_3D, TEXT_TO_AVATAR, PHOTO_TO_AVATAR)}


class Generator(Protocol):
    """A backend: turns validated params (and input files) into output files in `workdir`."""

    name: str

    def generate(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
        """Produce the stage's outputs (same roles for every backend of a job type)."""


_REGISTRY: dict[str, dict[str, Generator]] = {job_type: {} for job_type in ENVIRONMENT}
_DEFAULTS: dict[str, str] = {}


def register(job_type: str, generator: Generator, default: bool = False) -> None:
    """Make `generator` available for `job_type` under its name (and the default when `default` or the first)."""
    _REGISTRY[job_type][generator.name] = generator
    if default or job_type not in _DEFAULTS:
        _DEFAULTS[job_type] = generator.name


def backends(job_type: str) -> list[str]:
    """The names of the registered generators for `job_type`."""
    return sorted(_REGISTRY[job_type])


def backend(job_type: str) -> Generator:
    """The generator the environment selects for `job_type`, else the default one."""
    name = os.environ.get(ENVIRONMENT[job_type]) or _DEFAULTS.get(job_type)
    if name not in _REGISTRY[job_type]:
        raise StageError(
            "BACKEND_UNAVAILABLE", f"No {job_type} backend named {name!r} (available: {', '.join(backends(job_type))})."
        )
    return _REGISTRY[job_type][name]


def run(job_type: str, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Hand validated params to the selected backend."""
    return backend(job_type).generate(inputs, params, Path(workdir), progress)
