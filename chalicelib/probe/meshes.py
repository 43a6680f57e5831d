"""OBJ, STL and PLY in pure Python: one streamed pass that counts triangles and checks every number and index.

Memory stays flat (lines are read with a length cap, binary records in fixed-size blocks); the pass checks the
time budget as it goes. Triangles are what a triangulating importer makes: an n-gon counts n - 2.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from chalicelib.probe.common import MAX_LINE, WRONG_FORMAT, Binary, Budget, Rejected, text_lines

BLOCK_RECORDS = 16384
PLY_TYPES = {
    "char": "b",
    "int8": "b",
    "uchar": "B",
    "uint8": "B",
    "short": "h",
    "int16": "h",
    "ushort": "H",
    "uint16": "H",
    "int": "i",
    "int32": "i",
    "uint": "I",
    "uint32": "I",
    "float": "f",
    "float32": "f",
    "double": "d",
    "float64": "d",
}
MAX_PLY_ELEMENTS = 2**31


class _Bounds:
    """The axis-aligned box of the vertices seen; rejects a coordinate that is not a finite number."""

    def __init__(self, what: str):
        self.what = what
        self.low = [math.inf] * 3
        self.high = [-math.inf] * 3

    def add(self, xyz: Iterable[float], where: str) -> None:
        for axis, value in enumerate(xyz):
            if value - value != 0:  # NaN or infinity
                raise Rejected(f"the {self.what} has a coordinate that is not a finite number ({value}) {where}")
            if value < self.low[axis]:
                self.low[axis] = value
            if value > self.high[axis]:
                self.high[axis] = value

    def result(self) -> list[list[float]]:
        return [[round(v, 6) for v in self.low], [round(v, 6) for v in self.high]]


def _floats(parts: list[bytes], what: str, number: int) -> tuple[float, ...]:
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise Rejected(f"the {what} has a value that is not a number on line {number}") from None


def probe_obj(path: Path, budget: Budget) -> dict:
    """Vertices, triangles, objects and bounds of a Wavefront OBJ."""
    with open(path, "rb") as f:
        if b"\0" in f.read(4096):
            raise Rejected("the file is not a text OBJ (it holds binary data)", WRONG_FORMAT)
    bounds, vertices, triangles, groups, highest = _Bounds("OBJ"), 0, 0, 0, 0
    grouped = False
    for number, line in text_lines(path, budget):
        if line.startswith((b"v ", b"v\t")):
            parts = line.split()
            if len(parts) < 4:
                raise Rejected(f"the OBJ vertex on line {number} needs x, y and z")
            bounds.add(_floats(parts[1:4], "OBJ", number), f"on line {number}")
            vertices += 1
        elif line.startswith((b"f ", b"f\t")):
            refs = line.split()[1:]
            if len(refs) < 3:
                raise Rejected(f"the OBJ face on line {number} has fewer than 3 corners")
            for ref in refs:
                try:
                    index = int(ref.split(b"/", 1)[0])
                except ValueError:
                    raise Rejected(f"the OBJ face on line {number} has a corner that is no vertex number") from None
                if index == 0 or vertices + index < 0:
                    raise Rejected(f"the OBJ face on line {number} refers to vertex {index}, which does not exist")
                highest = max(highest, index)
            triangles += len(refs) - 2
            if not grouped:
                groups, grouped = groups + 1, True
        elif line.startswith((b"o ", b"g ")):
            grouped = False
    if highest > vertices:
        raise Rejected(f"an OBJ face refers to vertex {highest} but the file has {vertices} vertices")
    if triangles == 0:
        raise Rejected("the OBJ file holds no triangles")
    return {"meshes": groups, "triangles": triangles, "vertices": vertices, "bounds": bounds.result()}


def probe_stl(path: Path, budget: Budget) -> dict:
    """Triangles and bounds of a binary or ASCII STL."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(84)
    if len(header) == 84:
        (count,) = struct.unpack_from("<I", header, 80)
        if size == 84 + 50 * count:
            return _binary_stl(path, count, size, budget)
    if not header.lstrip().startswith(b"solid"):
        if len(header) == 84:
            (count,) = struct.unpack_from("<I", header, 80)
            raise Rejected(
                f"the binary STL declares {count} triangles ({84 + 50 * count} bytes) but the file has {size}"
            )
        raise Rejected("the file is not an STL", WRONG_FORMAT)
    bounds, facets, corners = _Bounds("STL"), 0, 0
    for number, line in text_lines(path, budget):
        if line.startswith(b"facet"):
            if corners not in (0, 3):
                raise Rejected(f"the STL facet before line {number} has {corners} vertices, not 3")
            facets, corners = facets + 1, 0
        elif line.startswith(b"vertex"):
            parts = line.split()
            if len(parts) != 4:
                raise Rejected(f"the STL vertex on line {number} needs x, y and z")
            bounds.add(_floats(parts[1:], "STL", number), f"on line {number}")
            corners += 1
    if facets == 0:
        raise Rejected("the STL file holds no triangles")
    return {"meshes": 1, "triangles": facets, "bounds": bounds.result()}


def _binary_stl(path: Path, count: int, size: int, budget: Budget) -> dict:
    if count == 0:
        raise Rejected("the STL file holds no triangles")
    bounds = _Bounds("STL")
    with open(path, "rb") as f:
        f.seek(84)
        done = 0
        while done < count:
            budget.check()
            block = f.read(50 * min(BLOCK_RECORDS, count - done))
            for triangle in struct.iter_unpack("<12x9f2x", block):
                bounds.add(triangle[0::3], "")  # x of the three corners, then y, then z
                bounds.add(triangle[1::3], "")
                bounds.add(triangle[2::3], "")
            done += len(block) // 50
    low, high = bounds.result()
    return {"meshes": 1, "triangles": count, "bounds": [low, high]}


