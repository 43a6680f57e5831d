"""A small numpy GLB (binary glTF 2.0) writer: meshes, PBR materials with a base-colour texture, one skin, animations."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}
_NUMPY = {_FLOAT: np.float32, _UBYTE: np.uint8, _USHORT: np.uint16, _UINT: np.uint32}
GENERATOR = "ai3d gpu_worker gltf_writer"


@dataclass
class Material:
    """A metallic-roughness PBR material, optionally with a PNG base-colour texture."""

    name: str
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    texture_png: bytes | None = None
    metallic: float = 0.0
    roughness: float = 0.8
    double_sided: bool = False


@dataclass
class Mesh:
    """One triangle mesh (a single primitive); `joints`/`weights` (N, 4) make it skinned to the Skeleton."""

    name: str
    positions: np.ndarray  # (N, 3)
    indices: np.ndarray  # (M, 3), counter-clockwise seen from outside
    normals: np.ndarray | None = None  # (N, 3) unit length
    uvs: np.ndarray | None = None  # (N, 2), glTF convention: (0, 0) is the image's top-left
    joints: np.ndarray | None = None  # (N, 4) indices into Skeleton.names
    weights: np.ndarray | None = None  # (N, 4), each row sums to 1
    material: Material | None = None


@dataclass
class Skeleton:
    """A joint hierarchy; its node pose (translations, rotations) is also the bind pose of skinned meshes."""

    names: list[str]
    parents: list[int]  # -1 for the root; parents come before children
    translations: np.ndarray  # (J, 3) local
    rotations: np.ndarray | None = None  # (J, 4) local unit quaternions (x, y, z, w); identity when None

    def local_rotations(self) -> np.ndarray:
        """The (J, 4) local rotations, identity quaternions when none were given."""
        if self.rotations is not None:
            return np.asarray(self.rotations, dtype=np.float64)
        rot = np.zeros((len(self.names), 4))
        rot[:, 3] = 1.0
        return rot

    def world_matrices(self) -> np.ndarray:
        """The (J, 4, 4) world transforms of the joints in the node (bind) pose."""
        local = np.array(
            [_trs_matrix(t, q) for t, q in zip(np.asarray(self.translations, float), self.local_rotations())]
        )
        world = np.empty_like(local)
        for j, parent in enumerate(self.parents):
            world[j] = local[j] if parent < 0 else world[parent] @ local[j]
        return world


@dataclass
class Channel:
    """One animated property of one joint: keyframe times (s) and values (VEC3 translation or VEC4 rotation)."""

    joint: int
    path: str  # "translation" or "rotation"
    times: np.ndarray
    values: np.ndarray


@dataclass
class Animation:
    """A named clip of linearly interpolated joint channels."""

    name: str
    channels: list[Channel] = field(default_factory=list)


def quat_from_axis_angle(axis, angle: float) -> np.ndarray:
    """A unit quaternion (x, y, z, w) rotating by `angle` radians about `axis`."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    return np.append(axis * np.sin(angle / 2.0), np.cos(angle / 2.0))


def _trs_matrix(translation, quat) -> np.ndarray:
    x, y, z, w = quat
    m = np.eye(4)
    m[:3, :3] = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    m[:3, 3] = translation
    return m


def normalized_weights(weights: np.ndarray) -> np.ndarray:
    """Float32 weights whose rows sum to 1 within float32 rounding, as glTF asks (the residue goes to each row's largest weight)."""
    w = np.asarray(weights, dtype=np.float64)
    w = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
    rows = np.arange(len(w))
    top = np.argmax(w, axis=1)
    w[rows, top] = 0.0
    w[rows, top] = np.float32(1.0) - w.sum(axis=1, dtype=np.float32)
    return w


class _Builder:
    """Accumulates the JSON document and the binary chunk."""

    def __init__(self):
        self.doc: dict = {
            "asset": {"version": "2.0", "generator": GENERATOR},
            "buffers": [],
            "bufferViews": [],
            "accessors": [],
        }
        self.blob = bytearray()

    def view(self, data: bytes, target: int | None = None) -> int:
        """Append bytes (4-byte aligned) as a bufferView; returns its index."""
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        entry = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            entry["target"] = target
        self.blob.extend(data)
        self.doc["bufferViews"].append(entry)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, component: int, target: int | None = None, bounds: bool = False) -> int:
        """Append an array as an accessor (with min/max when `bounds`); returns its index."""
        array = np.ascontiguousarray(array, dtype=_NUMPY[component])
        width = 1 if array.ndim == 1 else int(np.prod(array.shape[1:]))
        entry = {
            "bufferView": self.view(array.tobytes(), target),
            "componentType": component,
            "count": int(array.shape[0]),
            "type": _TYPES[width],
        }
        if bounds:
            flat = array.reshape(len(array), width)
            entry["min"] = [_json_number(v) for v in flat.min(axis=0)]
            entry["max"] = [_json_number(v) for v in flat.max(axis=0)]
        self.doc["accessors"].append(entry)
        return len(self.doc["accessors"]) - 1

    def add(self, key: str, entry: dict) -> int:
        """Append an entry to a top-level list of the document; returns its index."""
        self.doc.setdefault(key, []).append(entry)
        return len(self.doc[key]) - 1


def _json_number(value):
    return int(value) if np.issubdtype(type(value), np.integer) else float(value)


