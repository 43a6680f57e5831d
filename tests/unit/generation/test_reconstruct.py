"""IMAGE_TO_3D: a watertight inflated mesh whose front silhouette matches the input's foreground, in a valid GLB."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import trimesh

from container_workers.common.stage import BadInputError
from container_workers.gpu_worker import render
from container_workers.gpu_worker.image_to_3d.foreground import person_foreground
from container_workers.gpu_worker.image_to_3d.stage import reconstruct
from tests.gltf_validator import assert_valid

from .conftest import SHAPES, rgba_png, run
from .glb import Glb


def welded(path) -> trimesh.Trimesh:
    """The GLB's mesh with vertices merged by position (the UV seam along the outline splits them)."""
    glb = Glb(path)
    mesh = trimesh.Trimesh(glb.attribute("POSITION"), glb.triangles(), process=False)
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    return mesh


def front_silhouette_iou(path, mask: np.ndarray) -> float:
    """IoU of the mesh seen from the front (orthographic, fitted to the mask's bounding box) with the mask."""
    glb = Glb(path)
    vertices, faces = glb.attribute("POSITION").astype(np.float64), glb.triangles()
    ys, xs = np.nonzero(mask)
    lo, hi = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
    left, right, top, bottom = xs.min() - 0.5, xs.max() + 0.5, ys.min() - 0.5, ys.max() + 0.5
    pixels = np.empty((len(vertices), 2))
    pixels[:, 0] = left + (vertices[:, 0] - lo[0]) / (hi[0] - lo[0]) * (right - left)
    pixels[:, 1] = bottom - (vertices[:, 1] - lo[1]) / (hi[1] - lo[1]) * (bottom - top)
    seen = render.silhouette(pixels, faces, mask.shape)
    return float((seen & mask).sum() / (seen | mask).sum())


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_drawn_shapes_inflate_to_watertight_meshes_with_their_silhouette(shape_runs, name):
    mask, stage = shape_runs[name]
    meta = stage.result.metadata
    assert meta["foreground"] == "alpha" and meta["watertight"] is True
    mesh = welded(stage.output("glb"))
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert front_silhouette_iou(stage.output("glb"), mask) >= 0.9


def test_astronaut_takes_the_person_path_and_keeps_its_silhouette(astronaut_run):
    from skimage import data

    rgb = data.astronaut()
    meta = astronaut_run.result.metadata
    assert meta["foreground"] == "person"
    assert welded(astronaut_run.output("glb")).is_watertight
    person = person_foreground(rgb)
    assert person is not None and person.face is not None
    fx, fy, fw, fh = person.face
    assert person.mask[fy + fh // 2, fx + fw // 2]  # the face is in the foreground
    assert not person.mask[:40, :40].any()  # the flag in the top-left corner is not
    assert 0.3 < meta["foregroundCoverage"] < 0.8
    assert front_silhouette_iou(astronaut_run.output("glb"), person.mask) >= 0.9


def test_outputs_are_a_valid_textured_glb_and_a_thumbnail(astronaut_run):
    roles = {(o.kind, o.role) for o in astronaut_run.result.outputs}
    assert roles == {("MODEL_3D", "glb"), ("IMAGE", "thumbnail")}
    assert_valid(astronaut_run.output("glb"))
    glb = Glb(astronaut_run.output("glb"))
    material = glb.doc["materials"][0]["pbrMetallicRoughness"]
    assert material["metallicFactor"] == 0.0 and "baseColorTexture" in material
    texture = cv2.imdecode(np.frombuffer(glb.image(), np.uint8), cv2.IMREAD_COLOR)
    assert texture.shape == (1024, 1024, 3)
    assert {"NORMAL", "TEXCOORD_0"} <= set(glb.primitive()["attributes"])
    thumbnail = cv2.imread(str(astronaut_run.output("thumbnail")), cv2.IMREAD_UNCHANGED)
    assert thumbnail.shape == (512, 512, 4) and 0.1 < (thumbnail[..., 3] > 0).mean() < 0.9
    assert astronaut_run.progress[-1][0] == 100
    assert all(a[0] <= b[0] for a, b in zip(astronaut_run.progress, astronaut_run.progress[1:]))


def test_params_set_the_budget_and_the_texture(media, tmp_path):
    image = rgba_png(SHAPES["star"](), media / "star-small.png")
    stage = run(reconstruct, {"image": image}, {"targetTriangles": 3000, "textureSize": 256, "detail": 0.0}, tmp_path)
    meta = stage.result.metadata
    assert 2000 <= meta["triangles"] <= 3000 and meta["textureSize"] == 256 and meta["detail"] == 0.0
    glb = Glb(stage.output("glb"))
    assert cv2.imdecode(np.frombuffer(glb.image(), np.uint8), cv2.IMREAD_COLOR).shape == (256, 256, 3)


def test_grabcut_finds_an_object_on_a_plain_background(media, tmp_path):
    image = np.full((300, 400, 3), 225, np.uint8)
    cv2.ellipse(image, (200, 150), (90, 60), 20, 0, 360, (30, 90, 200), -1)
    cv2.imwrite(str(media / "ellipse.jpg"), image)
    stage = run(reconstruct, {"image": media / "ellipse.jpg"}, {"foreground": "auto"}, tmp_path)
    assert stage.result.metadata["foreground"] == "grabcut"
    expected = np.zeros((300, 400), np.uint8)
    cv2.ellipse(expected, (200, 150), (90, 60), 20, 0, 360, 1, -1)
    assert front_silhouette_iou(stage.output("glb"), expected > 0) >= 0.9


def test_no_foreground_is_a_bad_input(media, tmp_path):
    cv2.imwrite(str(media / "blank.png"), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(BadInputError) as error:
        reconstruct({"image": media / "blank.png"}, {}, tmp_path, lambda *_: None)
    assert error.value.code == "NO_FOREGROUND"
    empty = np.zeros((100, 100, 4), np.uint8)
    cv2.imwrite(str(media / "transparent.png"), empty)
    with pytest.raises(BadInputError) as error:
        reconstruct({"image": media / "transparent.png"}, {"foreground": "alpha"}, tmp_path, lambda *_: None)
    assert error.value.code == "NO_FOREGROUND"


def test_unreadable_images_and_bad_params_are_bad_inputs(media, tmp_path):
    (media / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    cases = [
        ({"image": media / "broken.png"}, {}, "UNREADABLE_IMAGE"),
        ({"image": media / "missing.png"}, {}, "UNREADABLE_IMAGE"),
        ({}, {}, "MISSING_INPUT"),
        ({"image": media / "broken.png"}, {"detail": 2}, "INVALID_PARAMS"),
        ({"image": media / "broken.png"}, {"foreground": "magic"}, "INVALID_PARAMS"),
        ({"image": media / "broken.png"}, {"textureSize": 1000}, "INVALID_PARAMS"),
        ({"image": media / "broken.png"}, {"targetTriangles": "many"}, "INVALID_PARAMS"),
    ]
    for inputs, params, code in cases:
        with pytest.raises(BadInputError) as error:
            reconstruct(inputs, params, tmp_path, lambda *_: None)
        assert error.value.code == code, (inputs, params)
