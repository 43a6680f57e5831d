"""The convert stage: any supported model format to any other, refusing conversions that would lose motion."""

from __future__ import annotations

from pathlib import Path

from container_workers.blender_worker import formats, scene, stats
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for


def output_kind(s: stats.SceneStats) -> str:
    """ANIMATION for animated content, else MODEL_3D."""
    return "ANIMATION" if "animation" in s.features else "MODEL_3D"


def refuse_losses(s: stats.SceneStats, target: str) -> list[str]:
    """Raise FORMAT_CANNOT_HOLD if `target` would lose skeleton/animation/morphs; return the other features it drops."""
    lost = s.features - formats.HOLDS[target]
    essential = sorted(lost & formats.ESSENTIAL)
    if essential:
        keepers = ", ".join(f for f in formats.MODEL_FORMATS if formats.HOLDS[f] >= formats.ESSENTIAL)
        raise BadInputError(
            "FORMAT_CANNOT_HOLD",
            f"{target.upper()} cannot hold the model's {' and '.join(essential)}; use one of {keepers}",
        )
    return sorted(lost)


def convert(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Convert inputs["model"] to params["format"]; output role "model"."""
    target = params_for("convert", params)["format"]
    if target is None:
        raise BadInputError("INVALID_PARAMS", f"params.format is required: one of {', '.join(formats.MODEL_FORMATS)}")
    progress(5, "reading model")
    scene.reset()
    source = formats.load_upload(inputs["model"], workdir)
    before = stats.describe()
    dropped = refuse_losses(before, target)
    progress(50, f"writing {target.upper()}")
    out = formats.save(target, workdir / "model")
    progress(100, "done")
    return StageResult(
        outputs=[Output(out, output_kind(before), "model")],
        metadata={
            "from": source.format,
            "to": target,
            **before.as_dict(),
            "dropped": dropped,
            "missingTextures": source.missing_textures,
            "bytes": out.stat().st_size,
        },
    )