def _material(builder: _Builder, material: Material) -> int:
    pbr = {
        "baseColorFactor": [float(c) for c in material.base_color],
        "metallicFactor": material.metallic,
        "roughnessFactor": material.roughness,
    }
    if material.texture_png is not None:
        if "samplers" not in builder.doc:
            builder.add("samplers", {"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071})
        image = builder.add("images", {"bufferView": builder.view(material.texture_png), "mimeType": "image/png"})
        texture = builder.add("textures", {"sampler": 0, "source": image})
        pbr["baseColorTexture"] = {"index": texture}
    return builder.add(
        "materials", {"name": material.name, "pbrMetallicRoughness": pbr, "doubleSided": material.double_sided}
    )


def _primitive(builder: _Builder, mesh: Mesh, materials: dict[int, int]) -> dict:
    positions = np.asarray(mesh.positions, dtype=np.float32)
    attributes = {"POSITION": builder.accessor(positions, _FLOAT, _ARRAY_BUFFER, bounds=True)}
    if mesh.normals is not None:
        normals = np.asarray(mesh.normals, dtype=np.float64)
        normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        attributes["NORMAL"] = builder.accessor(normals, _FLOAT, _ARRAY_BUFFER)
    if mesh.uvs is not None:
        attributes["TEXCOORD_0"] = builder.accessor(mesh.uvs, _FLOAT, _ARRAY_BUFFER)
    if mesh.joints is not None:
        attributes["JOINTS_0"] = builder.accessor(mesh.joints, _UBYTE, _ARRAY_BUFFER)
        attributes["WEIGHTS_0"] = builder.accessor(normalized_weights(mesh.weights), _FLOAT, _ARRAY_BUFFER)
    index_type = _USHORT if len(positions) <= 65535 else _UINT
    primitive = {
        "attributes": attributes,
        "indices": builder.accessor(
            np.asarray(mesh.indices).reshape(-1), index_type, _ELEMENT_ARRAY_BUFFER, bounds=False
        ),
        "mode": 4,
    }
    if mesh.material is not None:
        key = id(mesh.material)
        if key not in materials:
            materials[key] = _material(builder, mesh.material)
        primitive["material"] = materials[key]
    return primitive


def _skeleton_nodes(builder: _Builder, skeleton: Skeleton) -> list[int]:
    first = len(builder.doc.setdefault("nodes", []))
    rotations = skeleton.local_rotations()
    for j, name in enumerate(skeleton.names):
        node = {"name": name, "translation": [float(v) for v in skeleton.translations[j]]}
        if not np.allclose(rotations[j], (0.0, 0.0, 0.0, 1.0)):
            node["rotation"] = [float(v) for v in rotations[j] / np.linalg.norm(rotations[j])]
        builder.add("nodes", node)
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            builder.doc["nodes"][first + parent].setdefault("children", []).append(first + j)
    return [first + j for j in range(len(skeleton.names))]


def _animation(builder: _Builder, animation: Animation, joint_nodes: list[int]) -> None:
    samplers, channels = [], []
    for channel in animation.channels:
        times = builder.accessor(np.asarray(channel.times, dtype=np.float32), _FLOAT, bounds=True)
        values = builder.accessor(np.asarray(channel.values, dtype=np.float32), _FLOAT)
        samplers.append({"input": times, "output": values, "interpolation": "LINEAR"})
        channels.append(
            {"sampler": len(samplers) - 1, "target": {"node": joint_nodes[channel.joint], "path": channel.path}}
        )
    builder.add("animations", {"name": animation.name, "samplers": samplers, "channels": channels})


def glb_bytes(
    meshes: list[Mesh],
    skeleton: Skeleton | None = None,
    animations: list[Animation] = (),
    name: str = "Scene",
    extras: dict | None = None,
) -> bytes:
    """Encode meshes (skinned ones bound to `skeleton` in its node pose) and animations as one GLB."""
    builder = _Builder()
    if extras:
        builder.doc["asset"]["extras"] = extras
    roots: list[int] = []
    joint_nodes: list[int] = []
    skin = None
    if skeleton is not None:
        joint_nodes = _skeleton_nodes(builder, skeleton)
        roots += [joint_nodes[j] for j, p in enumerate(skeleton.parents) if p < 0]
        inverse_bind = np.linalg.inv(skeleton.world_matrices())
        inverse_bind[:, 3, :] = (0.0, 0.0, 0.0, 1.0)
        ibm = builder.accessor(inverse_bind.transpose(0, 2, 1).reshape(len(joint_nodes), 16), _FLOAT)
        skin = builder.add(
            "skins", {"name": name, "inverseBindMatrices": ibm, "joints": joint_nodes, "skeleton": roots[0]}
        )
    materials: dict[int, int] = {}
    for mesh in meshes:
        index = builder.add("meshes", {"name": mesh.name, "primitives": [_primitive(builder, mesh, materials)]})
        node = {"name": mesh.name, "mesh": index}
        if mesh.joints is not None:
            if skin is None:
                raise ValueError(f"mesh {mesh.name!r} has joints but no skeleton was given")
            node["skin"] = skin
        roots.append(builder.add("nodes", node))
    for animation in animations:
        _animation(builder, animation, joint_nodes)
    builder.add("scenes", {"name": name, "nodes": roots})
    builder.doc["scene"] = 0
    builder.blob.extend(b"\0" * (-len(builder.blob) % 4))
    builder.doc["buffers"].append({"byteLength": len(builder.blob)})
    text = json.dumps(builder.doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    total = 12 + 8 + len(text) + 8 + len(builder.blob)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(builder.blob), b"BIN\0"),
            bytes(builder.blob),
        ]
    )


def write_glb(
    path: Path,
    meshes: list[Mesh],
    skeleton: Skeleton | None = None,
    animations: list[Animation] = (),
    name: str = "Scene",
    extras: dict | None = None,
) -> Path:
    """Write `glb_bytes(...)` to `path` and return it."""
    path = Path(path)
    path.write_bytes(glb_bytes(meshes, skeleton, animations, name, extras))
    return path
