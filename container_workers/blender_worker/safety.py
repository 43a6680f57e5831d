"""Checks on uploaded files before and after Blender reads them: formats, sizes, counts, archives, references, scripts."""

from __future__ import annotations

import json
import mmap
import os
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path

import bpy

from container_workers.blender_worker import glb, gltf_file
from container_workers.common.stage import BadInputError

MAX_INPUT_BYTES = 1 << 30  # one uploaded file
MAX_UNPACKED_BYTES = 2 << 30  # everything inside an archive
MAX_ARCHIVE_FILES = 2000
MAX_ELEMENTS = 100_000_000  # triangles / vertices / faces a header may declare
MAX_FBX_ARRAY_BYTES = 1 << 30  # one decompressed FBX array
MAX_FBX_TOTAL_BYTES = 4 << 30  # all decompressed FBX arrays
MAX_BVH_JOINTS = 1000
MAX_BVH_VALUES = 50_000_000  # frames x channels
MAX_JSON_BYTES = 64 << 20  # the JSON chunk of a GLB

MODEL_EXTENSIONS = {
    ".glb": "glb",
    ".gltf": "gltf",
    ".fbx": "fbx",
    ".obj": "obj",
    ".stl": "stl",
    ".ply": "ply",
    ".usdz": "usdz",
    ".blend": "blend",
    ".bvh": "bvh",
}


def _corrupt(message: str) -> BadInputError:
    return BadInputError("CORRUPT_FILE", message)


def prepare(path: Path, workdir: Path, accepted: tuple[str, ...], role: str = "model") -> tuple[Path, str]:
    """Check an uploaded file, place it (or unpack a .zip) in workdir/upload-<role>, return the file to import and its format."""
    if not path.is_file():
        raise BadInputError("MISSING_FILE", f"input file not found: {path.name}")
    size = path.stat().st_size
    if size == 0:
        raise _corrupt(f"{path.name} is empty")
    if size > MAX_INPUT_BYTES:
        raise BadInputError("FILE_TOO_LARGE", f"{path.name} is {size} bytes; the limit is {MAX_INPUT_BYTES}")
    upload = workdir / f"upload-{role}"  # holds only this upload: the one folder its references may point into
    shutil.rmtree(upload, ignore_errors=True)
    upload.mkdir(parents=True)
    if path.suffix.lower() == ".zip":
        path = _unzip(path, upload)
    else:
        path = _link(path, upload)
    fmt = MODEL_EXTENSIONS.get(path.suffix.lower())
    if fmt not in accepted:
        raise BadInputError(
            "UNSUPPORTED_FORMAT", f"{path.name}: expected one of {', '.join(accepted)} (or a .zip of one)"
        )
    if fmt == "glb" and _meshopt_compressed(path):
        path = _expand_meshopt(path)
    _CHECKS[fmt](path)
    return path, fmt


def _meshopt_compressed(path: Path) -> bool:
    """True for a GLB whose JSON declares meshopt compression (the optimize stage's default output)."""
    with path.open("rb") as f:
        head = f.read(20)
        if len(head) < 20 or head[:4] != b"glTF":
            return False
        length = struct.unpack_from("<I", head, 12)[0]
        if length > MAX_JSON_BYTES:
            return False  # the structure check refuses it
        text = f.read(length)
    return any(name.encode() in text for name in glb.MESHOPT)


def _expand_meshopt(path: Path) -> Path:
    """The same GLB with its meshopt-compressed buffer views expanded, which Blender's importer can read."""
    try:
        data = path.read_bytes()
        doc = json.loads(data[20 : 20 + struct.unpack_from("<I", data, 12)[0]])
        declared = sum(
            int(ext["count"]) * int(ext["byteStride"])
            for view in doc.get("bufferViews", [])
            for name, ext in view.get("extensions", {}).items()
            if name in glb.MESHOPT
        )
    except (ValueError, KeyError, TypeError, AttributeError, struct.error) as exc:
        raise _corrupt(f"{path.name}: its meshopt compression is malformed") from exc
    if declared > MAX_UNPACKED_BYTES:
        raise BadInputError(
            "FILE_TOO_LARGE", f"{path.name} expands to {declared} bytes; the limit is {MAX_UNPACKED_BYTES}"
        )
    try:
        return glb.write(glb.read(path), path.with_name(f"{path.stem}-expanded.glb"))
    except Exception as exc:  # the decoder raises many types on corrupt input
        raise _corrupt(f"{path.name}: its meshopt-compressed data cannot be decoded") from exc


