"""Corrupt and hostile uploads are refused with a clear code before Blender trusts them; scripts never run."""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import bpy
import numpy as np
import pytest
from PIL import Image

from container_workers.blender_worker import scene
from container_workers.blender_worker.convert import convert
from container_workers.common.stage import BadInputError
from tests.unit.blender import builders
from tests.unit.blender.conftest import no_progress, reimport


def refused(path: Path, workdir: Path, target: str = "glb") -> BadInputError:
    """The BadInputError converting `path` raises."""
    with pytest.raises(BadInputError) as err:
        convert({"model": path}, {"format": target}, workdir, no_progress)
    return err.value


def _glb_parts(data: bytes) -> tuple[dict, bytes]:
    size = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20 : 20 + size]), data[20 + size :]


def _glb(doc: dict, rest: bytes) -> bytes:
    body = json.dumps(doc).encode()
    body += b" " * (-len(body) % 4)
    return (
        b"glTF"
        + struct.pack("<II", 2, 20 + len(body) + len(rest))
        + struct.pack("<I4s", len(body), b"JSON")
        + body
        + rest
    )


def test_truncated_glb(static_sources, tmp_path):
    data = static_sources["glb"][0].read_bytes()
    (tmp_path / "cut.glb").write_bytes(data[: len(data) - 100])
    err = refused(tmp_path / "cut.glb", tmp_path)
    assert err.code == "CORRUPT_FILE" and "truncated" in err.message


@pytest.mark.parametrize("count, words", [(10**9, "absurd"), (10**6, "runs past")])
def test_glb_accessor_counts_are_checked(static_sources, tmp_path, count, words):
    doc, rest = _glb_parts(static_sources["glb"][0].read_bytes())
    doc["accessors"][0]["count"] = count
    (tmp_path / "bad.glb").write_bytes(_glb(doc, rest))
    err = refused(tmp_path / "bad.glb", tmp_path)
    assert err.code == "CORRUPT_FILE" and words in err.message


def test_gltf_reaching_outside_the_upload(tmp_path):
    (tmp_path / "secret.bin").write_bytes(b"\0" * 64)
    doc = {"asset": {"version": "2.0"}, "buffers": [{"uri": "../secret.bin", "byteLength": 64}]}
    (tmp_path / "evil.gltf").write_text(json.dumps(doc))
    assert refused(tmp_path / "evil.gltf", tmp_path / "work").code == "EXTERNAL_REFERENCE"


def _fbx_with_vertex_count(static_sources, tmp_path, extra: int) -> Path:
    data = bytearray(static_sources["fbx"][0].read_bytes())
    at = data.index(b"Vertices") + len(b"Vertices") + 1  # record name, then the 'd' array's element count
    (count,) = struct.unpack_from("<I", data, at)
    struct.pack_into("<I", data, at, count + extra)
    path = tmp_path / "bad.fbx"
    path.write_bytes(bytes(data))
    return path


def test_fbx_with_absurd_array_count(static_sources, tmp_path):
    err = refused(_fbx_with_vertex_count(static_sources, tmp_path, 0x40000000), tmp_path)
    assert err.code == "TOO_COMPLEX" and "FBX arrays declare" in err.message


def test_fbx_whose_array_does_not_match_its_count(static_sources, tmp_path):
    err = refused(_fbx_with_vertex_count(static_sources, tmp_path, 3), tmp_path)
    assert err.code == "CORRUPT_FILE"


