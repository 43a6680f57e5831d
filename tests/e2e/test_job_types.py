"""Every job type end to end through `ai3d run --wait`: real stack, real workers, outputs downloaded and checked."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import skimage.data
import trimesh

from ai3d.demo import pick_output
from container_workers.blender_worker import glb
from container_workers.common import skeleton
from tests.e2e.helpers import make_box_glb, make_icosphere_glb, make_star_png
from tests.gltf_validator import assert_valid, validate

pytestmark = pytest.mark.slow


def triangles_of(path: str | Path) -> trimesh.Trimesh:
    """A GLB's triangles in world space, meshopt-compressed or not (the optimize stage's default output is)."""
    shape = glb.surface(glb.read(Path(path)))
    return trimesh.Trimesh(shape.vertices, shape.triangles, process=False)


def downloaded(job: dict, out: Path) -> dict:
    """The job's outputs by role, after checking each was saved whole under `out`."""
    assert job["status"] == "COMPLETED" and job["progress"] == 100, job
    assert job["outputs"], job
    for output in job["outputs"]:
        path = Path(output["path"])
        assert path.parent == out and path.stat().st_size == output["sizeBytes"] > 0, output
    return {o["role"]: o for o in job["outputs"]}


def test_motion_capture_of_a_moving_person(creator, mocap_run):
    _, _, out = creator
    job = mocap_run.ok().json
    outputs = downloaded(job, out / "mocap")
    assert outputs["bvh"]["kind"] == "ANIMATION" and outputs["preview"]["kind"] == "VIDEO"
    assert Path(outputs["bvh"]["path"]).read_text().startswith("HIERARCHY")
    assert job["creditsUsed"] == 7  # 5 + 2 for the started 10 s of video
    glb = pick_output(job, ("ANIMATION", "MODEL_3D"), ("glb",))
    assert Path(glb["path"]).read_bytes()[:4] == b"glTF"


def test_text_to_avatar(creator, avatar_run):
    _, _, out = creator
    job = avatar_run.ok().json
    downloaded(job, out / "avatar")
    glb = pick_output(job, ("MODEL_3D", "ANIMATION"), ("glb",))
    assert_valid(glb["path"])
    scene = trimesh.load(glb["path"])
    assert sum(len(g.faces) for g in scene.geometry.values()) > 500


def test_animate_the_captured_motion_onto_the_avatar(creator, mocap_run, avatar_run):
    user, project, out = creator
    assert mocap_run.code == 0 and avatar_run.code == 0, "ANIMATE needs the motion capture and avatar runs to succeed"
    motion = pick_output(mocap_run.json, ("ANIMATION",), ("bvh", "glb", "fbx"))
    avatar = pick_output(avatar_run.json, ("MODEL_3D", "ANIMATION"), ("glb", "fbx"))
    result = user.run_and_wait(
        "ANIMATE", project, out / "animate", "--input", avatar["assetId"], "--input", motion["assetId"]
    ).ok()
    job = result.json
    assert job["inputs"] == {"avatarAssetId": avatar["assetId"], "motionAssetId": motion["assetId"]}
    downloaded(job, out / "animate")
    glb = pick_output(job, ("ANIMATION",), ("glb",))
    report = assert_valid(glb["path"])
    assert report["info"]["animationCount"] >= 1


def test_a_photo_of_a_person_becomes_a_rigged_avatar_that_plays_the_captured_motion(creator, mocap_run, tmp_path):
    user, project, out = creator
    assert mocap_run.code == 0, "the avatar plays the motion capture run's BVH"
    photo = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    small = ("--param", "targetTriangles=8000", "--param", "textureSize=512")
    job = user.run_and_wait("PHOTO_TO_AVATAR", project, out / "photo", "--input", photo, *small).ok().json
    outputs = downloaded(job, out / "photo")
    assert {"glb", "posed", "fbx"} <= set(outputs), outputs
    for role in ("glb", "posed"):
        report = validate(outputs[role]["path"])
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]
    doc = glb.read(Path(outputs["glb"]["path"])).doc
    assert {doc["nodes"][j]["name"] for j in doc["skins"][0]["joints"]} == set(skeleton.names(hands=True))
    motion = pick_output(mocap_run.json, ("ANIMATION",), ("bvh",))
    animated = (
        user.run_and_wait(
            "ANIMATE",
            project,
            out / "photo-animate",
            "--input",
            outputs["glb"]["assetId"],
            "--input",
            motion["assetId"],
        )
        .ok()
        .json
    )
    downloaded(animated, out / "photo-animate")
    played = pick_output(animated, ("ANIMATION",), ("glb",))
    assert assert_valid(played["path"])["info"]["animationCount"] >= 1


def test_image_to_3d_of_an_image_with_alpha(cli, tmp_path):
    project = cli.project()
    asset = cli("upload", project, make_star_png(tmp_path)).ok().json
    assert (asset["status"], asset["kind"]) == ("READY", "IMAGE")
    job = (
        cli.run_and_wait(
            "IMAGE_TO_3D", project, tmp_path / "out", "--input", asset["id"], "--param", "foreground=alpha"
        )
        .ok()
        .json
    )
    downloaded(job, tmp_path / "out")
    models = [o for o in job["outputs"] if o["kind"] == "MODEL_3D" and o["format"] == "glb"]
    assert models
    for model in models:
        assert_valid(model["path"])
        mesh = triangles_of(model["path"])
        mesh.merge_vertices(merge_tex=True, merge_norm=True)  # a textured mesh repeats vertices along its UV seams
        assert len(mesh.faces) > 100 and mesh.is_watertight, model


def test_convert_a_box_to_obj(cli, tmp_path):
    project = cli.project()
    job = (
        cli.run_and_wait(
            "CONVERT", project, tmp_path / "out", "--input", make_box_glb(tmp_path), "--param", "format=obj"
        )
        .ok()
        .json
    )
    assert job["creditsUsed"] == 1
    outputs = downloaded(job, tmp_path / "out")
    obj = next(o for o in outputs.values() if o["format"] == "obj")
    mesh = trimesh.load(obj["path"], force="mesh")
    assert mesh.extents == pytest.approx([1, 1, 1], abs=1e-3) and len(mesh.faces) in (6, 12)


def test_optimize_an_icosphere_to_half_its_triangles(cli, tmp_path):
    project = cli.project()
    job = (
        cli.run_and_wait(
            "OPTIMIZE", project, tmp_path / "out", "--input", make_icosphere_glb(tmp_path), "--param", "ratio=0.5"
        )
        .ok()
        .json
    )
    assert job["params"] == {"ratio": 0.5}
    outputs = downloaded(job, tmp_path / "out")
    mesh = triangles_of(outputs["model"]["path"])
    assert 0.4 * 1280 <= len(mesh.faces) <= 0.6 * 1280
