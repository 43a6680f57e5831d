"""IMAGE_TO_3D for objects: solids (box, lathe, or thick inflation) with their own colours on the back; several
subjects are never fused into one mesh."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh

from container_workers.gpu_worker.image_to_3d.foreground import find_subjects
from container_workers.gpu_worker.image_to_3d.stage import load_image, reconstruct
from tests.gltf_validator import validate

from .conftest import SHAPES, rgba_png, run
from .drawn import box_photo, pebble_photo, save, vase_photo
from .glb import Glb
from .views import against_photo

SMALL = {"targetTriangles": 8000, "textureSize": 512}


def shipped(name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A photo a package ships: scikit-image's coffee cup, matplotlib's gift box (a PNG with alpha)."""
    if name == "coffee":
        from skimage import data

        return data.coffee(), None
    import matplotlib.cbook

    return load_image(Path(matplotlib.cbook.get_sample_data("Minduka_Present_Blue_Pack.png", asfileobj=False)))


@pytest.fixture(scope="module")
def objects(media, tmp_path_factory) -> dict[str, tuple[np.ndarray, np.ndarray, object]]:
    """reconstruct on drawn and shipped object photos: {name: (photo, subject mask, run)}."""
    out = {}
    for name, make in (("vase", vase_photo), ("box", box_photo), ("pebble", pebble_photo)):
        rgb, _ = make()
        path = save(media / f"{name}.png", rgb)
        out[name] = (rgb, path)
    for name in ("coffee", "present"):
        rgb, alpha = shipped(name)
        out[name] = (rgb, save(media / f"{name}.png", rgb, alpha))
    runs = {}
    for name, (rgb, path) in out.items():
        stage = run(reconstruct, {"image": path}, SMALL, tmp_path_factory.mktemp(f"object-{name}"))
        rgb, alpha = load_image(path)
        runs[name] = (rgb, find_subjects(rgb, alpha, "auto")[0].mask, stage)
    return runs


def welded(path, mesh: int = 0) -> trimesh.Trimesh:
    """A mesh of the GLB with vertices merged by position (UV seams split them)."""
    glb = Glb(path)
    out = trimesh.Trimesh(glb.attribute("POSITION", mesh), glb.triangles(mesh), process=False)
    out.merge_vertices(merge_tex=True, merge_norm=True)
    return out


@pytest.mark.parametrize(
    "name, shape",
    [("vase", "lathe"), ("box", "box"), ("pebble", "inflate"), ("coffee", "inflate"), ("present", "inflate")],
)
def test_objects_become_watertight_solids_of_their_kind(objects, name, shape):
    _, _, stage = objects[name]
    meta = stage.result.metadata
    assert meta["shapes"] == [shape] and meta["watertight"] is True
    solid = welded(stage.output("glb"))
    assert solid.is_watertight and solid.is_winding_consistent and solid.volume > 0
    extent = np.ptp(solid.vertices, axis=0)
    assert extent[2] / extent[0] >= 0.5, extent  # a solid, not a relief
    assert meta["depthToWidth"] == pytest.approx(extent[2] / extent[0], abs=0.01)
    report = validate(stage.output("glb"))
    assert (report["issues"]["numErrors"], report["issues"]["numWarnings"]) == (0, 0)


@pytest.mark.parametrize("name", ["vase", "box", "pebble", "coffee", "present"])
def test_the_back_is_the_objects_colours_not_the_front_mirrored(objects, name):
    rgb, mask, stage = objects[name]
    assert against_photo(stage.output("glb"), rgb, mask, 0.0) > 0.5  # the front is the photo: the measure sees it
    assert against_photo(stage.output("glb"), rgb, mask, 180.0) < 0.3


def test_a_lathe_keeps_the_silhouette_and_is_round(objects):
    _, _, stage = objects["vase"]
    solid = welded(stage.output("glb"))
    middle = solid.vertices[np.abs(solid.vertices[:, 1] - np.median(solid.vertices[:, 1])) < 0.01]
    radius = np.hypot(middle[:, 0] - np.mean(middle[:, 0]), middle[:, 2])
    assert radius.std() < 0.03 * radius.mean()  # every row is a circle


def test_a_star_is_not_taken_for_a_lathe(media, tmp_path):
    image = rgba_png(SHAPES["star"](), media / "star-solid.png")
    assert run(reconstruct, {"image": image}, SMALL, tmp_path).result.metadata["shapes"] == ["inflate"]


def test_the_shape_param_forces_a_prior(objects, tmp_path):
    rgb, _, _ = objects["vase"]
    path = save(tmp_path / "vase.png", rgb)
    stage = run(reconstruct, {"image": path}, {**SMALL, "shape": "inflate"}, tmp_path / "forced")
    assert stage.result.metadata["shapes"] == ["inflate"]


def test_two_people_are_never_one_mesh(drawn_pair, tmp_path):
    path, truth = drawn_pair
    both = run(reconstruct, {"image": path}, {**SMALL, "subjects": "all"}, tmp_path / "all")
    meta = both.result.metadata
    assert meta["subjectsFound"] == 2 and meta["meshes"] == 2 and meta["watertight"]
    glb = Glb(both.output("glb"))
    assert len(glb.doc["meshes"]) == 2 and {m["name"] for m in glb.doc["meshes"]} == {"subject0", "subject1"}
    centres = sorted(float(np.mean(glb.attribute("POSITION", m)[:, 0])) for m in range(2))
    assert centres[1] - centres[0] > 0.2  # side by side, as in the photo
    main = run(reconstruct, {"image": path}, {**SMALL, "subjects": "main"}, tmp_path / "main")
    assert main.result.metadata["meshes"] == 1
    rgb, alpha = load_image(path)
    person = find_subjects(rgb, alpha, "auto")[0].mask
    owner = max(range(2), key=lambda k: (person & truth[k]).sum())
    assert (person & truth[owner]).sum() / person.sum() > 0.9  # the main subject is one person, not both
    assert (person & truth[1 - owner]).sum() / truth[1 - owner].sum() < 0.1
    width = np.ptp(Glb(main.output("glb")).attribute("POSITION")[:, 0])
    assert width < 0.8 * np.ptp(np.concatenate([glb.attribute("POSITION", m)[:, 0] for m in range(2)]))


def test_separate_objects_are_separate_subjects(tmp_path):
    image = np.full((300, 500, 3), 235, np.uint8)
    cv2.circle(image, (140, 150), 80, (200, 60, 40), -1)
    cv2.rectangle(image, (300, 60), (420, 240), (40, 90, 200), -1)
    path = save(tmp_path / "two.png", image)
    stage = run(reconstruct, {"image": path}, {**SMALL, "subjects": "all"}, tmp_path / "two")
    meta = stage.result.metadata
    assert meta["meshes"] == 2 and sorted(meta["shapes"]) == ["box", "lathe"] and meta["watertight"]
