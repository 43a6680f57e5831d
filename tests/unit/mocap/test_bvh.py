"""BVH writing and parsing: the shared skeleton round-trips exactly."""

from __future__ import annotations

import numpy as np
import synthetic

from container_workers.common import skeleton
from container_workers.gpu_worker.exchange.bvh import parse_bvh, write_bvh


def test_round_trip_keeps_hierarchy_rotations_and_root(tmp_path):
    R = synthetic.random_pose_locals(30, seed=12)
    root = np.random.default_rng(1).normal(0, 1, (30, 3))
    path = tmp_path / "m.bvh"
    write_bvh(path, R, root, fps=24.0)
    bvh = parse_bvh(path)
    assert bvh.names == list(skeleton.NAMES)
    assert [bvh.names[p] if p >= 0 else None for p in bvh.parents] == [skeleton.PARENTS[n] for n in skeleton.NAMES]
    scale = skeleton.BVH_UNITS_PER_METRE
    np.testing.assert_allclose(bvh.offsets[1:], skeleton.offsets(scale)[1:])
    np.testing.assert_allclose(bvh.offsets[0], skeleton.rest_positions(scale)[0])
    assert set(bvh.end_sites) == set(skeleton.END_SITES)
    assert bvh.frames == 30 and abs(bvh.frame_time - 1 / 24) < 1e-8
    np.testing.assert_allclose(bvh.local_rotations(), R, atol=1e-6)
    np.testing.assert_allclose(bvh.root_positions() / scale, root, atol=1e-6)


def test_parser_reads_other_channel_orders(tmp_path):
    path = tmp_path / "other.bvh"
    path.write_text(
        "HIERARCHY\nROOT root\n{\n OFFSET 1 2 3\n CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation\n"
        " JOINT arm\n {\n  OFFSET 0 5 0\n  CHANNELS 3 Yrotation Xrotation Zrotation\n  End Site\n  {\n   OFFSET 0 1 0\n  }\n }\n}\n"
        "MOTION\nFrames: 1\nFrame Time: 0.04\n7 8 9 90 0 0 0 90 0\n"
    )
    bvh = parse_bvh(path)
    np.testing.assert_allclose(bvh.root_positions(), [[7, 8, 9]])
    rot = bvh.local_rotations()[0]
    np.testing.assert_allclose(rot[0] @ [0, 1, 0], [0, 0, 1], atol=1e-12)  # 90 degrees about X
    np.testing.assert_allclose(rot[1] @ [0, 1, 0], [0, 0, 1], atol=1e-12)  # "Y X Z" = 0 90 0: 90 degrees about X
    assert bvh.end_sites["arm"].tolist() == [0, 1, 0]


def test_round_trip_with_finger_bones(tmp_path):
    body = synthetic.random_pose_locals(10, seed=3)
    fingers = synthetic.random_pose_locals(10, seed=4)[:, :2].repeat(15, axis=1)
    R = np.concatenate([body, fingers], axis=1)
    path = tmp_path / "hands.bvh"
    write_bvh(path, R, np.zeros((10, 3)), fps=30.0)
    bvh = parse_bvh(path)
    assert set(bvh.names) == set(skeleton.names(hands=True))
    assert bvh.names.index("LeftHandThumb1") == bvh.names.index("LeftHand") + 1  # depth-first file order
    order = [skeleton.INDEX[n] for n in bvh.names]
    np.testing.assert_allclose(bvh.local_rotations(), R[:, order], atol=1e-6)
    scale = skeleton.BVH_UNITS_PER_METRE
    np.testing.assert_allclose(bvh.offsets[1:], skeleton.offsets(scale, hands=True)[order][1:])
    assert set(bvh.end_sites) == set(skeleton.end_sites(hands=True))
    assert "LeftHand" not in bvh.end_sites and "RightHandPinky3" in bvh.end_sites


def test_finger_bones_extend_the_body_without_moving_it():
    assert skeleton.names(hands=False) == skeleton.NAMES
    assert skeleton.names(hands=True)[: len(skeleton.NAMES)] == skeleton.NAMES
    assert len(skeleton.HAND_NAMES) == 2 * 5 * 3
    rest = skeleton.rest_positions(hands=True)
    np.testing.assert_allclose(rest[: len(skeleton.NAMES)], skeleton.rest_positions())
    for side, sign in (("Left", 1), ("Right", -1)):
        hand = rest[skeleton.INDEX[f"{side}Hand"]]
        for finger in skeleton.FINGERS:
            tips = [rest[skeleton.INDEX[f"{side}Hand{finger}{k}"]] for k in (1, 2, 3)]
            assert all(sign * (t[0] - hand[0]) > 0 for t in tips)  # fingers point away from the body
        assert rest[skeleton.INDEX[f"{side}HandThumb1"], 2] > rest[skeleton.INDEX[f"{side}HandPinky1"], 2]
