"""The optimize stage: simplify with meshoptimizer (gltfpack), compress, downsize textures, make LODs, measure the error."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from PIL import Image

from chalicelib.contract.formats import MODEL_FORMATS
from container_workers.blender_worker import formats, geometry, glb, gltfpack, safety, scene, stats
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for

_PIL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
T = TypeVar("T")


def _validate(params: dict) -> dict:
    """Optimize's params checked against the contract's bounds (INVALID_PARAMS), defaults filled in."""
    p = params_for("optimize", params)
    budgets = [name for name in ("targetTriangles", "ratio", "errorBound") if p[name] is not None]
    if len(budgets) > 1:
        raise BadInputError("INVALID_PARAMS", f"give one budget, not {' and '.join(budgets)}")
    return {
        "target": p["targetTriangles"],
        "ratio": p["ratio"],
        "errorBound": p["errorBound"],
        "maxTextureSize": p["maxTextureSize"],
        "cleanup": p["cleanup"],
        "merge": float(p["mergeDistance"]),
        "compression": p["compression"],
        "keepNames": p["keepNames"],
        "lods": p["lods"],
    }


def clean_meshes(merge_distance: float) -> None:
    """Merge vertices closer than `merge_distance`, drop loose vertices and edges, make face normals consistent."""
    import bmesh  # only importable once bpy has loaded Blender

    for mesh in {o.data for o in stats.mesh_objects()}:
        bm = bmesh.new()
        bm.from_mesh(mesh)
        if merge_distance > 0:
            bmesh.ops.remove_doubles(bm, verts=bm.verts, dist=merge_distance)
        bmesh.ops.delete(bm, geom=[e for e in bm.edges if not e.link_faces], context="EDGES")
        bmesh.ops.delete(bm, geom=[v for v in bm.verts if not v.link_faces], context="VERTS")
        bmesh.ops.recalc_face_normals(bm, faces=bm.faces)
        bm.to_mesh(mesh)
        bm.free()
        mesh.update()


def smooth_by_angle(degrees: float = 30.0) -> None:
    """Smooth-shade meshes without custom normals, keeping edges sharper than `degrees` hard."""
    for mesh in {o.data for o in stats.mesh_objects()}:
        if not mesh.has_custom_normals:
            mesh.set_sharp_from_angle(angle=math.radians(degrees))


def through_blender(model: Path, fmt: str, p: dict, workdir: Path) -> tuple[Path, list[str]]:
    """Import any model format with Blender (cleaning meshes up if asked), smooth-shade by angle, write a plain GLB."""
    scene.reset()
    formats.load(model, fmt)
    missing = safety.check_loaded(model.parent, fmt)
    if p["cleanup"]:
        clean_meshes(p["merge"])
    smooth_by_angle()
    return formats.save("glb", workdir / "source"), missing


def downsize_textures(source: glb.Glb, max_size: int) -> list[str]:
    """Scale embedded PNG/JPEG images larger than `max_size` on their long side down to it; return their names."""
    scaled = []
    for index, img in enumerate(source.doc.get("images", [])):
        kind = _PIL_FORMATS.get(img.get("mimeType", ""))
        if kind is None or "bufferView" not in img:
            continue
        try:
            with Image.open(io.BytesIO(source.image(index))) as picture:
                w, h = picture.size
                if max(w, h) <= max_size:
                    continue
                k = max_size / max(w, h)
                size = (max(1, math.floor(w * k)), max(1, math.floor(h * k)))
                smaller = picture.resize(size, Image.Resampling.LANCZOS)
                out = io.BytesIO()
                smaller.save(out, kind, **({"quality": 90} if kind == "JPEG" else {}))
        except (OSError, ValueError):  # an image Pillow cannot decode is left as it is
            continue
        source.views[img["bufferView"]] = out.getvalue()
        scaled.append(img.get("name", f"image{index}"))
    return sorted(scaled)


def _readable(read: Callable[[], T]) -> T:
    """The result of reading the input GLB; a structure its checks let through but we cannot read is CORRUPT_FILE."""
    try:
        return read()
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BadInputError("CORRUPT_FILE", f"the GLB's meshes could not be read: {exc}") from None


def _budget(p: dict, triangles: int) -> tuple[float, float]:
    """(ratio, error limit) for gltfpack: a triangle budget under the guard limit, or as far as an error bound allows."""
    if p["errorBound"] is not None:
        return 0.0, p["errorBound"]
    if p["target"] is not None:
        return min(1.0, p["target"] / triangles), gltfpack.BUDGET_GUARD
    return p["ratio"] or 1.0, gltfpack.BUDGET_GUARD


def _measure(reference: geometry.Reference, pack: gltfpack.Pack) -> tuple[glb.Glb, dict]:
    """Read a finished output back (decoding its compression) and measure its distance from the reference surface."""
    out = glb.read(pack.readable)
    shape = glb.surface(out)
    return out, geometry.surface_error(reference, geometry.Reference(shape.vertices, shape.triangles))


def optimize(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Optimize inputs["model"] into a GLB (role "model") plus LODs (roles "lod1".."lodN") if asked."""
    p = _validate(params)
    started = time.monotonic()
    progress(2, "checking model")
    model, fmt = safety.prepare(inputs["model"], workdir, MODEL_FORMATS, "model")
    missing: list[str] = []
    if fmt != "glb" or p["cleanup"]:
        progress(5, "converting to GLB with Blender")
        model, missing = through_blender(model, fmt, p, workdir)
    source = _readable(lambda: glb.read(model))
    before = _readable(lambda: glb.triangle_count(source))
    if before == 0:
        raise BadInputError("EMPTY_MODEL", "the model has no triangles to optimize")
    ratio, error_limit = _budget(p, before)
    if glb.has_morph_targets(source) and (ratio < 1 or p["lods"]):
        raise BadInputError(
            "CANNOT_DECIMATE_MORPHS",
            "meshes with morph targets cannot be simplified; optimize without a triangle budget",
        )
    scaled = downsize_textures(source, p["maxTextureSize"]) if p["maxTextureSize"] else []
    if scaled:
        model = glb.write(source, workdir / "downsized.glb")
    options = gltfpack.Options(
        ratio=ratio,
        error=error_limit,
        compression=p["compression"],
        keep_names=p["keepNames"],
        keep_attributes=glb.has_attribute(source, "COLOR_1"),
        fps=glb.frame_rate(source),
    )
    progress(10, "simplifying and compressing (gltfpack)")
    with ExitStack() as running:
        pack = gltfpack.Pack(model, workdir / "optimized.glb", options)
        running.callback(pack.cancel)
        shape = _readable(lambda: glb.surface(source))  # the reference is prepared while gltfpack works
        reference = geometry.Reference(shape.vertices, shape.triangles)
        out_path = pack.result()
    progress(60, "measuring geometric error")
    out, error = _measure(reference, pack)
    after = glb.triangle_count(out)
    kind = "ANIMATION" if source.doc.get("animations") else "MODEL_3D"
    outputs = [Output(out_path, kind, "model")]
    lods = []
    if p["lods"]:
        progress(70, f"making {len(p['lods'])} levels of detail")
        with ExitStack() as running:
            packs = []
            for i, lod_ratio in enumerate(p["lods"], start=1):  # all levels at once, each from the original
                lod_options = replace(
                    options, ratio=max(4, round(lod_ratio * after)) / before, error=gltfpack.BUDGET_GUARD
                )
                packs.append(gltfpack.Pack(model, workdir / f"lod{i}.glb", lod_options))
                running.callback(packs[-1].cancel)
            for i, (lod_ratio, lod_pack) in enumerate(zip(p["lods"], packs), start=1):
                lod_path = lod_pack.result()
                lod_glb, lod_error = _measure(reference, lod_pack)
                outputs.append(Output(lod_path, kind, f"lod{i}"))
                lods.append(
                    {
                        "role": f"lod{i}",
                        "ratio": lod_ratio,
                        "triangles": glb.triangle_count(lod_glb),
                        "bytes": lod_path.stat().st_size,
                        "geometricError": lod_error,
                    }
                )
    progress(100, "done")
    return StageResult(
        outputs,
        metadata={
            "from": fmt,
            "trianglesBefore": before,
            "trianglesAfter": after,
            "targetTriangles": round(ratio * before) if p["errorBound"] is None else None,
            "errorBound": p["errorBound"],
            "verticesBefore": glb.vertex_count(source),
            "verticesAfter": glb.vertex_count(out),
            "bytesBefore": inputs["model"].stat().st_size,
            "bytesAfter": out_path.stat().st_size,
            "geometricError": error,
            "compression": p["compression"],
            "texturesDownsized": scaled,
            "missingTextures": missing,
            "lods": lods,
            "simplifier": f"meshoptimizer (gltfpack {gltfpack.versions()['gltfpack']})",
            "seconds": round(time.monotonic() - started, 3),
        },
    )
