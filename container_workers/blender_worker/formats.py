"""Import and export per file format, and what each format can hold."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bpy

from chalicelib.contract.formats import MODEL_FORMATS
from container_workers.blender_worker import gltf_file, safety, stats
from container_workers.common.skeleton import BVH_UNITS_PER_METRE
from container_workers.common.stage import BadInputError

_RICH = frozenset({"materials", "textures", "uv", "colors", "skeleton", "animation", "morphs"})
HOLDS: dict[str, frozenset[str]] = {
    "glb": _RICH,
    "gltf": _RICH,
    "fbx": _RICH,
    "usdz": _RICH,
    "blend": _RICH,
    "obj": frozenset({"materials", "textures", "uv", "colors"}),
    "ply": frozenset({"uv", "colors"}),
    "stl": frozenset(),
}
"""Features each target keeps. Losing one of ESSENTIAL is refused; losing the others is reported as `dropped`."""
ESSENTIAL = frozenset({"skeleton", "animation", "morphs"})


def _run(op, **kwargs) -> None:
    """Call an import/export operator, turning a failure into an exception."""
    result = op(**kwargs)
    if "FINISHED" not in result:
        raise RuntimeError(f"{op.idname_py()} returned {sorted(result)}")


def _import_gltf(path: Path) -> None:
    rate = gltf_file.read(path).frame_rate()
    if rate:
        bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = rate, 1.0
    _run(
        bpy.ops.import_scene.gltf,
        filepath=str(path),
        import_pack_images=True,
        disable_bone_shape=True,
        import_shading="NORMALS",
        merge_vertices=False,
    )


def _import_blend(path: Path) -> None:
    _run(bpy.ops.wm.open_mainfile, filepath=str(path), load_ui=False, use_scripts=False)
    for obj in stats.mesh_objects():
        if obj.data.shape_keys is None:
            for mod in [m for m in obj.modifiers if m.type != "ARMATURE"]:
                with bpy.context.temp_override(object=obj, active_object=obj):
                    bpy.ops.object.modifier_apply(modifier=mod.name)


_IMPORTERS = {
    "glb": _import_gltf,
    "gltf": _import_gltf,
    "fbx": lambda p: _run(bpy.ops.wm.fbx_import, filepath=str(p), import_colors="SRGB", validate_meshes=True),
    "obj": lambda p: _run(bpy.ops.wm.obj_import, filepath=str(p), validate_meshes=True),
    "stl": lambda p: _run(bpy.ops.wm.stl_import, filepath=str(p), use_mesh_validate=True),
    "ply": lambda p: _run(bpy.ops.wm.ply_import, filepath=str(p), import_colors="SRGB"),
    "usdz": lambda p: _run(
        bpy.ops.wm.usd_import,
        filepath=str(p),
        import_textures_mode="IMPORT_PACK",
        validate_meshes=True,
        import_cameras=False,
        import_lights=False,
        create_world_material=False,
    ),
    "blend": _import_blend,
    "bvh": lambda p: _run(
        bpy.ops.import_anim.bvh,
        filepath=str(p),
        global_scale=1.0 / BVH_UNITS_PER_METRE,
        update_scene_fps=True,
        rotate_mode="NATIVE",
    ),
}


def load(path: Path, fmt: str) -> None:
    """Import a checked file into the current (empty) scene; an unreadable file is a BadInputError."""
    try:
        _IMPORTERS[fmt](path)
    except (
        RuntimeError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        OverflowError,
        MemoryError,
    ) as exc:
        detail = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
        raise BadInputError("CORRUPT_FILE", f"{path.name} could not be read as {fmt.upper()}: {detail}") from None
    if not any(o.type in ("MESH", "ARMATURE") for o in bpy.context.scene.objects):
        raise BadInputError("EMPTY_MODEL", f"{path.name} holds no mesh or armature")


@dataclass(frozen=True)
class Loaded:
    """An imported upload: its format and the textures it named that were not in the upload."""

    format: str
    missing_textures: list[str]


def load_upload(path: Path, workdir: Path, accepted: tuple[str, ...] = MODEL_FORMATS, role: str = "model") -> Loaded:
    """Check an uploaded file (or .zip) and import it into the current scene."""
    model, fmt = safety.prepare(path, workdir, accepted, role)
    load(model, fmt)
    return Loaded(fmt, safety.check_loaded(model.parent, fmt))


def fit_frame_range() -> None:
    """Set the scene's frame range to the keyed frames, which exporters that bake the scene range rely on."""
    span = stats.frame_range()
    if span:
        bpy.context.scene.frame_start, bpy.context.scene.frame_end = span
        bpy.context.scene.frame_set(span[0])


def _export_gltf(path: Path, embedded: bool, draco: bool = False) -> None:
    _run(
        bpy.ops.export_scene.gltf,
        filepath=str(path),
        export_format="GLTF_EMBEDDED" if embedded else "GLB",
        export_yup=True,
        export_apply=False,
        export_animations=True,
        export_animation_mode="ACTIONS",
        export_skins=True,
        export_morph=True,
        export_cameras=False,
        export_lights=False,
        export_extras=False,
        export_draco_mesh_compression_enable=draco,
    )


