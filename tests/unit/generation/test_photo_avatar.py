"""PHOTO_TO_AVATAR: a person's photo becomes a rigged avatar of them that lies on the photo in the photo's pose."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from container_workers.common import skeleton
from container_workers.common.stage import BadInputError
from container_workers.gpu_worker import render
from container_workers.gpu_worker.avatar.fit import Camera
from container_workers.gpu_worker.avatar.photo import people_in, photo_avatar
from container_workers.gpu_worker.image_to_3d.stage import load_image
from tests.gltf_validator import validate

from .conftest import PHOTO_SMALL, run
from .glb import Glb
from .test_avatar import joints_of
from .views import detail_correlation, view


def posed_silhouette(stage, shape: tuple[int, int]) -> np.ndarray:
    """posed.glb seen through the camera the stage reports (its metadata), as a mask of the photo's size."""
    glb = Glb(stage.output("posed"))
    camera = stage.result.metadata["photoCamera"]
    view = Camera(camera["pixelsPerMetre"], tuple(camera["originPixel"]))
    positions = glb.attribute("POSITION").astype(np.float64)
    return render.silhouette(view.pixels(positions) - 0.5, glb.triangles(), shape)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks."""
    return float((a & b).sum() / (a | b).sum())


def person_mask(path) -> np.ndarray:
    """The most prominent person's mask as MediaPipe segments the photo (what the stage fits)."""
    rgb, alpha = load_image(path)
    return people_in(rgb, alpha)[0].mask


@pytest.mark.parametrize("name", ["drawn", "astronaut", "hopper"])
def test_both_files_are_valid_rigged_glbs_on_the_shared_skeleton(photo_runs, name):
    stage = photo_runs[name]
    assert {(o.kind, o.role) for o in stage.result.outputs} == {
        ("MODEL_3D", "glb"),
        ("MODEL_3D", "posed"),
        ("IMAGE", "thumbnail"),
        ("IMAGE", "overlay"),
    }
    for role in ("glb", "posed"):
        report = validate(stage.output(role))
        assert (report["issues"]["numErrors"], report["issues"]["numWarnings"]) == (0, 0), report["issues"]["messages"][
            :5
        ]
        names, parents, _, _ = joints_of(Glb(stage.output(role)))
        assert names == list(skeleton.names(hands=True))
        assert parents == [skeleton.PARENTS[n] for n in names]
    meta = stage.result.metadata
    assert meta["skeleton"] == "mixamo" and meta["joints"] == len(skeleton.ALL_NAMES)
    assert meta["triangles"] <= PHOTO_SMALL["targetTriangles"]


def test_the_rest_pose_is_the_shared_t_pose_and_the_posed_file_is_the_photos_pose(photo_runs):
    stage = photo_runs["drawn"]
    _, _, _, rest = joints_of(Glb(stage.output("glb")))
    np.testing.assert_allclose(rest, np.tile([0, 0, 0, 1], (len(rest), 1)))
    _, _, _, posed = joints_of(Glb(stage.output("posed")))
    turned = {skeleton.ALL_NAMES[j] for j, q in enumerate(posed) if abs(q[3]) < np.cos(np.radians(20) / 2)}
    assert {"LeftArm", "RightArm"} <= turned  # the drawn person's arms hang: far from the T-pose
    skin = Glb(stage.output("glb"))
    weights, joints = skin.attribute("WEIGHTS_0"), skin.attribute("JOINTS_0")
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    used = {skeleton.ALL_NAMES[j] for j, w in zip(joints.ravel(), weights.ravel()) if w > 0.3}
    assert {"LeftHandIndex1", "RightHandThumb2", "LeftHandPinky3"} <= used  # fingers are skinned to their bones


@pytest.mark.parametrize("name", ["drawn", "hopper", "cameraman"])
def test_the_posed_silhouette_lies_on_the_person(photo_runs, drawn_person, hopper, cameraman, name):
    """Also for a person seen from the side and bent over (the cameraman): the girth fit reaches his coat's back."""
    stage = photo_runs[name]
    path = {"drawn": drawn_person[0], "hopper": hopper, "cameraman": cameraman}[name]
    mask = person_mask(path)
    seen = posed_silhouette(stage, mask.shape)
    assert iou(seen, mask) >= 0.85
    assert stage.result.metadata["silhouetteIoU"] == pytest.approx(iou(seen, mask), abs=0.01)
    if name == "drawn":
        assert iou(seen, drawn_person[1]) >= 0.85  # and against the true outline of the drawn figure


