"""optimize: budgets, meshopt/Draco output, LODs, textures, skins and animation, UV seams, and the error it reports."""

from __future__ import annotations

import io
from pathlib import Path

import bpy
import numpy as np
import pytest
import trimesh
from PIL import Image

from container_workers.blender_worker import geometry, glb, gltfpack, scene
from container_workers.blender_worker.optimize import optimize
from container_workers.blender_worker.retarget import retarget
from container_workers.common import skeleton
from container_workers.common.stage import BadInputError
from container_workers.gpu_worker.avatar.stage import avatar
from container_workers.gpu_worker.image_to_3d.stage import reconstruct
from tests import media
from tests.gltf_validator import assert_valid
from tests.unit.blender import builders
from tests.unit.blender.conftest import no_progress, reimport


def plain(path: Path) -> Path:
    """The GLB with its meshopt compression expanded (what a viewer decodes), for the validator and Blender."""
    return glb.write(glb.read(path), path.with_name(path.stem + "-plain.glb"))


def assert_meshopt_valid(path: Path) -> None:
    """The compressed file passes the validator's structure checks; its expanded twin passes every check."""
    report = assert_valid(path)
    assert "EXT_meshopt_compression" in report["info"]["extensionsRequired"]
    assert "KHR_mesh_quantization" in report["info"]["extensionsRequired"]
    unsupported = {m["message"] for m in report["issues"]["messages"] if m["code"] == "UNSUPPORTED_EXTENSION"}
    assert all("EXT_meshopt_compression" in m for m in unsupported)  # the validator cannot decode meshopt itself
    assert_valid(plain(path))


def test_million_triangles_to_budget(tmp_path):
    grid = builders.wavy_grid(709)
    assert len(grid.faces) >= 1_000_000
    grid.export(tmp_path / "terrain.glb")
    result = optimize({"model": tmp_path / "terrain.glb"}, {"targetTriangles": 100_000}, tmp_path, no_progress)
    meta = result.metadata
    assert meta["trianglesBefore"] == len(grid.faces) and meta["compression"] == "meshopt"
    assert abs(meta["trianglesAfter"] - 100_000) <= 1000  # within 1%
    assert meta["bytesAfter"] < meta["bytesBefore"] / 50
    error = meta["geometricError"]
    assert 0 < error["mean"] <= error["hausdorff"] < 0.005  # relative to the bounding-box diagonal
    assert_meshopt_valid(result.outputs[0].path)
    assert glb.triangle_count(glb.read(result.outputs[0].path)) == meta["trianglesAfter"]


def test_error_bound_stops_the_simplifier(tmp_path):
    trimesh.creation.icosphere(subdivisions=5).export(tmp_path / "ball.glb")  # 20480 triangles
    loose, tight = (
        optimize({"model": tmp_path / "ball.glb"}, {"errorBound": bound}, tmp_path / str(bound), no_progress).metadata
        for bound in (0.01, 0.001)
    )
    assert loose["trianglesAfter"] < tight["trianglesAfter"] < 20480
    assert loose["geometricError"]["hausdorff"] > tight["geometricError"]["hausdorff"]
    assert loose["targetTriangles"] is None and loose["errorBound"] == 0.01


def test_lods_draco_and_texture_downsizing(tmp_path):
    scene.reset()
    builders.textured_sphere(subdivisions=4, texture_px=128)  # 5120 triangles, 128 px texture
    source = builders.export_raw("glb", tmp_path / "ball")
    params = {"ratio": 0.5, "lods": [0.5, 0.25], "compression": "draco", "maxTextureSize": 64}
    result = optimize({"model": source}, params, tmp_path, no_progress)
    meta = result.metadata
    assert [o.role for o in result.outputs] == ["model", "lod1", "lod2"]
    assert abs(meta["trianglesAfter"] - 2560) <= 26
    assert [lod["triangles"] for lod in meta["lods"]] == pytest.approx([1280, 640], rel=0.02)
    errors = [meta["geometricError"]["hausdorff"], *(lod["geometricError"]["hausdorff"] for lod in meta["lods"])]
    assert errors == sorted(errors)  # coarser levels stray further
    assert meta["texturesDownsized"] == ["checker"]
    for out in result.outputs:
        report = assert_valid(out.path)
        assert "KHR_draco_mesh_compression" in report["info"].get("extensionsRequired", [])
        decoded = out.path.with_name(out.path.stem + "-decoded.glb")  # read back through the Draco decoder
        assert_valid(decoded)
        got = reimport(out.path, tmp_path / out.role)  # Blender's importer decodes Draco
        assert got.triangles == glb.triangle_count(glb.read(decoded))
        assert max(bpy.data.images[0].size) == 64


