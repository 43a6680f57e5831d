"""The contract between a worker and its stage functions (files in, files out)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from chalicelib.contract.jobtypes import stage_params
from chalicelib.contract.params import InvalidParams

ProgressFn = Callable[[float, str], None]
"""progress(percent 0-100 within this stage, short human message)."""

from chalicelib.contract.statuses import ASSET_KINDS  # noqa: E402, F401  (re-exported: the contract's kinds)


@dataclass(frozen=True)
class Output:
    """One file a stage produced; it becomes an asset of the job's project."""

    path: Path  # a file inside the stage's workdir
    kind: str  # one of ASSET_KINDS
    role: str  # stable name used by the next stage and the API: "bvh", "glb", "fbx", "preview", "thumbnail"...


@dataclass
class StageResult:
    """What a stage returns: its output files and JSON-serialisable facts shown with the job."""

    outputs: list[Output]
    metadata: dict = field(default_factory=dict)


class StageError(Exception):
    """A stage failure with a user-readable code and message."""

    retryable = False

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class BadInputError(StageError):
    """The input can never work (corrupt file, no person in the video...): fail the job, no retry."""

    retryable = False


class TransientError(StageError):
    """A passing fault (S3 hiccup, resource busy): the task may be retried."""

    retryable = True


def params_for(stage: str, params) -> dict:
    """A stage's params by the contract (bounds checked, defaults filled, other keys kept); INVALID_PARAMS if wrong."""
    try:
        return stage_params(stage, params)
    except InvalidParams as exc:
        raise BadInputError(exc.code, str(exc)) from None


class StageFn(Protocol):
    """A stage: `inputs` maps an input role to a local file, `params` are the job's validated params."""

    def __call__(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult: ...