def test_truncated_fbx(static_sources, tmp_path):
    data = static_sources["fbx"][0].read_bytes()
    (tmp_path / "cut.fbx").write_bytes(data[: len(data) // 2])
    assert refused(tmp_path / "cut.fbx", tmp_path).code == "CORRUPT_FILE"


def test_stl_whose_size_does_not_match_its_count(static_sources, tmp_path):
    data = bytearray(static_sources["stl"][0].read_bytes())
    struct.pack_into("<I", data, 80, 10**8)
    (tmp_path / "bad.stl").write_bytes(bytes(data))
    assert refused(tmp_path / "bad.stl", tmp_path).code == "CORRUPT_FILE"


def test_ply_declaring_too_many_elements(tmp_path):
    (tmp_path / "huge.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 900000000\nproperty float x\nend_header\n"
    )
    assert refused(tmp_path / "huge.ply", tmp_path).code == "TOO_COMPLEX"


def test_garbage_behind_a_valid_magic(tmp_path):
    (tmp_path / "junk.blend").write_bytes(b"BLENDER-v405" + np.random.default_rng(0).bytes(4096))
    assert refused(tmp_path / "junk.blend", tmp_path).code == "CORRUPT_FILE"


@pytest.mark.parametrize(
    "name, content, code",
    [
        ("empty.glb", b"", "CORRUPT_FILE"),
        ("model.dae", b"<COLLADA/>", "UNSUPPORTED_FORMAT"),
        ("fake.glb", b"not a glb at all, just text", "CORRUPT_FILE"),
    ],
)
def test_unreadable_uploads(tmp_path, name, content, code):
    (tmp_path / name).write_bytes(content)
    assert refused(tmp_path / name, tmp_path).code == code


@pytest.mark.parametrize(
    "entries, code",
    [
        ({"../evil.obj": "v 0 0 0\n"}, "UNSAFE_ARCHIVE"),
        ({"/abs/evil.obj": "v 0 0 0\n"}, "UNSAFE_ARCHIVE"),
        ({"a.obj": "v 0 0 0\n", "b.stl": "solid x\nendsolid x\n"}, "AMBIGUOUS_ARCHIVE"),
    ],
)
def test_unsafe_or_ambiguous_archives(tmp_path, entries, code):
    with zipfile.ZipFile(tmp_path / "upload.zip", "w") as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    assert refused(tmp_path / "upload.zip", tmp_path / "work").code == code


def test_textures_outside_the_upload_are_never_read(tmp_path):
    outside = tmp_path / "someone_elses.png"
    Image.new("RGB", (4, 4), (255, 0, 0)).save(outside)
    obj = "mtllib m.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl Red\nf 1/1 2/2 3/3\n"
    with zipfile.ZipFile(tmp_path / "upload.zip", "w") as zf:
        zf.writestr("m.obj", obj)
        zf.writestr("m.mtl", f"newmtl Red\nmap_Kd {outside}\n")
    result = convert({"model": tmp_path / "upload.zip"}, {"format": "glb"}, tmp_path / "work", no_progress)
    assert result.metadata["missingTextures"] == ["someone_elses.png"]
    assert reimport(result.outputs[0].path, tmp_path).textures == 0


def test_blend_with_scripts_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran.txt"
    scene.reset()
    builders.textured_sphere()
    text = bpy.data.texts.new("autorun.py")
    text.write(f"open({str(marker)!r}, 'w').write('text')\n")
    text.use_module = True
    fcurve = bpy.data.objects["Sphere"].driver_add("location", 0)
    fcurve.driver.type = "SCRIPTED"
    fcurve.driver.expression = f"__import__('pathlib').Path({str(marker)!r}).write_text('driver') and 0"
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "hostile.blend"), copy=True)
    scene.reset()
    err = refused(tmp_path / "hostile.blend", tmp_path / "work")
    assert err.code == "BLEND_HAS_SCRIPTS" and "autorun.py" in err.message
    bpy.context.scene.frame_set(2)  # even re-evaluating the loaded file's drivers runs nothing
    assert not marker.exists()
    assert not bpy.context.preferences.filepaths.use_scripts_auto_execute
    bpy.ops.wm.open_mainfile(filepath=str(tmp_path / "hostile.blend"), load_ui=False, use_scripts=True)
    bpy.context.scene.frame_set(3)  # control: trusted, the same file does run code
    assert marker.exists()
    scene.reset()


def test_a_meshopt_glb_that_would_expand_past_the_limit_is_refused_before_decoding(tmp_path):
    from container_workers.blender_worker import safety

    doc = {
        "asset": {"version": "2.0"},
        "extensionsUsed": ["EXT_meshopt_compression"],
        "buffers": [{"byteLength": 16}],
        "bufferViews": [
            {
                "buffer": 0,
                "byteLength": 16,
                "extensions": {
                    "EXT_meshopt_compression": {
                        "buffer": 0,
                        "byteLength": 16,
                        "byteStride": 16,
                        "count": 1_000_000_000,
                        "mode": "ATTRIBUTES",
                    }
                },
            }
        ],
    }
    body = json.dumps(doc).encode().ljust(-(-len(json.dumps(doc)) // 4) * 4, b" ")
    data = struct.pack("<4sII", b"glTF", 2, 28 + len(body) + 16) + struct.pack("<I4s", len(body), b"JSON") + body
    data += struct.pack("<I4s", 16, b"BIN\0") + bytes(16)
    path = tmp_path / "bomb.glb"
    path.write_bytes(data)
    with pytest.raises(BadInputError) as err:
        safety.prepare(path, tmp_path / "work", ("glb",))
    assert err.value.code == "FILE_TOO_LARGE"