def test_a_held_object_is_not_body(photo_runs, astronaut):
    """The astronaut holds her helmet, which the segmentation counts as person: it is scored as a miss, yet the body
    alone (her suit's gaps between arms and torso closed) reaches the issue's 0.85."""
    stage = photo_runs["astronaut"]
    mask = person_mask(astronaut)
    score = iou(posed_silhouette(stage, mask.shape), mask)
    assert score >= 0.85 and stage.result.metadata["silhouetteIoU"] == pytest.approx(score, abs=0.01)


def test_the_torso_has_a_human_depth(photo_runs):
    for name, stage in photo_runs.items():
        positions = Glb(stage.output("glb")).attribute("POSITION").astype(np.float64)
        height = np.ptp(positions[:, 1])
        chest = positions[np.abs(positions[:, 1] - 0.72 * height) < 0.015 * height]
        chest = chest[np.abs(chest[:, 0]) < 0.12 * height]  # not the arms
        ratio = np.ptp(chest[:, 2]) / np.ptp(chest[:, 0])
        assert 0.5 <= ratio <= 0.95, (name, ratio)


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_the_back_is_painted_not_the_front_mirrored(photo_runs, name):
    stage = photo_runs[name]
    front, front_mask = view(stage.output("glb"), 0.0)
    back, back_mask = view(stage.output("glb"), 180.0)
    mirrored, both = front[:, ::-1], back_mask & front_mask[:, ::-1]
    assert detail_correlation(mirrored, mirrored, both) > 0.99  # the measure itself
    assert detail_correlation(back, mirrored, both) < 0.3


def test_colours_and_clothes_come_from_the_photo(photo_runs):
    attributes = photo_runs["drawn"].result.metadata["attributes"]
    garments = {g["slot"]: g for g in attributes["garments"]}
    assert garments["top"]["kind"] == "tshirt"
    green, blue, white = np.array(garments["top"]["rgb"]), np.array(garments["bottom"]["rgb"]), garments["feet"]["rgb"]
    assert green[1] > green[0] + 40 and green[1] > green[2] + 40
    assert blue[2] > blue[0] + 60 and min(white) > 180
    assert max(attributes["hair_rgb"]) < 70 and attributes["hair_style"] == "short"


def test_two_people_are_two_avatars_never_one(drawn_pair, tmp_path):
    path, truth = drawn_pair
    rgb, alpha = load_image(path)
    people = people_in(rgb, alpha)
    assert len(people) == 2
    assert not (people[0].mask & people[1].mask).any()
    lefts = sorted(people, key=lambda p: np.nonzero(p.mask)[1].mean())
    for person, true in zip(lefts, truth):
        assert iou(person.mask, true) >= 0.8
    runs = [run(photo_avatar, {"image": path}, {**PHOTO_SMALL, "person": k}, tmp_path / f"p{k}") for k in (0, 1)]
    kinds = {tuple(sorted(g["kind"] for g in r.result.metadata["attributes"]["garments"])) for r in runs}
    assert kinds == {("dress", "shoes"), ("shirt", "shoes", "trousers")}  # the dress is hers, the sweater his
    for r in runs:
        masks = [p.mask for p in people]
        seen = posed_silhouette(r, rgb.shape[:2])
        own = max(range(2), key=lambda k: iou(seen, masks[k]))
        assert iou(seen, masks[own]) >= 0.85 > iou(seen, masks[own] | masks[1 - own])
    with pytest.raises(BadInputError) as error:
        photo_avatar({"image": path}, {"person": 2}, tmp_path, lambda *_: None)
    assert error.value.code == "NO_PERSON"


def test_a_photo_without_a_person_is_a_clear_error(tmp_path):
    from skimage import data

    path = tmp_path / "coffee.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    with pytest.raises(BadInputError) as error:
        photo_avatar({"image": path}, {}, tmp_path, lambda *_: None)
    assert error.value.code == "NO_PERSON"
