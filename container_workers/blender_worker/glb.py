"""GLB files in numpy: read (meshopt-compressed views decoded), write, counts, and the scene's surface at a pose."""

from __future__ import annotations

import base64
import copy
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import meshopt
import numpy as np

MESHOPT = ("EXT_meshopt_compression", "KHR_meshopt_compression")
_DTYPES = {5120: "<i1", 5121: "<u1", 5122: "<i2", 5123: "<u2", 5125: "<u4", 5126: "<f4"}
_SIGNED_MAX = {5120: 127.0, 5122: 32767.0}
_UNSIGNED_MAX = {5121: 255.0, 5123: 65535.0, 5125: 4294967295.0}
_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_TRIANGLES = 4


@dataclass
class Glb:
    """A glTF document and the bytes of each of its bufferViews (decoded where they were meshopt-compressed)."""

    doc: dict
    views: list[bytes]

    def raw(self, index: int) -> np.ndarray:
        """An accessor's values as stored: (count, components) of its component type (zeros without a bufferView)."""
        acc = self.doc["accessors"][index]
        dtype, comps = np.dtype(_DTYPES[acc["componentType"]]), _COMPONENTS[acc["type"]]
        if "sparse" in acc:
            raise ValueError("sparse accessors are not supported")
        if "bufferView" not in acc:
            return np.zeros((acc["count"], comps), dtype=dtype)
        view = self.doc["bufferViews"][acc["bufferView"]]
        return np.ndarray(
            (acc["count"], comps),
            dtype=dtype,
            buffer=self.views[acc["bufferView"]],
            offset=acc.get("byteOffset", 0),
            strides=(view.get("byteStride", dtype.itemsize * comps), dtype.itemsize),
        )

    def accessor(self, index: int) -> np.ndarray:
        """An accessor as float64 (count, components), normalized integers mapped to [0, 1] or [-1, 1]."""
        acc = self.doc["accessors"][index]
        kind = acc["componentType"]
        out = self.raw(index).astype(np.float64)
        if acc.get("normalized"):
            out = np.maximum(out / _SIGNED_MAX[kind], -1.0) if kind in _SIGNED_MAX else out / _UNSIGNED_MAX[kind]
        return out

    def indices(self, primitive: dict) -> np.ndarray:
        """A triangle primitive's indices as (T, 3) int64 (consecutive vertices when it has none)."""
        if "indices" in primitive:
            flat = self.raw(primitive["indices"])[:, 0].astype(np.int64)
        else:
            flat = np.arange(self.doc["accessors"][primitive["attributes"]["POSITION"]]["count"])
        return flat[: len(flat) // 3 * 3].reshape(-1, 3)

    def image(self, index: int) -> bytes:
        """The encoded bytes of an embedded image."""
        img = self.doc["images"][index]
        if "bufferView" in img:
            return self.views[img["bufferView"]]
        return base64.b64decode(img["uri"].split(",", 1)[1])


def read(path: Path) -> Glb:
    """Parse a GLB whose buffers are its BIN chunk (or data: URIs), decoding meshopt-compressed bufferViews."""
    data = path.read_bytes()
    if data[:4] != b"glTF":
        raise ValueError(f"{path.name} is not a GLB file")
    json_length = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + json_length])
    rest = 20 + json_length
    glb_bin = data[rest + 8 : rest + 8 + struct.unpack_from("<I", data, rest)[0]] if rest + 8 <= len(data) else b""
    buffers = []
    for buf in doc.get("buffers", []):
        uri = buf.get("uri")
        buffers.append(base64.b64decode(uri.split(",", 1)[1]) if uri else glb_bin)
    views = []
    for view in doc.get("bufferViews", []):
        packed = next((view["extensions"][e] for e in MESHOPT if e in view.get("extensions", {})), None)
        if packed is None:
            start = view.get("byteOffset", 0)
            views.append(buffers[view["buffer"]][start : start + view["byteLength"]])
            continue
        start = packed.get("byteOffset", 0)
        source = buffers[packed["buffer"]][start : start + packed["byteLength"]]
        rows = meshopt.decode_gltf_buffer(
            source, packed["count"], packed["byteStride"], packed["mode"], packed.get("filter", "NONE")
        )
        views.append(rows.tobytes())
    return Glb(doc, views)


