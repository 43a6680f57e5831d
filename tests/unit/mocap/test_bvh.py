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
