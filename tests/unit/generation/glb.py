"""A minimal GLB reader for the tests: the JSON document and accessors as numpy arrays."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


class Glb:
    """A parsed GLB file."""

    def __init__(self, path: Path):
        data = Path(path).read_bytes()
        magic, version, length = struct.unpack_from("<4sII", data, 0)
        assert magic == b"glTF" and version == 2 and length == len(data)
        json_length, _ = struct.unpack_from("<I4s", data, 12)
        self.doc = json.loads(data[20 : 20 + json_length])
        bin_length, kind = struct.unpack_from("<I4s", data, 20 + json_length)
        assert kind == b"BIN\0"
        self.blob = data[28 + json_length : 28 + json_length + bin_length]

    def accessor(self, index: int) -> np.ndarray:
        """The accessor's elements, shape (count,) or (count, width)."""
        acc = self.doc["accessors"][index]
        view = self.doc["bufferViews"][acc["bufferView"]]
        width = _WIDTH[acc["type"]]
        offset = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        array = np.frombuffer(self.blob, dtype=_DTYPES[acc["componentType"]], count=acc["count"] * width, offset=offset)
        return array.reshape(acc["count"], width) if width > 1 else array

    def primitive(self, mesh: int = 0) -> dict:
        """The first primitive of a mesh."""
        return self.doc["meshes"][mesh]["primitives"][0]

    def attribute(self, name: str, mesh: int = 0) -> np.ndarray:
        """A vertex attribute of a mesh's first primitive."""
        return self.accessor(self.primitive(mesh)["attributes"][name])

    def triangles(self, mesh: int = 0) -> np.ndarray:
        """The (M, 3) vertex indices of a mesh's first primitive."""
        return self.accessor(self.primitive(mesh)["indices"]).reshape(-1, 3).astype(np.int64)

    def merged(self, *names: str) -> tuple[np.ndarray, ...]:
        """The named vertex attributes of every mesh, concatenated as float64, then their (M, 3) triangles."""
        meshes = range(len(self.doc["meshes"]))
        starts = np.cumsum([0] + [len(self.attribute(names[0], m)) for m in meshes])
        faces = np.concatenate([self.triangles(m) + starts[m] for m in meshes])
        return (*(np.concatenate([self.attribute(n, m) for m in meshes]).astype(np.float64) for n in names), faces)

    def image(self, index: int = 0) -> bytes:
        """The bytes of an embedded image."""
        view = self.doc["bufferViews"][self.doc["images"][index]["bufferView"]]
        start = view.get("byteOffset", 0)
        return self.blob[start : start + view["byteLength"]]
