"""The export stage: an intermediate (mocap BVH, GLB, FBX...) to GLB / FBX / BLEND in one go, plus a PNG thumbnail.

A bare skeleton (a BVH, a skeleton-only file) gets a mannequin skinned to it so the outputs show a moving character.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy

from container_workers.blender_worker import formats, mannequin, render, scene, stats
from container_workers.common.stage import Output, ProgressFn, StageResult, params_for


def bare_armatures() -> list[bpy.types.Object]:
    """Armatures no mesh is skinned to (a BVH's skeleton, a skeleton-only GLB)."""
    skinned = {m.object for o in stats.mesh_objects() for m in o.modifiers if m.type == "ARMATURE"}
    return [o for o in bpy.context.scene.objects if o.type == "ARMATURE" and o not in skinned]


@contextmanager
def _keys_from_frame_zero() -> Iterator[None]:
    """While exporting FBX, the animation's first key is on frame 0.

    The FBX writer stores frame f at time f / fps and Blender's FBX reader puts time 0 on frame 1, so an
    animation keyed from frame 1 would come back starting on frame 2 (and other tools would see a blank first frame).
    """
    span = stats.frame_range()
    shift = -span[0] if span else 0
    curves = [
        fc
        for action in (bpy.data.actions if shift else ())
        for layer in action.layers
        for strip in layer.strips
        for bag in strip.channelbags
        for fc in bag.fcurves
    ]

    def move(by: int) -> None:
        for fc in curves:
            for key in fc.keyframe_points:
                key.co.x += by
                key.handle_left.x += by
                key.handle_right.x += by

    move(shift)
    try:
        yield
    finally:
        move(-shift)


def export(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Export inputs["model"] to params["formats"] (contract: default all of glb, fbx, blend; roles = format) and a "thumbnail"."""
    wanted = list(dict.fromkeys(params_for("export", params)["formats"]))  # each format once, in the order asked
    progress(5, "reading input")
    scene.reset()
    source = formats.load_upload(inputs["model"], workdir, accepted=(*formats.MODEL_FORMATS, "bvh"))
    bare = bare_armatures()
    if bare:
        progress(20, "building the mannequin")
        for armature in bare:
            mannequin.build(armature)
    content = stats.describe()
    kind = "ANIMATION" if "animation" in content.features else "MODEL_3D"
    outputs = []
    for i, fmt in enumerate(wanted):
        progress(30 + 50 * i / len(wanted), f"writing {fmt.upper()}")
        if fmt == "fbx":
            with _keys_from_frame_zero():
                outputs.append(Output(formats.save(fmt, workdir / "model"), kind, fmt))
        else:
            outputs.append(Output(formats.save(fmt, workdir / "model"), kind, fmt))
    progress(85, "rendering thumbnail")
    outputs.append(Output(render.thumbnail(workdir / "thumbnail.png"), "IMAGE", "thumbnail"))
    progress(100, "done")
    return StageResult(
        outputs,
        metadata={
            "from": source.format,
            **content.as_dict(),
            "fps": round(bpy.context.scene.render.fps / bpy.context.scene.render.fps_base, 3),
            "missingTextures": source.missing_textures,
            "bytes": {o.role: o.path.stat().st_size for o in outputs},
        },
    )
