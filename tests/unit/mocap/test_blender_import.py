"""Real Blender (bpy 5.0, in its own process) imports the stage's BVH with the same frames, bones and pose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker.exchange.bvh import parse_bvh
from container_workers.gpu_worker.mocap.solve import forward_kinematics, world_rotations

SCRIPT = Path(__file__).with_name("blender_bvh_import.py")


def test_blender_imports_the_bvh(walk_run):
    path = walk_run.workdir / "motion.bvh"
    frames = walk_run.result.metadata["frames"]
    checked = [1, frames // 2, frames]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(path), ",".join(map(str, checked))],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))[len("RESULT") :])
    assert seen["bones"] == list(skeleton.NAMES)
    assert seen["parents"] == [skeleton.PARENTS[n] for n in skeleton.NAMES]
    assert seen["frameRange"] == [1.0, float(frames)]
    assert seen["curves"] == 6 + 3 * (len(skeleton.NAMES) - 1) and seen["keys"] == [frames]
    # Blender's joints sit where our forward kinematics puts them (BVH Y-up -> Blender Z-up: x, -z, y).
    bvh = parse_bvh(path)
    pos = forward_kinematics(world_rotations(bvh.local_rotations()), bvh.root_positions(), bvh.offsets)
    for frame in checked:
        blender = np.array([seen["heads"][str(frame)][n] for n in skeleton.NAMES])
        ours = pos[frame - 1][:, [0, 2, 1]] * [1, -1, 1]
        np.testing.assert_allclose(blender, ours, atol=0.05)  # centimetres
