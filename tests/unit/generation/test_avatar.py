"""TEXT_TO_AVATAR: a valid rigged GLB on the shared skeleton, every vertex weighted, byte-identical per prompt and seed."""

from __future__ import annotations

import numpy as np
import pytest

from container_workers.common import skeleton
from container_workers.common.stage import BadInputError
from container_workers.gpu_worker.avatar.stage import avatar
from container_workers.gpu_worker.exchange.gltf import Skeleton
from tests.gltf_validator import assert_valid

from .conftest import EXAMPLE_PROMPT, SMALL, run
from .glb import Glb


def joints_of(glb: Glb) -> tuple[list[str], list[str | None], np.ndarray, np.ndarray]:
    """The skin's joint names, their parents' names, local translations and rotations (x, y, z, w)."""
    nodes = glb.doc["nodes"]
    joints = glb.doc["skins"][0]["joints"]
    parent = {child: i for i, node in enumerate(nodes) for child in node.get("children", [])}
    names = [nodes[j]["name"] for j in joints]
    parents = [nodes[parent[j]]["name"] if j in parent else None for j in joints]
    translations = np.array([nodes[j]["translation"] for j in joints])
    rotations = np.array([nodes[j].get("rotation", [0, 0, 0, 1]) for j in joints])
    return names, parents, translations, rotations


def test_the_skeleton_is_the_shared_one_bone_for_bone(avatar_run):
    glb = Glb(avatar_run.output("glb"))
    names, parents, translations, rotations = joints_of(glb)
    assert names == list(skeleton.ALL_NAMES)  # the body, then the finger bones
    assert parents == [skeleton.PARENTS[n] for n in skeleton.ALL_NAMES]
    reference = skeleton.offsets(hands=True)
    for name, ours, theirs in zip(names, translations, reference):
        cosine = ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs))
        assert cosine > 1 - 1e-6, name  # same direction: proportions may scale, the rest pose may not change
    np.testing.assert_allclose(rotations, np.tile([0, 0, 0, 1], (len(names), 1)))  # T-pose rest, identity rotations
    height = glb.attribute("POSITION")[:, 1].max()
    assert height == pytest.approx(avatar_run.result.metadata["attributes"]["height"], abs=0.06)


def test_inverse_bind_matrices_are_the_node_pose(a_pose_run):
    glb = Glb(a_pose_run.output("glb"))
    names, _, translations, rotations = joints_of(glb)
    rotated = {n for n, r in zip(names, rotations) if not np.allclose(r, [0, 0, 0, 1])}
    assert rotated == {
        "LeftArm",
        "RightArm",
    }  # the A-pose turns the upper arms down; identity rotations give the T-pose
    bind = Skeleton(
        names, [names.index(p) if p else -1 for p in (skeleton.PARENTS[n] for n in names)], translations, rotations
    )
    ibm = glb.accessor(glb.doc["skins"][0]["inverseBindMatrices"]).reshape(-1, 4, 4).transpose(0, 2, 1)
    np.testing.assert_allclose(ibm @ bind.world_matrices(), np.tile(np.eye(4), (len(names), 1, 1)), atol=1e-5)
    hands = glb.attribute("POSITION")
    assert (
        hands[:, 0].max() < 0.8 * a_pose_run.result.metadata["heightMetres"] / 2
    )  # arms down, not spread (T-pose: about 1)


@pytest.mark.parametrize("fixture", ["avatar_run", "a_pose_run"])
def test_every_vertex_is_weighted(fixture, request):
    stage = request.getfixturevalue(fixture)
    glb = Glb(stage.output("glb"))
    joints, weights = glb.attribute("JOINTS_0"), glb.attribute("WEIGHTS_0")
    assert len(joints) == len(glb.attribute("POSITION"))
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert (weights.max(axis=1) > 0).all() and (weights >= 0).all()
    assert joints.max() < len(skeleton.ALL_NAMES)
    used = {int(j) for j, w in zip(joints.ravel(), weights.ravel()) if w > 0.2}
    assert used >= {
        skeleton.INDEX[n]
        for n in ("Hips", "Head", "LeftHand", "RightFoot", "LeftForeArm", "Spine2", "LeftHandIndex2", "RightHandThumb3")
    }
    assert_valid(stage.output("glb"))