def _pad(data: bytes, filler: bytes) -> bytes:
    return data + filler * (-len(data) % 4)


def write(glb: Glb, path: Path) -> Path:
    """Write a GLB with one buffer holding every view's bytes as they are (meshopt compression expanded)."""
    doc = copy.deepcopy(glb.doc)
    chunk, offset = [], 0
    for view, data in zip(doc.get("bufferViews", []), glb.views):
        view.update(buffer=0, byteOffset=offset, byteLength=len(data))
        for name in MESHOPT:
            view.get("extensions", {}).pop(name, None)
        if view.get("extensions") == {}:
            del view["extensions"]
        chunk.append(_pad(data, b"\0"))
        offset += len(chunk[-1])
    for key in ("extensionsUsed", "extensionsRequired"):
        if key in doc:
            doc[key] = [e for e in doc[key] if e not in MESHOPT]
            if not doc[key]:
                del doc[key]
    doc["buffers"] = [{"byteLength": offset}] if offset else []
    body = _pad(json.dumps(doc, separators=(",", ":")).encode(), b" ")
    binary = b"".join(chunk)
    total = 12 + 8 + len(body) + (8 + len(binary) if binary else 0)
    with path.open("wb") as f:
        f.write(struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<I4s", len(body), b"JSON") + body)
        if binary:
            f.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)
    return path


def _quaternion_matrix(q: np.ndarray) -> np.ndarray:
    x, y, z, w = q / (np.linalg.norm(q) or 1.0)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _compose(trs: dict) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = _quaternion_matrix(np.asarray(trs["rotation"], float)) * np.asarray(trs["scale"], float)
    m[:3, 3] = trs["translation"]
    return m


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    if np.dot(a, b) < 0:
        b = -b
    angle = np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))
    if angle < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)


def _sample(glb: Glb, sampler: dict, path: str, time: float) -> np.ndarray:
    """One animation sampler's value at `time` (LINEAR, STEP or CUBICSPLINE; rotations slerped)."""
    times = glb.accessor(sampler["input"])[:, 0]
    values = glb.accessor(sampler["output"])
    mode = sampler.get("interpolation", "LINEAR")
    if mode == "CUBICSPLINE":
        values = values.reshape(len(times), 3, -1)  # in-tangent, value, out-tangent per key
    i = int(np.clip(np.searchsorted(times, time, side="right") - 1, 0, len(times) - 1))
    j = min(i + 1, len(times) - 1)
    span = times[j] - times[i]
    t = float(np.clip((time - times[i]) / span, 0.0, 1.0)) if span > 0 else 0.0
    if mode == "STEP" or i == j:
        value = values[i, 1] if mode == "CUBICSPLINE" else values[i]
    elif mode == "CUBICSPLINE":
        t2, t3 = t * t, t * t * t
        value = (
            (2 * t3 - 3 * t2 + 1) * values[i, 1]
            + (t3 - 2 * t2 + t) * span * values[i, 2]
            + (-2 * t3 + 3 * t2) * values[j, 1]
            + (t3 - t2) * span * values[j, 0]
        )
    elif path == "rotation":
        value = _slerp(values[i], values[j], t)
    else:
        value = (1 - t) * values[i] + t * values[j]
    return value / np.linalg.norm(value) if path == "rotation" else value


