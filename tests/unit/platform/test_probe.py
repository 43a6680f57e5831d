"""The upload checker never crashes: every unreadable file is Rejected with a code and a reason, in bounded time."""

from __future__ import annotations

import copy
import io
import json
import random
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import trimesh
from PIL import Image

from chalicelib import probe
from tests import media

SPHERE = trimesh.creation.icosphere(subdivisions=3)


def _check(tmp_path: Path, name: str, data: bytes, **limits) -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    fmt = name.rsplit(".", 1)[1]
    if fmt in ("png", "jpg", "webp"):
        return probe.image(path, fmt, limits.get("max_pixels", 64_000_000), **_seconds(limits))
    if fmt in ("mp4", "mov", "webm"):
        return probe.video(path, fmt, 600, 3840 * 2160, 216_000, **_seconds(limits))
    return probe.model(path, fmt, **_seconds(limits))


def _seconds(limits: dict) -> dict:
    return {"seconds": limits["seconds"]} if "seconds" in limits else {}


def _rejected(tmp_path: Path, name: str, data: bytes, **limits) -> probe.Rejected:
    with pytest.raises(probe.Rejected) as caught:
        _check(tmp_path, name, data, **limits)
    return caught.value


def _never_crashes(tmp_path: Path, name: str, data: bytes) -> None:
    try:
        _check(tmp_path, name, data)
    except probe.Rejected as exc:
        assert exc.code in (probe.UNREADABLE, probe.WRONG_FORMAT, probe.LIMIT) and exc.message


def _valid_files(tmp_path: Path) -> dict[str, bytes]:
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(png, "PNG")
    jpg = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(jpg, "JPEG")
    usdz = io.BytesIO()
    with zipfile.ZipFile(usdz, "w", zipfile.ZIP_STORED) as z:
        z.writestr("scene.usda", "#usda 1.0\n")
    return {
        "a.png": png.getvalue(),
        "a.jpg": jpg.getvalue(),
        "a.mp4": media.person_video(tmp_path / "src.mp4", seconds=1, fps=10).read_bytes(),
        "a.glb": SPHERE.export(file_type="glb"),
        "a.gltf": json.dumps(_gltf_doc()).encode(),
        "a.obj": SPHERE.export(file_type="obj").encode(),
        "a.stl": SPHERE.export(file_type="stl"),
        "a.ply": SPHERE.export(file_type="ply"),
        "a.bvh": media.bvh(),
        "a.usdz": usdz.getvalue(),
    }


def _gltf_doc() -> dict:
    """A one-triangle glTF with its buffer embedded as a data URI."""
    import base64

    data = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    return {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "mode": 4}]}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "buffers": [
            {"byteLength": 36, "uri": "data:application/octet-stream;base64," + base64.b64encode(data).decode()}
        ],
    }


# ---------------------------------------------------------------- the four files that crashed the checker
@pytest.mark.parametrize(("name", "data", "kind", "content_type"), media.malformed_uploads())
def test_the_four_crashers_are_rejected_naming_the_field(tmp_path, name, data, kind, content_type):
    rejected = _rejected(tmp_path, name, data)
    assert rejected.code == probe.UNREADABLE
    expected = {
        "asset-is-a-string.glb": "`asset` must be an object, not a string",
        "meshes-is-an-int.glb": "`meshes` must be an array, not a number",
        "asset-is-a-list.gltf": "`asset` must be an object, not an array",
        "frame-time.bvh": "`Frame Time:` must be a number of seconds, found '0.0.1'",
    }[name]
    assert expected in rejected.message


def test_valid_files_keep_the_metadata_the_platform_reads(tmp_path):
    found = {name: _check(tmp_path, name, data) for name, data in _valid_files(tmp_path).items()}
    assert (found["a.png"]["width"], found["a.png"]["height"], found["a.png"]["hasAlpha"]) == (40, 30, False)
    assert (found["a.mp4"]["frameCount"], found["a.mp4"]["fps"], found["a.mp4"]["durationSeconds"]) == (10, 10.0, 1.0)
    for name in ("a.glb", "a.obj", "a.stl", "a.ply"):
        assert found[name]["triangles"] == len(SPHERE.faces), name
    assert found["a.gltf"]["triangles"] == 1 and found["a.bvh"]["frameCount"] == 3 and found["a.usdz"]["files"] == 1
    assert found["a.obj"]["bounds"] == [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]


