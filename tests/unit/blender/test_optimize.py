"""optimize: triangle budget, clean-up, textures, Draco, LODs and the geometric error it reports."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
import trimesh

from container_workers.blender_worker import scene, stats
from container_workers.blender_worker.optimize import optimize
from container_workers.common.stage import BadInputError
from tests.gltf_validator import assert_valid
from tests.unit.blender import builders
from tests.unit.blender.conftest import no_progress, reimport


def test_million_triangles_to_budget(tmp_path):
    grid = builders.wavy_grid(709)
    assert len(grid.faces) >= 1_000_000
    grid.export(tmp_path / "terrain.glb")
    result = optimize({"model": tmp_path / "terrain.glb"}, {"targetTriangles": 100_000}, tmp_path, no_progress)
    meta = result.metadata
    assert meta["trianglesBefore"] == len(grid.faces)
    assert abs(meta["trianglesAfter"] - 100_000) <= 1000  # within 1%
    assert meta["bytesAfter"] < meta["bytesBefore"] / 5
    error = meta["geometricError"]
    assert 0 < error["mean"] <= error["hausdorff"] < 0.005  # relative to the bounding-box diagonal
    assert_valid(result.outputs[0].path)
    assert abs(reimport(result.outputs[0].path, tmp_path).triangles - 100_000) <= 1000


def test_lods_draco_and_texture_downsizing(tmp_path):
    scene.reset()
    builders.textured_sphere(subdivisions=4, texture_px=128)  # 5120 triangles, 128 px texture
    source = builders.export_raw("glb", tmp_path / "ball")
    params = {
        "ratio": 0.5,
        "lods": [0.5, 0.25],
        "compression": "draco",
        "maxTextureSize": 64,
    }  # the contract's smallest
    result = optimize({"model": source}, params, tmp_path, no_progress)
    assert [o.role for o in result.outputs] == ["model", "lod1", "lod2"]
    assert result.metadata["trianglesAfter"] == 2560
    assert [lod["triangles"] for lod in result.metadata["lods"]] == [1280, 640]
    errors = [
        result.metadata["geometricError"]["hausdorff"],
        *(lod["geometricError"]["hausdorff"] for lod in result.metadata["lods"]),
    ]
    assert errors == sorted(errors)  # coarser levels stray further
    assert result.metadata["texturesDownsized"] == ["checker"]
    for out, tris in zip(result.outputs, (2560, 1280, 640)):
        report = assert_valid(out.path)
        assert "KHR_draco_mesh_compression" in report["info"].get("extensionsRequired", [])
        assert reimport(out.path, tmp_path / out.role).triangles == tris
        assert max(bpy.data.images[0].size) == 64


def test_merges_split_vertices_and_fixes_flipped_faces(tmp_path):
    ball = trimesh.creation.icosphere(subdivisions=3)
    faces = ball.faces.copy()
    faces[::2] = faces[::2, ::-1]  # every other face points inwards
    soup = trimesh.Trimesh(ball.vertices[faces.reshape(-1)], np.arange(faces.size).reshape(-1, 3), process=False)
    soup.export(tmp_path / "soup.glb")
    result = optimize({"model": tmp_path / "soup.glb"}, {}, tmp_path, no_progress)
    assert result.metadata["verticesBefore"] == faces.size
    assert result.metadata["verticesAfter"] == len(ball.vertices)
    reimport(result.outputs[0].path, tmp_path)
    (obj,) = stats.mesh_objects()
    centres = np.array([p.center for p in obj.data.polygons])
    normals = np.array([p.normal for p in obj.data.polygons])
    assert (np.einsum("ij,ij->i", centres, normals) > 0).all()


@pytest.mark.parametrize(
    "params, code",
    [
        ({"targetTriangles": 10, "ratio": 0.5}, "INVALID_PARAMS"),
        ({"ratio": 1.5}, "INVALID_PARAMS"),
        ({"lods": [0.25, 0.5]}, "INVALID_PARAMS"),
        ({"compression": "meshopt"}, "UNSUPPORTED_COMPRESSION"),
    ],
)
def test_bad_params(static_sources, tmp_path, params, code):
    with pytest.raises(BadInputError) as err:
        optimize({"model": static_sources["glb"][0]}, params, tmp_path, no_progress)
    assert err.value.code == code


def test_morph_targets_are_not_decimated(tmp_path):
    scene.reset()
    obj = builders.textured_sphere()
    obj.shape_key_add(name="Basis")
    obj.shape_key_add(name="Puff").data[0].co = (0, 0, 2)
    source = builders.export_raw("glb", tmp_path / "morph")
    with pytest.raises(BadInputError) as err:
        optimize({"model": source}, {"ratio": 0.5}, tmp_path, no_progress)
    assert err.value.code == "CANNOT_DECIMATE_MORPHS"
