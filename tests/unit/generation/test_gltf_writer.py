"""The GLB writer: skinned, textured, animated files pass the Khronos validator and read back as written."""

from __future__ import annotations

import cv2
import numpy as np
import trimesh

from container_workers.gpu_worker.exchange import gltf as gw
from tests.gltf_validator import assert_valid

from .glb import Glb


def test_an_animated_skinned_textured_box_round_trips(tmp_path):
    box = trimesh.creation.box(extents=(0.2, 1.0, 0.2))
    box.vertices[:, 1] += 0.5
    upper = box.vertices[:, 1] > 0.5
    joints = np.zeros((len(box.vertices), 4), np.uint8)
    joints[:, 1] = 1
    weights = np.zeros((len(box.vertices), 4))
    weights[:, 0], weights[:, 1] = np.where(upper, 0.3, 0.9), np.where(upper, 0.7, 0.1)
    png = cv2.imencode(".png", np.full((4, 4, 3), 90, np.uint8))[1].tobytes()
    bones = gw.Skeleton(
        ["Root", "Tip"],
        [-1, 0],
        np.array([[0, 0, 0], [0, 0.5, 0]]),
        np.array([[0, 0, 0, 1], gw.quat_from_axis_angle((0, 0, 1), 0.2)]),
    )
    bend = gw.Animation(
        "bend",
        [
            gw.Channel(
                1,
                "rotation",
                np.array([0.0, 0.5, 1.0]),
                np.array([gw.quat_from_axis_angle((1, 0, 0), a) for a in (0.0, 0.6, 0.0)]),
            ),
            gw.Channel(0, "translation", np.array([0.0, 1.0]), np.array([[0, 0, 0], [0, 0.1, 0]])),
        ],
    )
    mesh = gw.Mesh(
        "box",
        box.vertices,
        box.faces,
        box.vertex_normals,
        box.vertices[:, [0, 1]] % 1.0,
        joints,
        weights,
        gw.Material("m", texture_png=png),
    )
    path = gw.write_glb(tmp_path / "box.glb", [mesh], bones, [bend], extras={"source": "test"})
    report = assert_valid(path)
    assert report["issues"]["numWarnings"] == 0 and report["info"]["animationCount"] == 1
    glb = Glb(path)
    np.testing.assert_allclose(glb.attribute("POSITION"), box.vertices, atol=1e-6)
    np.testing.assert_array_equal(glb.triangles(), box.faces)
    assert np.abs(glb.attribute("WEIGHTS_0").sum(axis=1, dtype=np.float32) - 1.0).max() <= 2e-7 * 4
    assert glb.doc["asset"]["extras"] == {"source": "test"} and glb.doc["animations"][0]["name"] == "bend"
    assert glb.image() == png


def test_weights_sum_to_one_within_the_gltf_tolerance():
    rng = np.random.default_rng(0)
    weights = gw.normalized_weights(rng.random((1000, 4)) ** 3)
    assert weights.dtype == np.float32
    assert np.abs(weights.sum(axis=1, dtype=np.float32) - 1.0).max() <= 2e-7 * 4  # the spec's linear tolerance
