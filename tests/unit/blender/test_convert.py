"""convert: every pair that can work round-trips its counts; the rest are refused with a clear code."""

from __future__ import annotations

import pytest

from container_workers.blender_worker import formats
from container_workers.blender_worker.convert import convert
from container_workers.common.stage import BadInputError
from tests.gltf_validator import assert_valid
from tests.unit.blender.conftest import RICH, no_progress, reimport

FORMATS = formats.MODEL_FORMATS


@pytest.mark.parametrize("target", FORMATS)
@pytest.mark.parametrize("source", FORMATS)
def test_static_round_trip(static_sources, source, target, tmp_path):
    path, ref = static_sources[source]
    result = convert({"model": path}, {"format": target}, tmp_path, no_progress)
    (out,) = result.outputs
    assert (out.role, out.kind) == ("model", "MODEL_3D")
    got = reimport(out.path, tmp_path)
    assert (got.triangles, got.bones, got.frames) == (ref.triangles, 0, 0)
    had = ref.features & formats.HOLDS[source]  # what the source file could carry of the scene it was made from
    assert result.metadata["dropped"] == sorted(had - formats.HOLDS[target])
    assert had & formats.HOLDS[target] <= got.features
    assert got.textures == (1 if "textures" in had & formats.HOLDS[target] else 0)
    if target in ("glb", "gltf"):
        assert_valid(out.path)


@pytest.mark.parametrize("target", RICH)
@pytest.mark.parametrize("source", RICH)
def test_animated_round_trip(animated_sources, source, target, tmp_path):
    path, ref = animated_sources[source]
    result = convert({"model": path}, {"format": target}, tmp_path, no_progress)
    (out,) = result.outputs
    assert (out.role, out.kind) == ("model", "ANIMATION")
    got = reimport(out.path, tmp_path)
    assert (got.triangles, got.bones, got.frames) == (ref.triangles, ref.bones, ref.frames) == (ref.triangles, 22, 12)
    assert {"skeleton", "animation", "materials"} <= got.features
    if target in ("glb", "gltf"):
        assert_valid(out.path)


@pytest.mark.parametrize("target", ["obj", "stl", "ply"])
@pytest.mark.parametrize("source", ["glb", "fbx"])
def test_refuses_targets_that_cannot_hold_motion(animated_sources, source, target, tmp_path):
    with pytest.raises(BadInputError) as err:
        convert({"model": animated_sources[source][0]}, {"format": target}, tmp_path, no_progress)
    assert err.value.code == "FORMAT_CANNOT_HOLD"
    assert "animation and skeleton" in err.value.message and "glb" in err.value.message
    assert not list(tmp_path.glob("model.*"))


def test_unknown_target_format_is_refused(static_sources, tmp_path):
    with pytest.raises(BadInputError) as err:
        convert({"model": static_sources["glb"][0]}, {"format": "dae"}, tmp_path, no_progress)
    assert err.value.code == "INVALID_PARAMS"


def test_gltf_is_one_self_contained_file(static_sources, tmp_path):
    out = convert({"model": static_sources["fbx"][0]}, {"format": "gltf"}, tmp_path, no_progress).outputs[0].path
    report = assert_valid(out)
    storage = sorted(r["storage"] for r in report["info"]["resources"])
    assert storage == ["buffer-view", "data-uri"]  # the image lives in the buffer, the buffer in the file


def test_obj_with_materials_is_a_zip_with_mtl_and_texture(static_sources, tmp_path):
    import zipfile

    out = convert({"model": static_sources["glb"][0]}, {"format": "obj"}, tmp_path, no_progress).outputs[0].path
    assert out.suffix == ".zip"
    names = sorted(zipfile.ZipFile(out).namelist())
    assert names == ["Checker.png", "model.mtl", "model.obj"] or (
        len(names) == 3 and names[1:] == ["model.mtl", "model.obj"]
    )


@pytest.fixture(scope="module")
def morph_source(tmp_path_factory):
    """A sphere with one shape key (morph target), as GLB."""
    from container_workers.blender_worker import scene
    from tests.unit.blender import builders

    scene.reset()
    obj = builders.textured_sphere()
    obj.shape_key_add(name="Basis")
    obj.shape_key_add(name="Puff").data[0].co = (0, 0, 2)
    return builders.export_raw("glb", tmp_path_factory.mktemp("morph") / "puff")


@pytest.mark.parametrize("target", RICH)
def test_morph_targets_round_trip(morph_source, target, tmp_path):
    out = convert({"model": morph_source}, {"format": target}, tmp_path, no_progress).outputs[0].path
    assert "morphs" in reimport(out, tmp_path).features


def test_morph_targets_refused_by_obj(morph_source, tmp_path):
    with pytest.raises(BadInputError) as err:
        convert({"model": morph_source}, {"format": "obj"}, tmp_path, no_progress)
    assert err.value.code == "FORMAT_CANNOT_HOLD" and "morphs" in err.value.message


def test_missing_target_format_is_refused(tmp_path):
    with pytest.raises(BadInputError) as err:
        convert({"model": tmp_path / "never-read.glb"}, {}, tmp_path, no_progress)
    assert err.value.code == "INVALID_PARAMS" and "glb" in err.value.message
