"""The optimize stage: clean up, decimate to a triangle budget, downsize textures, compress, and make LODs."""

from __future__ import annotations

import math
import time
from pathlib import Path

import bpy

from container_workers.blender_worker import formats, geometry, scene, stats
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for


def _validate(params: dict) -> dict:
    """Optimize's params checked against the contract's bounds (INVALID_PARAMS), defaults filled in."""
    if isinstance(params, dict) and params.get("compression") == "meshopt":
        raise BadInputError(
            "UNSUPPORTED_COMPRESSION",
            "meshopt needs the external gltfpack tool, which this worker does not ship; use draco",
        )
    p = params_for("optimize", params)
    target, ratio = p["targetTriangles"], p["ratio"]
    if target is not None and ratio is not None:
        raise BadInputError("INVALID_PARAMS", "give targetTriangles or ratio, not both")
    return {
        "target": target,
        "ratio": ratio,
        "maxTextureSize": p["maxTextureSize"],
        "merge": float(p["mergeDistance"]),
        "compression": p["compression"],
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


def decimate(ratio: float) -> None:
    """Collapse-decimate every mesh to `ratio` of its triangles (applied first in the stack, before any skinning)."""
    for obj in stats.mesh_objects():
        if obj.data.users > 1:
            obj.data = obj.data.copy()
        mod = obj.modifiers.new("Decimate", "DECIMATE")
        mod.decimate_type, mod.ratio, mod.use_collapse_triangulate = "COLLAPSE", ratio, True
        with bpy.context.temp_override(object=obj, active_object=obj):
            bpy.ops.object.modifier_move_to_index(modifier=mod.name, index=0)
            bpy.ops.object.modifier_apply(modifier=mod.name)


def smooth_by_angle(degrees: float = 30.0) -> None:
    """Smooth-shade meshes without custom normals, keeping edges sharper than `degrees` hard."""
    for mesh in {o.data for o in stats.mesh_objects()}:
        if not mesh.has_custom_normals:
            mesh.set_sharp_from_angle(angle=math.radians(degrees))


def decimate_to(target: int) -> None:
    """Decimate the scene to `target` triangles, correcting once if rounding per mesh misses by more than 0.5%."""
    for _ in range(2):
        current = stats.describe().triangles
        if current <= target or abs(current - target) <= 0.005 * target:
            return
        decimate(target / current)


def downsize_textures(max_size: int) -> list[str]:
    """Scale down every image larger than `max_size` on its long side; return their names."""
    scaled = []
    for img in bpy.data.images:
        w, h = img.size
        if img.users and max(w, h) > max_size:
            k = max_size / max(w, h)
            img.scale(max(1, math.floor(w * k)), max(1, math.floor(h * k)))
            scaled.append(img.name)
    return sorted(scaled)


def purge_unused() -> None:
    """Remove datablocks nothing uses (materials, images, meshes, actions left behind)."""
    bpy.data.orphans_purge(do_local_ids=True, do_linked_ids=True, do_recursive=True)


def optimize(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Optimize inputs["model"] into a GLB (role "model") plus LODs (roles "lod1".."lodN") if asked."""
    p = _validate(params)
    started = time.monotonic()
    progress(2, "reading model")
    scene.reset()
    source = formats.load_upload(inputs["model"], workdir)
    before = stats.describe()
    if before.triangles == 0:
        raise BadInputError("EMPTY_MODEL", "the model has no triangles to optimize")
    wants_decimation = p["target"] is not None or (p["ratio"] or 1) < 1 or p["lods"]
    if "morphs" in before.features and wants_decimation:
        raise BadInputError(
            "CANNOT_DECIMATE_MORPHS",
            "meshes with shape keys (morph targets) cannot be decimated; optimize without a triangle budget",
        )
    original = geometry.world_triangles()
    progress(15, "cleaning meshes")
    clean_meshes(p["merge"])
    target = p["target"] if p["target"] is not None else round((p["ratio"] or 1) * before.triangles)
    progress(25, f"decimating to {target} triangles")
    decimate_to(target)
    smooth_by_angle()
    scaled = downsize_textures(p["maxTextureSize"]) if p["maxTextureSize"] else []
    purge_unused()
    after = stats.describe()
    draco = p["compression"] == "draco"
    progress(60, "writing GLB")
    kind = "ANIMATION" if "animation" in after.features else "MODEL_3D"
    out = formats.save("glb", workdir / "optimized", draco=draco)
    progress(70, "measuring geometric error")
    error = geometry.surface_error(original, geometry.world_triangles())
    outputs = [Output(out, kind, "model")]
    lods = []
    for i, ratio in enumerate(p["lods"], start=1):
        progress(75 + 20 * i / len(p["lods"]), f"making LOD {i}")
        decimate_to(max(4, round(ratio * after.triangles)))
        smooth_by_angle()
        lod = formats.save("glb", workdir / f"lod{i}", draco=draco)
        outputs.append(Output(lod, kind, f"lod{i}"))
        lods.append(
            {
                "role": f"lod{i}",
                "ratio": ratio,
                "triangles": stats.describe().triangles,
                "bytes": lod.stat().st_size,
                "geometricError": geometry.surface_error(original, geometry.world_triangles()),
            }
        )
    progress(100, "done")
    return StageResult(
        outputs,
        metadata={
            "from": source.format,
            "trianglesBefore": before.triangles,
            "trianglesAfter": after.triangles,
            "targetTriangles": target,
            "verticesBefore": before.vertices,
            "verticesAfter": after.vertices,
            "bytesBefore": inputs["model"].stat().st_size,
            "bytesAfter": out.stat().st_size,
            "geometricError": error,
            "compression": p["compression"],
            "texturesDownsized": scaled,
            "missingTextures": source.missing_textures,
            "lods": lods,
            "seconds": round(time.monotonic() - started, 3),
        },
    )