def _used_materials() -> set:
    return {
        slot.material
        for o in stats.mesh_objects()
        for slot in o.material_slots
        if slot.material and slot.material.node_tree
    }


@contextmanager
def _texture_linked_directly() -> Iterator[None]:
    """While exporting, link a base colour texture straight to the shader where glTF import multiplied it by vertex colours.

    FBX and OBJ material writers only find a texture linked directly to Base Color (the vertex colours stay on the
    mesh); the original links are restored afterwards.
    """
    relinked = []
    for mat in _used_materials():
        base = next((n.inputs["Base Color"] for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED"), None)
        mix = base.links[0].from_node if base is not None and base.links else None
        if mix is None or mix.type != "MIX":
            continue
        sources = {link.from_node.type: link.from_socket for sock in mix.inputs for link in sock.links}
        if "TEX_IMAGE" in sources and "VERTEX_COLOR" in sources:
            relinked.append((mat, base.links[0].from_socket, base))
            mat.node_tree.links.new(sources["TEX_IMAGE"], base)
    try:
        yield
    finally:
        for mat, original, base in relinked:
            mat.node_tree.links.new(original, base)


def _images_to_files(folder: Path) -> None:
    """Put the textures the materials use as files in `folder`: OBJ's writer copies files, not packed data."""
    images = {n.image for m in _used_materials() for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image}
    for i, img in enumerate(sorted(images, key=lambda im: im.name)):
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(img.name).stem)[:60] or "texture"
        if img.packed_file:
            target = folder / f"{stem}.png" if not (folder / f"{stem}.png").exists() else folder / f"{stem}_{i}.png"
            img.filepath_raw, img.file_format = str(target), "PNG"
            img.save()
            img.unpack(method="REMOVE")
        else:
            source = Path(bpy.path.abspath(img.filepath))
            target = folder / f"{stem}{source.suffix.lower()}"
            target = target if not target.exists() else target.with_stem(f"{stem}_{i}")
            shutil.copyfile(source, target)
            img.filepath = str(target)


def _export_fbx(path: Path) -> None:
    with _texture_linked_directly():
        _run(
            bpy.ops.export_scene.fbx,
            filepath=str(path),
            path_mode="COPY",
            embed_textures=True,
            add_leaf_bones=False,
            object_types={"EMPTY", "ARMATURE", "MESH"},
            colors_type="SRGB",
            mesh_smooth_type="FACE",
            bake_anim=stats.frame_range() is not None,
            bake_anim_use_all_actions=False,
            bake_anim_use_nla_strips=False,
        )


def _export_obj(path: Path) -> Path:
    """OBJ with materials is an .obj + .mtl + textures: delivered as one .zip of them."""
    has_materials = any(o.material_slots for o in stats.mesh_objects())
    folder = path.parent / f"{path.stem}_obj" if has_materials else path.parent
    folder.mkdir(exist_ok=True)
    obj = folder / f"{path.stem}.obj"
    _images_to_files(folder)
    with _texture_linked_directly():
        _run(
            bpy.ops.wm.obj_export,
            filepath=str(obj),
            export_materials=has_materials,
            path_mode="COPY",
            export_colors=True,
            export_normals=True,
            export_uv=True,
            apply_modifiers=True,
            export_animation=False,
        )
    if not has_materials:
        return obj
    archive = path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder).as_posix())
    return archive


def _export_usdz(path: Path) -> None:
    _run(
        bpy.ops.wm.usd_export,
        filepath=str(path),
        export_animation=stats.frame_range() is not None,
        export_materials=True,
        export_armatures=True,
        export_shapekeys=True,
        export_lights=False,
        export_cameras=False,
        convert_world_material=False,
        generate_preview_surface=True,
    )


def _export_blend(path: Path) -> None:
    bpy.ops.file.pack_all()
    _run(bpy.ops.wm.save_as_mainfile, filepath=str(path), copy=True, compress=True, relative_remap=False)


def save(fmt: str, stem: Path, draco: bool = False) -> Path:
    """Export the scene to `stem` + the format's extension; return the one file to deliver."""
    fit_frame_range()
    path = stem.with_suffix("." + fmt)
    match fmt:
        case "glb":
            _export_gltf(path, embedded=False, draco=draco)
        case "gltf":
            _export_gltf(path, embedded=True)
        case "fbx":
            _export_fbx(path)
        case "obj":
            path = _export_obj(path)
        case "stl":
            _run(bpy.ops.wm.stl_export, filepath=str(path), ascii_format=False, apply_modifiers=True)
        case "ply":
            _run(
                bpy.ops.wm.ply_export,
                filepath=str(path),
                export_colors="SRGB",
                export_uv=True,
                export_normals=True,
                apply_modifiers=True,
                ascii_format=False,
            )
        case "usdz":
            _export_usdz(path)
        case "blend":
            _export_blend(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"{fmt} export wrote nothing")
    return path