def test_cleanup_merges_split_vertices_and_fixes_flipped_faces(tmp_path):
    ball = trimesh.creation.icosphere(subdivisions=3)
    faces = ball.faces.copy()
    faces[::2] = faces[::2, ::-1]  # every other face points inwards
    soup = trimesh.Trimesh(ball.vertices[faces.reshape(-1)], np.arange(faces.size).reshape(-1, 3), process=False)
    soup.export(tmp_path / "soup.glb")
    result = optimize({"model": tmp_path / "soup.glb"}, {"cleanup": True}, tmp_path, no_progress)
    assert result.metadata["verticesAfter"] == len(ball.vertices)
    shape = glb.surface(glb.read(result.outputs[0].path))
    a, b, c = (shape.vertices[shape.triangles[:, i]] for i in range(3))
    assert (np.einsum("ij,ij->i", (a + b + c) / 3, np.cross(b - a, c - a)) > 0).all()  # every face points outwards


@pytest.mark.parametrize(
    "params, code",
    [
        ({"targetTriangles": 10, "ratio": 0.5}, "INVALID_PARAMS"),
        ({"ratio": 0.5, "errorBound": 0.01}, "INVALID_PARAMS"),
        ({"ratio": 1.5}, "INVALID_PARAMS"),
        ({"lods": [0.25, 0.5]}, "INVALID_PARAMS"),
        ({"compression": "zip"}, "INVALID_PARAMS"),
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


def test_other_formats_go_through_blender_first(static_sources, tmp_path):
    result = optimize({"model": static_sources["fbx"][0]}, {"ratio": 0.5}, tmp_path, no_progress)
    assert result.metadata["from"] == "fbx"
    assert result.metadata["trianglesAfter"] == pytest.approx(result.metadata["trianglesBefore"] / 2, rel=0.02)
    assert_meshopt_valid(result.outputs[0].path)


@pytest.fixture(scope="module")
def animated_avatar(tmp_path_factory) -> Path:
    """The avatar stage's skinned avatar, animated by the retarget stage with a BVH walk (60 frames at 30 fps)."""
    folder = tmp_path_factory.mktemp("avatar")
    (folder / "gen").mkdir()
    made = avatar({}, {"prompt": "a woman in a red dress", "targetTriangles": 20_000}, folder / "gen", no_progress)
    glb_in = next(o.path for o in made.outputs if o.role == "glb")
    motion = builders.write_bvh(folder / "walk.bvh", frames=60)
    with scene.task():
        done = retarget({"avatar": glb_in, "motion": motion}, {}, folder / "anim", no_progress)
    return next(o.path for o in done.outputs if o.role == "glb")


def _joints(path: Path, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World positions (frames, joints, 3) and rotations (frames, joints, 3, 3) of the skin's joints, by joint name."""
    g = glb.read(path)
    (skin,) = g.doc["skins"]
    order = sorted(skin["joints"], key=lambda j: g.doc["nodes"][j]["name"])
    poses = [glb.node_matrices(g, float(t)) for t in times]
    positions = np.array([[pose[j][:3, 3] for j in order] for pose in poses])
    rotations = np.array([[pose[j][:3, :3] / np.linalg.norm(pose[j][:3, 0]) for j in order] for pose in poses])
    return positions, rotations


def test_skinned_avatar_plays_the_same_animation(animated_avatar, tmp_path):
    result = optimize({"model": animated_avatar}, {"ratio": 0.25}, tmp_path, no_progress)
    out = result.outputs[0]
    assert out.kind == "ANIMATION" and result.metadata["trianglesAfter"] < result.metadata["trianglesBefore"] / 3
    before, after = glb.read(animated_avatar), glb.read(out.path)
    assert (
        len(after.doc["skins"][0]["joints"]) == len(before.doc["skins"][0]["joints"]) == len(skeleton.names(hands=True))
    )
    times = np.arange(0, 60) / 30 + 1 / 90  # every frame, a third of the way to the next key
    p0, r0 = _joints(animated_avatar, times)
    p1, r1 = _joints(out.path, times)
    assert np.abs(p1 - p0).max() < 1e-3  # metres: joint positions within a millimetre at every frame
    angle = np.degrees(np.arccos(np.clip((np.einsum("fjik,fjik->fj", r0, r1) - 1) / 2, -1, 1)))
    assert angle.max() < 0.5  # joint orientations within half a degree
    moving = np.abs(p0 - p0[0]).max(axis=(0, 2))
    assert (moving > 0.05).sum() >= 10  # it is a real motion, not a rest pose compared with itself
    assert_meshopt_valid(out.path)


def _colours(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear texture lookups (glTF UVs: v grows downwards), RGB in 0..1."""
    h, w = texture.shape[:2]
    x = np.clip(np.mod(uv[:, 0], 1) * w - 0.5, 0, w - 1)
    y = np.clip(np.mod(uv[:, 1], 1) * h - 0.5, 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = texture[y0, x0] * (1 - fx) + texture[y0, x1] * fx
    bottom = texture[y1, x0] * (1 - fx) + texture[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy)[:, :3] / 255.0


def _texture_at_points(path: Path, points: np.ndarray) -> np.ndarray:
    """The base colour the model shows at surface points: UVs interpolated on the nearest triangle, then looked up."""
    g = glb.read(path)
    shape = glb.surface(g)
    _, triangle, closest = geometry.Reference(shape.vertices, shape.triangles).nearest(points)
    corners = shape.vertices[shape.triangles[triangle]]
    weights = trimesh.triangles.points_to_barycentric(corners, closest)
    uv = np.einsum("pk,pkj->pj", weights, shape.uv[shape.triangles[triangle]])
    (image,) = {int(i) for i in shape.texture[triangle]}
    texture = np.asarray(Image.open(io.BytesIO(g.image(image))).convert("RGBA"), dtype=float)
    return _colours(texture, uv)


def test_uv_seams_keep_the_texture_in_place(tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(media.png(256, 256, rgba=True))
    (tmp_path / "gen").mkdir()
    made = reconstruct({"image": photo}, {"targetTriangles": 8000}, tmp_path / "gen", no_progress)
    source = next(o.path for o in made.outputs if o.role == "glb")
    result = optimize({"model": source}, {"ratio": 0.25}, tmp_path, no_progress)
    shape = glb.surface(glb.read(result.outputs[0].path))
    points = trimesh.Trimesh(shape.vertices, shape.triangles, process=False).sample(5000, seed=0)
    difference = np.abs(_texture_at_points(result.outputs[0].path, points) - _texture_at_points(source, points))
    worst = difference.max(axis=1)
    assert np.median(worst) < 0.02
    assert np.quantile(worst, 0.99) < 0.15  # no triangle stretched across a seam into another part of the atlas


def test_a_failed_or_cancelled_gltfpack_is_replaced(tmp_path):
    trimesh.creation.icosphere(subdivisions=4).export(tmp_path / "ball.glb")
    (tmp_path / "junk.glb").write_bytes(b"glTF" + bytes(40))
    with pytest.raises(BadInputError) as err:
        gltfpack.Pack(tmp_path / "junk.glb", tmp_path / "a.glb", gltfpack.Options(ratio=0.5)).result()
    assert err.value.code == "CORRUPT_FILE" and "gltfpack failed" in err.value.message
    builders.wavy_grid(300).export(tmp_path / "big.glb")
    running = gltfpack.Pack(tmp_path / "big.glb", tmp_path / "b.glb", gltfpack.Options(ratio=0.1))
    running.cancel()  # the task was cancelled or timed out: its server is killed
    done = gltfpack.Pack(tmp_path / "ball.glb", tmp_path / "c.glb", gltfpack.Options(ratio=0.5)).result()
    assert glb.triangle_count(glb.read(done)) == pytest.approx(2560, rel=0.02)
