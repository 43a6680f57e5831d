"""Reading glTF/GLB structure before Blender does: integrity checks and the animation's frame rate."""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from container_workers.common.stage import BadInputError

_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_MAX_ACCESSOR_ELEMENTS = 200_000_000


def _corrupt(message: str) -> BadInputError:
    return BadInputError("CORRUPT_FILE", message)


@dataclass
class GltfFile:
    """A parsed glTF document with its buffers' bytes (the GLB chunk, data: URIs or files beside it)."""

    doc: dict
    buffers: list[bytes]

    def accessor(self, index: int) -> np.ndarray:
        """The float data of one accessor as (count, components)."""
        acc = self.doc["accessors"][index]
        view = self.doc["bufferViews"][acc["bufferView"]]
        comps = _TYPE_COMPONENTS[acc["type"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        stride = view.get("byteStride", 4 * comps)
        buf = self.buffers[view["buffer"]]
        return np.ndarray((acc["count"], comps), dtype="<f4", buffer=buf, offset=start, strides=(stride, 4)).copy()

    def frame_rate(self) -> int | None:
        """The frame rate the animation was sampled at (1 / smallest key spacing), or None if not uniform."""
        spacings = []
        for anim in self.doc.get("animations", []):
            for sampler in anim.get("samplers", []):
                times = self.accessor(sampler["input"])[:, 0]
                steps = np.diff(times)
                steps = steps[steps > 1e-6]
                if steps.size:
                    spacings.append(float(steps.min()))
        if not spacings:
            return None
        rate = 1.0 / min(spacings)
        return round(rate) if 1 <= round(rate) <= 240 and abs(rate - round(rate)) < 0.01 * rate else None


def read(path: Path) -> GltfFile:
    """Parse a .glb or .gltf file and check its buffers, views and accessors stay in bounds."""
    data = path.read_bytes()
    if path.suffix.lower() == ".glb":
        doc, glb_bin = _split_glb(data)
    else:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _corrupt(f"not a glTF JSON file: {exc}") from None
        glb_bin = None
    if not isinstance(doc, dict) or not isinstance(doc.get("asset"), dict):
        raise _corrupt("not a glTF 2.0 document (no 'asset')")
    if not str(doc["asset"].get("version", "")).startswith("2"):
        raise BadInputError("UNSUPPORTED_FORMAT", "only glTF 2.0 is supported")
    buffers = [_buffer_bytes(b, glb_bin, path.parent) for b in doc.get("buffers", [])]
    for img in doc.get("images", []):
        if "uri" in img and not img["uri"].startswith("data:"):
            _inside(path.parent, img["uri"])
    _check_bounds(doc, buffers)
    return GltfFile(doc, buffers)


def _split_glb(data: bytes) -> tuple[dict, bytes | None]:
    if len(data) < 20 or data[:4] != b"glTF":
        raise _corrupt("not a GLB file (bad magic)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise BadInputError("UNSUPPORTED_FORMAT", f"GLB version {version}; only 2 is supported")
    if length != len(data):
        raise _corrupt(f"GLB is {len(data)} bytes but its header says {length} (truncated or padded)")
    chunks, pos = [], 12
    while pos < length:
        if pos + 8 > length:
            raise _corrupt("GLB chunk header runs past the end of the file")
        size, kind = struct.unpack_from("<I4s", data, pos)
        if pos + 8 + size > length:
            raise _corrupt("GLB chunk runs past the end of the file")
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size
    if not chunks or chunks[0][0] != b"JSON":
        raise _corrupt("GLB has no JSON chunk first")
    try:
        doc = json.loads(chunks[0][1])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(f"GLB JSON chunk is not valid JSON: {exc}") from None
    glb_bin = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == b"BIN\x00" else None
    return doc, glb_bin


def _inside(folder: Path, uri: str) -> Path:
    """A relative URI resolved inside `folder`, refusing absolute paths, schemes and escapes."""
    parsed = urlparse(uri)
    if parsed.scheme or parsed.netloc or uri.startswith("/"):
        raise BadInputError("EXTERNAL_REFERENCE", f"glTF refers to a resource outside the upload: {uri[:80]}")
    target = (folder / unquote(parsed.path)).resolve()
    if not target.is_relative_to(folder.resolve()):
        raise BadInputError("EXTERNAL_REFERENCE", f"glTF refers to a file outside the upload: {uri[:80]}")
    if not target.is_file():
        raise BadInputError(
            "MISSING_FILE", f"glTF refers to a missing file: {uri[:80]} (upload a .glb or a .zip with all files)"
        )
    return target


def _buffer_bytes(buf: dict, glb_bin: bytes | None, folder: Path) -> bytes:
    uri = buf.get("uri")
    if uri is None:
        data = glb_bin
        if data is None:
            raise _corrupt("glTF buffer has no data")
    elif uri.startswith("data:"):
        try:
            data = base64.b64decode(uri.split(",", 1)[1], validate=True)
        except (IndexError, ValueError):
            raise _corrupt("glTF buffer has a malformed data: URI") from None
    else:
        data = _inside(folder, uri).read_bytes()
    if len(data) < buf.get("byteLength", 0):
        raise _corrupt(f"glTF buffer holds {len(data)} bytes but declares {buf.get('byteLength')}")
    return data


def _check_bounds(doc: dict, buffers: list[bytes]) -> None:
    views = doc.get("bufferViews", [])
    for view in views:
        b = view.get("buffer", -1)
        if not 0 <= b < len(buffers) or view.get("byteOffset", 0) + view.get("byteLength", 0) > len(buffers[b]):
            raise _corrupt("a glTF bufferView lies outside its buffer")
    for acc in doc.get("accessors", []):
        count = acc.get("count", 0)
        if not 0 <= count <= _MAX_ACCESSOR_ELEMENTS:
            raise _corrupt(f"a glTF accessor declares an absurd element count ({count})")
        if "bufferView" not in acc:
            continue
        v = acc["bufferView"]
        if (
            not 0 <= v < len(views)
            or acc.get("type") not in _TYPE_COMPONENTS
            or acc.get("componentType") not in _COMPONENT_BYTES
        ):
            raise _corrupt("a glTF accessor is malformed")
        elem = _TYPE_COMPONENTS[acc["type"]] * _COMPONENT_BYTES[acc["componentType"]]
        stride = views[v].get("byteStride", elem)
        end = acc.get("byteOffset", 0) + (stride * (count - 1) + elem if count else 0)
        if end > views[v].get("byteLength", 0):
            raise _corrupt(f"a glTF accessor of {count} elements runs past its bufferView")
