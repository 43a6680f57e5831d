"""glTF 2.0 (.gltf JSON and .glb binary) in pure Python: the container, then the document checked field by field.

Every field the platform reads is checked for its type and range, and every index for its target, so a
broken file is rejected naming the field (`meshes[0].primitives[1].indices`) instead of failing later.
Accessors must fit their buffer views, buffer views their buffers, and a GLB's buffer its BIN chunk.
"""

from __future__ import annotations

from pathlib import Path

from chalicelib.probe.common import LIMIT, WRONG_FORMAT, Binary, Budget, Rejected, strict_json, type_name

JSON_CHUNK, BIN_CHUNK = 0x4E4F534A, 0x004E4942
MAX_JSON_BYTES = 64 * 1024 * 1024
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
ARRAYS = (
    "accessors",
    "animations",
    "bufferViews",
    "buffers",
    "cameras",
    "images",
    "materials",
    "meshes",
    "nodes",
    "samplers",
    "scenes",
    "skins",
    "textures",
)


class _Doc:
    """A glTF document with checked accessors: each raises Rejected naming the field and what is wrong."""

    def __init__(self, doc: object, what: str):
        self.what = what
        if not isinstance(doc, dict):
            raise Rejected(f"the {what} JSON must be an object, not {type_name(doc)}")
        self.doc = doc
        for name in ARRAYS:
            self.array(doc, name, name)

    def fail(self, path: str, problem: str) -> Rejected:
        return Rejected(f"the {self.what} field `{path}` {problem}")

    def obj(self, value: object, path: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, not {type_name(value)}")
        return value

    def array(self, parent: dict, key: str, path: str, required: bool = False) -> list[dict]:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(path, "is missing")
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array, not {type_name(value)}")
        for i, item in enumerate(value):
            self.obj(item, f"{path}[{i}]")
        return value

    def integer(self, parent: dict, key: str, path: str, low: int = 0, default: int | None = None) -> int:
        value = parent.get(key, default)
        if value is None:
            raise self.fail(path, "is missing")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, not {type_name(value)}")
        if value < low:
            raise self.fail(path, f"must be at least {low} (found {value})")
        return value

    def index(self, parent: dict, key: str, path: str, target: str, required: bool = False) -> int | None:
        if key not in parent and not required:
            return None
        value = self.integer(parent, key, path)
        count = len(self.doc.get(target) or [])
        if value >= count:
            raise self.fail(path, f"points to {target}[{value}] but there are {count}")
        return value


def _meshopt_fallback(buffer: dict) -> bool:
    """True for a buffer that meshopt compression marks as a fallback (it may have no data at all)."""
    extensions = buffer.get("extensions")
    return isinstance(extensions, dict) and any(
        isinstance(extensions.get(name), dict) and extensions[name].get("fallback") is True
        for name in ("EXT_meshopt_compression", "KHR_meshopt_compression")
    )


def _buffers(d: _Doc, bin_bytes: int | None) -> list[int]:
    sizes = []
    for i, buffer in enumerate(d.doc.get("buffers") or []):
        length = d.integer(buffer, "byteLength", f"buffers[{i}].byteLength", low=1)
        uri = buffer.get("uri")
        if uri is None and _meshopt_fallback(buffer):
            pass  # EXT_meshopt_compression's placeholder: its views are decoded from another buffer
        elif uri is None:
            if i != 0 or bin_bytes is None:
                raise d.fail(f"buffers[{i}].uri", "is missing (only a GLB's first buffer may omit it)")
            if length > bin_bytes:
                raise d.fail(f"buffers[{i}].byteLength", f"is {length} but the BIN chunk holds {bin_bytes} bytes")
        elif not isinstance(uri, str):
            raise d.fail(f"buffers[{i}].uri", f"must be a string, not {type_name(uri)}")
        elif not uri.startswith("data:"):
            raise d.fail(f"buffers[{i}].uri", f"refers to another file ({uri[:80]!r}); upload a .glb or embed the data")
        else:
            payload = uri.partition(",")[2]
            decoded = len(payload) * 3 // 4 - payload[-2:].count("=")
            if decoded < length:
                raise d.fail(f"buffers[{i}].uri", f"holds {decoded} bytes but byteLength is {length}")
        sizes.append(length)
    return sizes


def _views(d: _Doc, buffers: list[int]) -> list[tuple[int, int | None]]:
    views = []
    for i, view in enumerate(d.doc.get("bufferViews") or []):
        path = f"bufferViews[{i}]"
        buffer = d.index(view, "buffer", f"{path}.buffer", "buffers", required=True)
        assert buffer is not None
        offset = d.integer(view, "byteOffset", f"{path}.byteOffset", default=0)
        length = d.integer(view, "byteLength", f"{path}.byteLength", low=1)
        if offset + length > buffers[buffer]:
            raise d.fail(path, f"ends at byte {offset + length} of buffers[{buffer}], which has {buffers[buffer]}")
        stride = view.get("byteStride")
        if stride is not None:
            stride = d.integer(view, "byteStride", f"{path}.byteStride", low=4)
        views.append((length, stride))
    return views


def _accessors(d: _Doc, views: list[tuple[int, int | None]]) -> list[int]:
    counts = []
    for i, accessor in enumerate(d.doc.get("accessors") or []):
        path = f"accessors[{i}]"
        component = d.integer(accessor, "componentType", f"{path}.componentType")
        if component not in COMPONENT_BYTES:
            raise d.fail(f"{path}.componentType", f"is not a glTF component type ({component})")
        kind = accessor.get("type")
        if kind not in TYPE_COMPONENTS:
            raise d.fail(f"{path}.type", f"must be one of {', '.join(TYPE_COMPONENTS)} (found {kind!r})")
        count = d.integer(accessor, "count", f"{path}.count", low=1)
        view = d.index(accessor, "bufferView", f"{path}.bufferView", "bufferViews")
        if view is not None:
            offset = d.integer(accessor, "byteOffset", f"{path}.byteOffset", default=0)
            element = COMPONENT_BYTES[component] * TYPE_COMPONENTS[str(kind)]
            length, stride = views[view]
            end = offset + (stride or element) * (count - 1) + element
            if end > length:
                raise d.fail(path, f"needs {end} bytes of bufferViews[{view}], which has {length}")
        counts.append(count)
    return counts


def _triangles(d: _Doc, counts: list[int], budget: Budget) -> int:
    triangles = 0
    for m, mesh in enumerate(d.doc.get("meshes") or []):
        budget.check()
        primitives = d.array(mesh, "primitives", f"meshes[{m}].primitives", required=True)
        if not primitives:
            raise d.fail(f"meshes[{m}].primitives", "is empty")
        for p, primitive in enumerate(primitives):
            path = f"meshes[{m}].primitives[{p}]"
            attributes = d.obj(primitive.get("attributes"), f"{path}.attributes")
            for name in attributes:
                d.index(attributes, name, f"{path}.attributes.{name}", "accessors", required=True)
            mode = d.integer(primitive, "mode", f"{path}.mode", default=4)
            if mode > 6:
                raise d.fail(f"{path}.mode", f"is not a glTF primitive mode ({mode})")
            ref = d.index(primitive, "indices", f"{path}.indices", "accessors")
            if ref is None:
                ref = attributes.get("POSITION")
            if ref is None:
                continue
            if mode == 4:
                triangles += counts[ref] // 3
            elif mode in (5, 6):
                triangles += max(0, counts[ref] - 2)
    return triangles


def _scene_graph(d: _Doc) -> None:
    nodes = d.doc.get("nodes") or []
    parents = [0] * len(nodes)
    for n, node in enumerate(nodes):
        d.index(node, "mesh", f"nodes[{n}].mesh", "meshes")
        d.index(node, "skin", f"nodes[{n}].skin", "skins")
        children = node.get("children") or []
        if not isinstance(children, list):
            raise d.fail(f"nodes[{n}].children", f"must be an array, not {type_name(children)}")
        for c in range(len(children)):
            child = d.index({"i": children[c]}, "i", f"nodes[{n}].children[{c}]", "nodes", required=True)
            assert child is not None
            parents[child] += 1
            if parents[child] > 1 or child == n:
                raise d.fail(
                    f"nodes[{n}].children[{c}]", f"makes nodes[{child}] a child twice (the node tree has a loop)"
                )
    reached, stack = set(), [n for n in range(len(nodes)) if parents[n] == 0]
    while stack:
        n = stack.pop()
        reached.add(n)
        stack.extend(nodes[n].get("children") or [])
    if len(reached) < len(nodes):
        raise d.fail("nodes", "form a loop (some nodes are their own ancestors)")
    for s, scene in enumerate(d.doc.get("scenes") or []):
        roots = scene.get("nodes", [])
        if not isinstance(roots, list):
            raise d.fail(f"scenes[{s}].nodes", f"must be an array, not {type_name(roots)}")
        for i in range(len(roots)):
            d.index({"i": roots[i]}, "i", f"scenes[{s}].nodes[{i}]", "nodes", required=True)
    d.index(d.doc, "scene", "scene", "scenes")


def _skins_and_animations(d: _Doc) -> None:
    for s, skin in enumerate(d.doc.get("skins") or []):
        joints = skin.get("joints")
        if not isinstance(joints, list) or not joints:
            raise d.fail(f"skins[{s}].joints", "must be a non-empty array of node indices")
        for j in range(len(joints)):
            d.index({"i": joints[j]}, "i", f"skins[{s}].joints[{j}]", "nodes", required=True)
        d.index(skin, "inverseBindMatrices", f"skins[{s}].inverseBindMatrices", "accessors")
    for a, animation in enumerate(d.doc.get("animations") or []):
        samplers = d.array(animation, "samplers", f"animations[{a}].samplers", required=True)
        for i, sampler in enumerate(samplers):
            for key in ("input", "output"):
                d.index(sampler, key, f"animations[{a}].samplers[{i}].{key}", "accessors", required=True)
        for c, channel in enumerate(d.array(animation, "channels", f"animations[{a}].channels", required=True)):
            which = d.integer(channel, "sampler", f"animations[{a}].channels[{c}].sampler")
            if which >= len(samplers):
                raise d.fail(f"animations[{a}].channels[{c}].sampler", f"points to sampler {which} of {len(samplers)}")
            target = d.obj(channel.get("target"), f"animations[{a}].channels[{c}].target")
            d.index(target, "node", f"animations[{a}].channels[{c}].target.node", "nodes")


def summary(doc: object, what: str, budget: Budget, bin_bytes: int | None = None) -> dict:
    """Meshes, triangles, skins, animations and nodes of a checked glTF 2.0 document."""
    d = _Doc(doc, what)
    asset = d.obj(d.doc.get("asset"), "asset")
    version = asset.get("version")
    if not isinstance(version, str):
        raise d.fail("asset.version", f'must be a string like "2.0", not {type_name(version)}')
    if version not in ("2.0", "2"):
        raise Rejected(f"the file is glTF {version[:20]}, not glTF 2.0", WRONG_FORMAT)
    counts = _accessors(d, _views(d, _buffers(d, bin_bytes)))
    triangles = _triangles(d, counts, budget)
    _scene_graph(d)
    _skins_and_animations(d)
    return {
        "meshes": len(d.doc.get("meshes") or []),
        "triangles": triangles,
        "skins": len(d.doc.get("skins") or []),
        "animations": len(d.doc.get("animations") or []),
        "nodes": len(d.doc.get("nodes") or []),
    }


def probe_glb(path: Path, budget: Budget) -> dict:
    """A GLB: 12-byte header, a JSON chunk, an optional BIN chunk, the length matching the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        data = Binary(f, size, "GLB")
        if size < 20 or f.read(4) != b"glTF":
            raise Rejected("the file is not a binary glTF (GLB)", WRONG_FORMAT)
        version, length = data.unpack("<II", "the header")
        if version != 2:
            raise Rejected(f"the GLB is version {version}; only glTF 2.0 is accepted", WRONG_FORMAT)
        if length != size:
            raise Rejected(f"the GLB header says {length} bytes but the file has {size} (truncated or padded)")
        json_length, kind = data.unpack("<II", "the JSON chunk header")
        if kind != JSON_CHUNK:
            raise Rejected("the GLB's first chunk is not its JSON chunk")
        if json_length > MAX_JSON_BYTES:
            raise Rejected(
                f"the GLB's JSON chunk is {json_length} bytes; the largest accepted is {MAX_JSON_BYTES}", LIMIT
            )
        doc = strict_json(data.read(json_length, "the JSON chunk"), "GLB's JSON chunk")
        bin_bytes = None
        if data.tell() < size:
            bin_length, kind = data.unpack("<II", "the BIN chunk header")
            if kind != BIN_CHUNK:
                raise Rejected(f"the GLB's second chunk has an unknown type 0x{kind:08X}")
            if data.tell() + bin_length > size:
                raise Rejected("the GLB is truncated: its BIN chunk runs past the end of the file")
            bin_bytes = bin_length
    return summary(doc, "GLB", budget, bin_bytes)


def probe_gltf(path: Path, budget: Budget) -> dict:
    """A .gltf: one JSON document whose buffers are embedded as data URIs."""
    size = path.stat().st_size
    if size > MAX_JSON_BYTES:
        raise Rejected(
            f"the glTF file is {size} bytes; the largest accepted is {MAX_JSON_BYTES} (upload a .glb)", LIMIT
        )
    with open(path, "rb") as f:
        start = f.read(64).lstrip()
    if not start.startswith(b"{"):
        raise Rejected("the file is not glTF JSON", WRONG_FORMAT)
    return summary(strict_json(path.read_bytes(), "glTF file"), "glTF", budget)