def _ply_header(data: Binary) -> tuple[str, list[dict]]:
    if data.read(4, "the header") not in (b"ply\n", b"ply\r"):
        raise Rejected("the file is not a PLY", WRONG_FORMAT)
    data.seek(0)
    raw = data.f.read(MAX_LINE)
    end = raw.find(b"end_header")
    if end < 0:
        raise Rejected("the PLY header has no end_header within 64 KB")
    newline = raw.find(b"\n", end)
    if newline < 0:
        raise Rejected("the PLY file ends right after its header")
    data.seek(newline + 1)
    encoding = ""
    elements: list[dict[str, Any]] = []  # {name, count, props: [(name, struct code, list item code or None)]}
    for number, line in enumerate(raw[:end].decode("ascii", "replace").splitlines()[1:], 2):
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        if words[0] == "format" and len(words) >= 2:
            encoding = words[1]
        elif words[0] == "element" and len(words) == 3:
            if not words[2].isdigit() or int(words[2]) > MAX_PLY_ELEMENTS:
                raise Rejected(f"the PLY element count on header line {number} is not a sane number ({words[2][:20]})")
            elements.append({"name": words[1], "count": int(words[2]), "props": []})
        elif words[0] == "property" and elements:
            if len(words) == 5 and words[1] == "list" and words[2] in PLY_TYPES and words[3] in PLY_TYPES:
                elements[-1]["props"].append((words[4], PLY_TYPES[words[2]], PLY_TYPES[words[3]]))
            elif len(words) == 3 and words[1] in PLY_TYPES:
                elements[-1]["props"].append((words[2], PLY_TYPES[words[1]], None))
            else:
                raise Rejected(f"the PLY property on header line {number} has an unknown type")
        else:
            raise Rejected(f"the PLY header line {number} is not understood ({line[:40]!r})")
    if encoding not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise Rejected(f"the PLY format {encoding or '(missing)'} is not ascii or binary")
    return encoding, elements


def probe_ply(path: Path, budget: Budget) -> dict:
    """Vertices, triangles and bounds of an ASCII or binary PLY (every element read, so truncation shows)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        data = Binary(f, size, "PLY file")
        encoding, elements = _ply_header(data)
        names = [e["name"] for e in elements]
        if "vertex" not in names or "face" not in names:
            raise Rejected("the PLY file has no vertex or no face element")
        reader = _AsciiPly(data, budget) if encoding == "ascii" else _BinaryPly(data, budget, encoding)
        bounds, vertices, triangles = _Bounds("PLY"), 0, 0
        for element in elements:
            if element["name"] == "vertex":
                vertices = element["count"]
                xyz = [i for i, p in enumerate(element["props"]) if p[0] in ("x", "y", "z")]
                if len(xyz) != 3:
                    raise Rejected("the PLY vertex element lacks x, y or z")
                for row in reader.rows(element):
                    bounds.add((row[xyz[0]], row[xyz[1]], row[xyz[2]]), "in a PLY vertex")
            elif element["name"] == "face":
                lists = [i for i, p in enumerate(element["props"]) if p[2] is not None]
                if not lists:
                    raise Rejected("the PLY face element has no vertex index list")
                for row in reader.rows(element):
                    corners = row[lists[0]]
                    if len(corners) < 3 or any(not 0 <= int(c) < vertices for c in corners):
                        raise Rejected(f"a PLY face has {len(corners)} corners or refers to a missing vertex")
                    triangles += len(corners) - 2
            else:
                for _ in reader.rows(element):
                    pass
    if triangles == 0:
        raise Rejected("the PLY file holds no triangles")
    return {"meshes": 1, "triangles": triangles, "vertices": vertices, "bounds": bounds.result()}


class _AsciiPly:
    def __init__(self, data: Binary, budget: Budget):
        self.data, self.budget = data, budget

    def rows(self, element: dict):
        for n in range(element["count"]):
            if n % 65536 == 0:
                self.budget.check()
            line = self.data.f.readline(MAX_LINE)
            if not line:
                raise Rejected(f"the PLY file is truncated: it ends in its {element['name']} element")
            words = line.split()
            row: list[Any] = []
            try:
                for _name, _kind, item in element["props"]:
                    if item is None:
                        row.append(float(words.pop(0)))
                    else:
                        count = int(words.pop(0))
                        row.append([float(words.pop(0)) for _ in range(count)])
            except (ValueError, IndexError):
                raise Rejected(f"a PLY {element['name']} line holds too few or non-numeric values") from None
            yield row


class _BinaryPly:
    def __init__(self, data: Binary, budget: Budget, encoding: str):
        self.data, self.budget = data, budget
        self.order = "<" if encoding == "binary_little_endian" else ">"

    def rows(self, element: dict):
        props = element["props"]
        if all(item is None for _, _, item in props):  # fixed-size rows: read them in blocks
            row = struct.Struct(self.order + "".join(kind for _, kind, _ in props))
            left = element["count"]
            while left:
                self.budget.check()
                n = min(BLOCK_RECORDS, left)
                yield from row.iter_unpack(self.data.read(row.size * n, f"the {element['name']} element"))
                left -= n
            return
        for n in range(element["count"]):
            if n % 65536 == 0:
                self.budget.check()
            values: list = []
            for _name, kind, item in props:
                if item is None:
                    values.append(self.data.unpack(self.order + kind, f"a {element['name']} value")[0])
                else:
                    (count,) = self.data.unpack(self.order + kind, f"a {element['name']} list length")
                    values.append(self.data.unpack(f"{self.order}{count}{item}", f"a {element['name']} list"))
            yield values