def node_matrices(glb: Glb, time: float | None = None, animation: int = 0) -> list[np.ndarray]:
    """Every node's world matrix, at rest or at `time` seconds into an animation."""
    nodes = glb.doc.get("nodes", [])
    trs = [
        {
            "translation": n.get("translation", [0.0, 0.0, 0.0]),
            "rotation": n.get("rotation", [0.0, 0.0, 0.0, 1.0]),
            "scale": n.get("scale", [1.0, 1.0, 1.0]),
        }
        for n in nodes
    ]
    animations = glb.doc.get("animations", [])
    if time is not None and animation < len(animations):
        anim = animations[animation]
        for channel in anim["channels"]:
            target = channel["target"]
            if "node" in target and target["path"] in ("translation", "rotation", "scale"):
                sampler = anim["samplers"][channel["sampler"]]
                trs[target["node"]][target["path"]] = _sample(glb, sampler, target["path"], time)
    local = [np.array(n["matrix"], float).reshape(4, 4).T if "matrix" in n else _compose(t) for n, t in zip(nodes, trs)]
    world = [np.eye(4) for _ in nodes]
    stack = [(root, np.eye(4)) for root in _scene_roots(glb)]
    while stack:
        index, parent = stack.pop()
        world[index] = parent @ local[index]
        stack.extend((child, world[index]) for child in nodes[index].get("children", []))
    return world


def _scene_roots(glb: Glb) -> list[int]:
    scenes = glb.doc.get("scenes", [])
    if scenes:
        return list(scenes[glb.doc.get("scene", 0)].get("nodes", []))
    children = {c for n in glb.doc.get("nodes", []) for c in n.get("children", [])}
    return [i for i in range(len(glb.doc.get("nodes", []))) if i not in children]


def _scene_nodes(glb: Glb) -> list[int]:
    nodes, order, stack = glb.doc.get("nodes", []), [], list(reversed(_scene_roots(glb)))
    while stack:
        index = stack.pop()
        order.append(index)
        stack.extend(reversed(nodes[index].get("children", [])))
    return order


def _triangle_primitives(glb: Glb) -> list[tuple[int, dict]]:
    """(node, primitive) for every triangle-list primitive drawn by the scene."""
    meshes = glb.doc.get("meshes", [])
    return [
        (node, prim)
        for node in _scene_nodes(glb)
        if "mesh" in glb.doc["nodes"][node]
        for prim in meshes[glb.doc["nodes"][node]["mesh"]]["primitives"]
        if prim.get("mode", _TRIANGLES) == _TRIANGLES
    ]


def triangle_count(glb: Glb) -> int:
    """Triangles the scene draws (each instance of a mesh counted)."""
    return sum(
        (
            glb.doc["accessors"][p["indices"]]["count"]
            if "indices" in p
            else glb.doc["accessors"][p["attributes"]["POSITION"]]["count"]
        )
        // 3
        for _, p in _triangle_primitives(glb)
    )


def vertex_count(glb: Glb) -> int:
    """Vertices of the scene's triangle primitives (each instance counted)."""
    return sum(glb.doc["accessors"][p["attributes"]["POSITION"]]["count"] for _, p in _triangle_primitives(glb))


def has_attribute(glb: Glb, name: str) -> bool:
    """Whether any mesh primitive has the vertex attribute `name` (e.g. COLOR_1)."""
    return any(name in p["attributes"] for m in glb.doc.get("meshes", []) for p in m["primitives"])


def has_morph_targets(glb: Glb) -> bool:
    """Whether any mesh has morph targets."""
    return any("targets" in p for m in glb.doc.get("meshes", []) for p in m["primitives"])