def _link(path: Path, folder: Path) -> Path:
    """Hard-link (or copy) a single uploaded file into its own folder."""
    target = folder / path.name
    try:
        os.link(path, target)
    except OSError:
        shutil.copyfile(path, target)
    return target


def _safe_members(zf: zipfile.ZipFile, what: str) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_ARCHIVE_FILES:
        raise BadInputError("ARCHIVE_TOO_LARGE", f"{what} holds {len(infos)} files; the limit is {MAX_ARCHIVE_FILES}")
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise BadInputError("ARCHIVE_TOO_LARGE", f"{what} unpacks to more than {MAX_UNPACKED_BYTES} bytes")
    for info in infos:
        name = info.filename
        is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
        if name.startswith(("/", "\\")) or ".." in Path(name).parts or ":" in name or is_link:
            raise BadInputError("UNSAFE_ARCHIVE", f"{what} has an unsafe entry: {name[:80]}")
    return infos


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _corrupt(f"{path.name} is not a readable zip archive: {exc}") from None


def _unzip(path: Path, dest: Path) -> Path:
    """Extract an archive safely and return the one model file in it."""
    with _open_zip(path) as zf:
        infos = _safe_members(zf, path.name)
        models = [i.filename for i in infos if not i.is_dir() and Path(i.filename).suffix.lower() in MODEL_EXTENSIONS]
        if len(models) != 1:
            raise BadInputError(
                "AMBIGUOUS_ARCHIVE", f"{path.name} must hold exactly one model file; found {len(models)}"
            )
        try:
            zf.extractall(dest)
        except (zipfile.BadZipFile, zlib.error, OSError) as exc:
            raise _corrupt(f"{path.name} could not be unpacked: {exc}") from None
    return dest / models[0]


def _check_gltf(path: Path) -> None:
    gltf_file.read(path)


def _check_usdz(path: Path) -> None:
    with _open_zip(path) as zf:
        infos = _safe_members(zf, path.name)
        if not infos or Path(infos[0].filename).suffix.lower() not in (".usdc", ".usda", ".usd"):
            raise _corrupt(f"{path.name} is not a USDZ package (its first file must be a USD layer)")
        if zf.testzip() is not None:
            raise _corrupt(f"{path.name} has a damaged entry")