# ---------------------------------------------------------------- fuzz: truncation, flipped bytes, wrong types
def test_every_truncation_of_every_format_is_rejected_or_read(tmp_path):
    for name, data in _valid_files(tmp_path).items():
        cuts = sorted({0, 1, 7, 8, 12, 20, 84, len(data) // 3, len(data) // 2, len(data) - 1} & set(range(len(data))))
        for cut in cuts:
            _never_crashes(tmp_path, name, data[:cut])
        if name not in ("a.obj", "a.bvh"):  # text formats may legally end anywhere between lines
            assert isinstance(_rejected(tmp_path, name, data[: len(data) // 2]), probe.Rejected), name


def test_flipped_bytes_never_crash_the_checker(tmp_path):
    rng = random.Random(14)
    for name, data in _valid_files(tmp_path).items():
        for _ in range(40):
            broken = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(min(len(broken), 512))
                broken[at] = rng.randrange(256)
            _never_crashes(tmp_path, name, bytes(broken))


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*path, i))


def test_a_wrong_type_anywhere_in_a_gltf_document_is_rejected_or_read(tmp_path):
    doc = _gltf_doc()
    for path in list(_paths(doc))[1:]:
        for wrong in ("x", 7, -1, 10**12, 1.5, [], {}, None, True):
            broken = copy.deepcopy(doc)
            target = broken
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            _never_crashes(tmp_path, "a.gltf", json.dumps(broken).encode())
            _never_crashes(tmp_path, "a.glb", media.glb(broken))


def test_huge_counts_are_refused_without_allocating(tmp_path):
    doc = _gltf_doc()
    doc["accessors"][0]["count"] = 10**12
    assert "needs" in _rejected(tmp_path, "a.gltf", json.dumps(doc).encode()).message
    stl = b"\0" * 80 + struct.pack("<I", 2**31) + b"\0" * 50
    assert "declares 2147483648 triangles" in _rejected(tmp_path, "a.stl", stl).message
    ply = b"ply\nformat binary_little_endian 1.0\nelement vertex 999999999\nproperty float x\nproperty float y\n"
    ply += b"property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n" + b"\0" * 24
    assert "truncated" in _rejected(tmp_path, "a.ply", ply).message
    assert (
        _rejected(tmp_path, "a.bvh", media.bvh(frames=1).replace(b"Frames: 1", b"Frames: 99999999")).code == probe.LIMIT
    )
    header = _valid_files(tmp_path)["a.png"]
    ihdr = b"IHDR" + struct.pack(">II", 100_000, 100_000) + header[24:29]
    import zlib

    huge = header[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + header[33:]
    started = time.monotonic()
    assert _rejected(tmp_path, "a.png", huge).code == probe.LIMIT  # from the header, before any pixel is decoded
    assert time.monotonic() - started < 10  # decoding 10^10 pixels would take far longer (a loose bound)


def test_not_a_number_is_rejected_everywhere(tmp_path):
    assert "not valid JSON" in _rejected(tmp_path, "a.gltf", b'{"asset": {"version": "2.0"}, "x": NaN}').message
    assert "not a finite number" in _rejected(tmp_path, "a.obj", b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n").message
    assert "between 0 and 10" in _rejected(tmp_path, "a.bvh", media.bvh("nan")).message
    assert "between 0 and 10" in _rejected(tmp_path, "a.bvh", media.bvh("0")).message
    stl = b"\0" * 80 + struct.pack("<I", 1) + struct.pack("<12fH", 0, 0, 1, float("nan"), 0, 0, 1, 0, 0, 0, 1, 0, 0)
    assert "not a finite number" in _rejected(tmp_path, "a.stl", stl).message


def test_zip_bombs_and_odd_archives_are_refused(tmp_path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("scene.usdc", b"PXR-USDC" + b"\0" * 20_000_000)
    assert "compressed" in _rejected(tmp_path, "a.usdz", bomb.getvalue()).message
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as z:
        for i in range(10_001):
            z.writestr(f"{i}.usda", b"")
    assert _rejected(tmp_path, "a.usdz", many.getvalue()).code == probe.LIMIT
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w", zipfile.ZIP_STORED) as z:
        z.writestr("scene.usda", "#usda 1.0\n")
        z.writestr("../../etc/passwd", "x")
    assert "unsafe path" in _rejected(tmp_path, "a.usdz", evil.getvalue()).message
    assert _rejected(tmp_path, "a.usdz", b"PK\x03\x04 not really").code == probe.WRONG_FORMAT


def test_the_check_is_bounded_in_time(tmp_path):
    lines = b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + b"f 1 2 3\n" * 200_000
    rejected = _rejected(tmp_path, "a.obj", lines, seconds=0)
    assert rejected.code == probe.LIMIT and "within 0 s" in rejected.message


def test_a_video_cut_short_is_rejected(tmp_path):
    data = _valid_files(tmp_path)["a.mp4"]
    assert "truncated" in _rejected(tmp_path, "a.mp4", data[:-100]).message


def test_the_lambda_checker_imports_no_opencv_numpy_or_trimesh():
    code = "import sys, chalicelib.probe, chalicelib.assets; print(sorted(m for m in ('cv2', 'numpy', 'trimesh') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_meshopt_compressed_glb_the_optimize_stage_writes_is_read(tmp_path):
    """EXT_meshopt_compression's fallback buffer has no data; a user re-uploading an OPTIMIZE output is not refused."""
    doc = _gltf_doc()
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["EXT_meshopt_compression"]
    doc["buffers"] = [
        {"byteLength": 16},
        {"byteLength": 36, "extensions": {"EXT_meshopt_compression": {"fallback": True}}},
    ]
    doc["bufferViews"] = [
        {
            "buffer": 1,
            "byteLength": 36,
            "byteStride": 12,
            "extensions": {
                "EXT_meshopt_compression": {
                    "buffer": 0,
                    "byteLength": 16,
                    "byteStride": 12,
                    "count": 3,
                    "mode": "ATTRIBUTES",
                }
            },
        }
    ]
    assert _check(tmp_path, "packed.glb", media.glb(doc, bytes(16)))["triangles"] == 1
    del doc["buffers"][1]["extensions"]  # without the fallback mark a buffer with no data is still refused
    assert "buffers[1].uri" in _rejected(tmp_path, "plain.glb", media.glb(doc, bytes(16))).message