def test_metadata_outputs_and_texture(avatar_run):
    meta = avatar_run.result.metadata
    assert {(o.kind, o.role) for o in avatar_run.result.outputs} == {("MODEL_3D", "glb"), ("IMAGE", "thumbnail")}
    assert meta["attributes"]["garments"][0]["kind"] in ("shirt", "tshirt", "sweater")  # a top drawn from the seed
    assert {g["slot"]: g["colour"] for g in meta["attributes"]["garments"]}["outer"] == "blue"
    assert meta["triangles"] <= SMALL["targetTriangles"] and meta["joints"] == len(skeleton.ALL_NAMES)
    glb = Glb(avatar_run.output("glb"))
    assert glb.doc["skins"][0]["skeleton"] == glb.doc["skins"][0]["joints"][0]
    assert "baseColorTexture" in glb.doc["materials"][0]["pbrMetallicRoughness"]
    uv = glb.attribute("TEXCOORD_0")
    assert uv.min() >= 0 and uv.max() <= 1


def test_same_prompt_and_seed_give_identical_bytes(avatar_run, tmp_path):
    again = run(avatar, {}, {"prompt": EXAMPLE_PROMPT, "seed": 7, **SMALL}, tmp_path / "again")
    assert again.output("glb").read_bytes() == avatar_run.output("glb").read_bytes()
    assert again.output("thumbnail").read_bytes() == avatar_run.output("thumbnail").read_bytes()
    other = run(avatar, {}, {"prompt": EXAMPLE_PROMPT, "seed": 8, **SMALL}, tmp_path / "other")
    assert other.output("glb").read_bytes() != avatar_run.output("glb").read_bytes()


def test_bad_params_are_bad_inputs(tmp_path):
    for params in (
        {},
        {"prompt": "   "},
        {"prompt": "x" * 501},
        {"prompt": "a man", "pose": "Y"},
        {"prompt": "a man", "seed": -1},
        {"prompt": "a man", "targetTriangles": 10},
        {"prompt": "a man", "textureSize": 300},
    ):
        with pytest.raises(BadInputError) as error:
            avatar({}, params, tmp_path, lambda *_: None)
        assert error.value.code == "INVALID_PARAMS", params


def test_hands_eyes_and_soles_are_geometry(avatar_run):
    from container_workers.gpu_worker.avatar.humanoid import Humanoid
    from container_workers.gpu_worker.avatar.prompt import parse

    glb = Glb(avatar_run.output("glb"))
    positions = glb.attribute("POSITION").astype(np.float64)
    humanoid = Humanoid(parse(EXAMPLE_PROMPT, 7), "T")
    names = np.array([s.name for s in humanoid.shapes])[humanoid.fields(positions).nearest]
    for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky"):
        for k in (1, 2, 3):
            assert (names == f"LeftHand{finger}{k}").sum() >= 3 and (names == f"RightHand{finger}{k}").sum() >= 3
    eyes = positions[names == "eyeball"]
    assert (eyes[:, 0] > 0).sum() >= 5 and (eyes[:, 0] < 0).sum() >= 5  # both eyeballs show in their sockets
    ground = positions[positions[:, 1] < 0.004]
    assert len(ground) >= 20 and np.ptp(ground[:, 2]) > 0.15  # flat soles, heel to toe


def test_material_edges_are_anti_aliased():
    from container_workers.gpu_worker.avatar.uv_atlas import bake

    uv = np.array([[0.05, 0.05], [0.95, 0.05], [0.95, 0.95], [0.05, 0.95]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    positions = np.array([[0.0, 0, 0], [1.0, 0, 0], [1.0, 1, 0], [0.0, 1, 0]])

    def colour(attributes):  # white right of a slanted line, black left of it
        return np.repeat((attributes[:, 0] + 0.3 * attributes[:, 1] > 0.62)[:, None], 3, axis=1).astype(float)

    plain = bake(64, uv, faces, positions, colour)
    smooth = bake(64, uv, faces, positions, colour, refine=lambda attributes: attributes)
    assert set(np.unique(plain[8:56, 8:56])) <= {0, 255}  # a stair-stepped edge
    between = (smooth[8:56, 8:56, 0] > 20) & (smooth[8:56, 8:56, 0] < 235)
    assert between.sum() >= 25  # the edge texels are blends (about one per row along the line)