def _check_blend(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(12)
    if not head.startswith((b"BLENDER", b"\x28\xb5\x2f\xfd", b"\x1f\x8b")):
        raise _corrupt(f"{path.name} is not a .blend file")


def _check_stl(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(84)
    if len(head) == 84:
        (count,) = struct.unpack_from("<I", head, 80)
        if 84 + 50 * count == size:
            if count > MAX_ELEMENTS:
                raise BadInputError("TOO_COMPLEX", f"{path.name} has {count} triangles; the limit is {MAX_ELEMENTS}")
            return
    if not head.lstrip().startswith(b"solid"):
        raise _corrupt(f"{path.name}: binary STL size does not match its triangle count (truncated?)")


_PLY_SIZES = {
    "char": 1,
    "uchar": 1,
    "int8": 1,
    "uint8": 1,
    "short": 2,
    "ushort": 2,
    "int16": 2,
    "uint16": 2,
    "int": 4,
    "uint": 4,
    "int32": 4,
    "uint32": 4,
    "float": 4,
    "float32": 4,
    "double": 8,
    "float64": 8,
}


def _check_ply(path: Path) -> None:
    with path.open("rb") as f:
        head = f.read(65536)
    end = head.find(b"end_header")
    if not head.startswith(b"ply") or end < 0:
        raise _corrupt(f"{path.name} is not a PLY file (no header)")
    body = path.stat().st_size - end
    fmt, elements = "", []  # [count, minimal bytes per entry]
    for line in head[:end].decode("ascii", "replace").splitlines():
        words = line.split()
        if words[:1] == ["format"] and len(words) > 1:
            fmt = words[1]
        elif words[:1] == ["element"] and len(words) == 3 and words[2].isdigit():
            elements.append([int(words[2]), 0])
        elif words[:1] == ["property"] and elements and len(words) >= 3:
            elements[-1][1] += _PLY_SIZES.get(words[2] if words[1] == "list" else words[1], 1)
    total = sum(n for n, _ in elements)
    if total > MAX_ELEMENTS:
        raise BadInputError("TOO_COMPLEX", f"{path.name} declares {total} elements; the limit is {MAX_ELEMENTS}")
    minimal = sum(n * per for n, per in elements) if fmt.startswith("binary") else total * 2
    if minimal > body:
        raise _corrupt(f"{path.name} declares {total} elements but holds only {body} bytes (truncated?)")


def _check_obj(path: Path) -> None:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        libs = [
            m.group(1).decode("utf-8", "replace").strip() for m in re.finditer(rb"^mtllib[ \t]+(.+)$", mm, re.MULTILINE)
        ]
    for lib in libs:
        if not (path.parent / lib).resolve().is_relative_to(path.parent.resolve()):
            raise BadInputError(
                "EXTERNAL_REFERENCE", f"{path.name} refers to a material file outside the upload: {lib[:80]}"
            )


def _check_bvh(path: Path) -> None:
    text = path.read_text("utf-8", "replace")
    if not text.lstrip().startswith("HIERARCHY") or "MOTION" not in text:
        raise _corrupt(f"{path.name} is not a BVH file (no HIERARCHY/MOTION)")
    head = text[: text.index("MOTION")]
    joints = len(re.findall(r"\b(?:ROOT|JOINT)\b", head))
    channels = sum(int(n) for n in re.findall(r"\bCHANNELS\s+(\d+)", head))
    frames = re.search(r"Frames:\s*(\d+)", text)
    if not joints or not frames:
        raise _corrupt(f"{path.name} has no joints or no frame count")
    if joints > MAX_BVH_JOINTS or int(frames.group(1)) * channels > MAX_BVH_VALUES:
        raise BadInputError(
            "TOO_COMPLEX", f"{path.name} declares {joints} joints and {frames.group(1)} frames; too large"
        )


_FBX_MAGIC = b"Kaydara FBX Binary  \x00"
_FBX_ARRAY_ITEM = {ord("f"): 4, ord("d"): 8, ord("l"): 8, ord("i"): 4, ord("b"): 1}
_FBX_SCALAR = {ord("Y"): 2, ord("C"): 1, ord("I"): 4, ord("F"): 4, ord("D"): 8, ord("L"): 8}


def _check_fbx(path: Path) -> None:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm[:21] != _FBX_MAGIC:
            if b"FBXHeaderExtension" not in mm[:4096]:
                raise _corrupt(f"{path.name} is not an FBX file")
            return  # ASCII FBX: no declared counts to check; the importer and memory cap bound it
        if len(mm) < 27:
            raise _corrupt(f"{path.name} is truncated")
        _FbxScan(mm, struct.unpack_from("<I", mm, 23)[0] >= 7500).walk(27, len(mm), 0, path.name)


class _FbxScan:
    """Walks binary FBX node records, checking every offset and array size before the importer trusts them."""

    def __init__(self, mm: mmap.mmap, wide: bool):
        self.mm = mm
        self.header = struct.Struct("<QQQB" if wide else "<IIIB")
        self.total = 0

    def walk(self, pos: int, end: int, depth: int, name: str) -> None:
        """Check the records from `pos` to `end` (one nesting level) and everything inside them."""
        if depth > 64:
            raise _corrupt(f"{name}: FBX nesting is deeper than 64 levels")
        size = self.header.size
        while pos + size <= end:
            end_off, nprops, plen, nlen = self.header.unpack_from(self.mm, pos)
            if end_off == 0:
                return  # null record: end of this list
            props = pos + size + nlen
            if not props + plen <= end_off <= end:
                raise _corrupt(f"{name}: an FBX record runs past its parent or the file (truncated?)")
            self._properties(props, props + plen, nprops, name)
            if props + plen < end_off:
                self.walk(props + plen, end_off, depth + 1, name)
            pos = end_off
        if depth:
            raise _corrupt(f"{name}: an FBX record list is not terminated")

    def _properties(self, p: int, p_end: int, count: int, name: str) -> None:
        mm = self.mm
        for _ in range(count):
            if p >= p_end:
                raise _corrupt(f"{name}: FBX record declares more properties than it holds")
            code = mm[p]
            if code in _FBX_SCALAR:
                p += 1 + _FBX_SCALAR[code]
            elif code in (ord("S"), ord("R")):
                p += 5 + struct.unpack_from("<I", mm, p + 1)[0]
            elif code in _FBX_ARRAY_ITEM:
                length, encoding, clen = struct.unpack_from("<III", mm, p + 1)
                p = self._array(p + 13, length * _FBX_ARRAY_ITEM[code], encoding, clen, p_end, name)
            else:
                raise _corrupt(f"{name}: unknown FBX property type {code!r}")
        if p != p_end:
            raise _corrupt(f"{name}: FBX property list length does not match its contents")

    def _array(self, p: int, nbytes: int, encoding: int, clen: int, p_end: int, name: str) -> int:
        if p + clen > p_end:
            raise _corrupt(f"{name}: an FBX array runs past its record")
        self.total += nbytes
        if nbytes > MAX_FBX_ARRAY_BYTES or self.total > MAX_FBX_TOTAL_BYTES:
            raise BadInputError(
                "TOO_COMPLEX", f"{name}: FBX arrays declare {self.total} bytes; the limit is {MAX_FBX_TOTAL_BYTES}"
            )
        if encoding == 0:
            if clen != nbytes:
                raise _corrupt(f"{name}: an FBX array's size does not match its element count")
        elif encoding == 1:
            try:
                out = zlib.decompressobj().decompress(self.mm[p : p + clen], nbytes + 1)
            except zlib.error:
                raise _corrupt(f"{name}: an FBX array's compressed data is damaged") from None
            if len(out) != nbytes:
                raise _corrupt(f"{name}: an FBX array decompresses to {len(out)}+ bytes, not the {nbytes} it declares")
        else:
            raise _corrupt(f"{name}: unknown FBX array encoding {encoding}")
        return p + clen


_CHECKS = {
    "glb": _check_gltf,
    "gltf": _check_gltf,
    "fbx": _check_fbx,
    "obj": _check_obj,
    "stl": _check_stl,
    "ply": _check_ply,
    "usdz": _check_usdz,
    "blend": _check_blend,
    "bvh": _check_bvh,
}


def check_loaded(upload_dir: Path, fmt: str) -> list[str]:
    """After import: refuse links to other .blend files, other outside files and Python; detach textures not in the upload.

    Returns the names of the textures the model refers to that are not part of the upload (missing, or outside it:
    never read from the worker's disk); they are removed from the scene.
    """
    if bpy.data.libraries:
        raise BadInputError(
            "EXTERNAL_REFERENCE", "the file links data from other .blend files; make them local and re-upload"
        )
    root = upload_dir.resolve()
    missing = []
    for img in list(bpy.data.images):
        if img.source in ("FILE", "SEQUENCE", "MOVIE", "TILED") and not _from_upload(img, root, fmt):
            missing.append(img.name)
            bpy.data.images.remove(img)
    for ref in bpy.utils.blend_paths(absolute=True):
        if not Path(ref).resolve().is_relative_to(root):
            raise BadInputError(
                "EXTERNAL_REFERENCE", f"the file refers to a file outside the upload: {Path(ref).name[:80]}"
            )
    if fmt == "blend":
        _check_no_python()
    return sorted(missing)


def _from_upload(img: bpy.types.Image, root: Path, fmt: str) -> bool:
    """Whether an image's pixels came from the upload itself (embedded, packed in it, or a file inside it)."""
    if img.packed_file and (fmt == "blend" or not img.filepath):
        return True
    ref = Path(bpy.path.abspath(img.filepath)).resolve()
    if img.packed_file and fmt == "usdz" and ref.parent.name == "usd_textures_tmp":
        return True  # the USD importer unpacked it from the .usdz package
    return ref.is_relative_to(root) and bool(img.packed_file or ref.is_file())


def _check_no_python() -> None:
    scripts = [t.name for t in bpy.data.texts if t.use_module or t.name.endswith(".py")]
    owners = list(bpy.data.user_map())
    owners += [idb.node_tree for idb in owners if getattr(idb, "node_tree", None)]
    drivers = [
        d.driver.expression
        for idb in owners
        if getattr(idb, "animation_data", None)
        for d in idb.animation_data.drivers
        if d.driver.type == "SCRIPTED" and not d.driver.is_simple_expression
    ]
    if scripts or drivers or bpy.app.autoexec_fail:
        found = ", ".join([*scripts[:3], *(f"driver '{e[:40]}'" for e in drivers[:3])]) or "auto-run Python"
        raise BadInputError(
            "BLEND_HAS_SCRIPTS",
            f"the .blend file contains Python ({found}); scripts are never run; remove them and re-upload",
        )