def _skin_matrices(glb: Glb, node: int, world: list[np.ndarray]) -> np.ndarray:
    skin = glb.doc["skins"][glb.doc["nodes"][node]["skin"]]
    joints = skin["joints"]
    inverse = (
        glb.accessor(skin["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
        if "inverseBindMatrices" in skin
        else np.tile(np.eye(4), (len(joints), 1, 1))
    )
    return np.stack([world[j] for j in joints]) @ inverse


def _place(glb: Glb, node: int, prim: dict, world: list[np.ndarray]) -> np.ndarray:
    """A primitive's positions in world space (skinned meshes by their joints, as glTF defines)."""
    points = glb.accessor(prim["attributes"]["POSITION"])
    homogeneous = np.hstack([points, np.ones((len(points), 1))])
    if "skin" not in glb.doc["nodes"][node]:
        return homogeneous @ world[node][:3].T
    matrices = _skin_matrices(glb, node, world)
    placed = np.zeros((len(points), 3))
    total = np.zeros(len(points))
    for k in range(4):
        if f"JOINTS_{k}" not in prim["attributes"]:
            break
        joints = glb.accessor(prim["attributes"][f"JOINTS_{k}"]).astype(np.int64)
        weights = glb.accessor(prim["attributes"][f"WEIGHTS_{k}"])
        for c in range(4):
            w = weights[:, c]
            placed += w[:, None] * np.einsum("vij,vj->vi", matrices[joints[:, c], :3], homogeneous)
            total += w
    return placed / np.where(total > 0, total, 1.0)[:, None]


def _base_color_uv(glb: Glb, prim: dict) -> np.ndarray | None:
    """A primitive's base-colour texture coordinates with KHR_texture_transform applied, or None."""
    materials = glb.doc.get("materials", [])
    material = materials[prim["material"]] if "material" in prim else {}
    info = material.get("pbrMetallicRoughness", {}).get("baseColorTexture")
    if info is None:
        return None
    transform = info.get("extensions", {}).get("KHR_texture_transform", {})
    name = f"TEXCOORD_{transform.get('texCoord', info.get('texCoord', 0))}"
    if name not in prim["attributes"]:
        return None
    uv = glb.accessor(prim["attributes"][name]) * np.asarray(transform.get("scale", [1.0, 1.0]))
    r = transform.get("rotation", 0.0)
    rotation = np.array([[np.cos(r), np.sin(r)], [-np.sin(r), np.cos(r)]])
    return uv @ rotation.T + np.asarray(transform.get("offset", [0.0, 0.0]))


@dataclass
class Surface:
    """The scene's triangles in world space, with per-vertex base-colour UVs (NaN where a primitive has none)."""

    vertices: np.ndarray  # (V, 3)
    triangles: np.ndarray  # (T, 3) int64
    uv: np.ndarray  # (V, 2)
    texture: np.ndarray  # (T,) the base-colour image index of each triangle's material, -1 if none


def surface(glb: Glb, time: float | None = None) -> Surface:
    """Every triangle the scene draws, at rest (skins at their bind pose) or at `time` seconds into animation 0."""
    world = node_matrices(glb, time)
    verts, tris, uvs, textures, offset = [], [], [], [], 0
    for node, prim in _triangle_primitives(glb):
        placed = _place(glb, node, prim, world)
        uv = _base_color_uv(glb, prim)
        faces = glb.indices(prim)
        material = glb.doc.get("materials", [])[prim["material"]] if "material" in prim else {}
        info = material.get("pbrMetallicRoughness", {}).get("baseColorTexture")
        image = glb.doc["textures"][info["index"]].get("source", -1) if info else -1
        verts.append(placed)
        uvs.append(uv if uv is not None else np.full((len(placed), 2), np.nan))
        tris.append(faces + offset)
        textures.append(np.full(len(faces), image))
        offset += len(placed)
    if not verts:
        return Surface(np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros((0, 2)), np.zeros(0, np.int64))
    return Surface(np.vstack(verts), np.vstack(tris), np.vstack(uvs), np.concatenate(textures))


def frame_rate(glb: Glb) -> int | None:
    """The rate animation keys were sampled at (1 / smallest key spacing) when it is a whole number, else None."""
    steps = [
        np.diff(glb.accessor(s["input"])[:, 0]) for a in glb.doc.get("animations", []) for s in a.get("samplers", [])
    ]
    positive = [float(s[s > 1e-6].min()) for s in steps if (s > 1e-6).any()]
    if not positive:
        return None
    rate = 1.0 / min(positive)
    return round(rate) if 1 <= round(rate) <= 240 and abs(rate - round(rate)) < 0.01 * rate else None
