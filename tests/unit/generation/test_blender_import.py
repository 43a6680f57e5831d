"""Real Blender (bpy 5.0, in its own process) imports the avatar GLB with its bones, vertex groups and texture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from container_workers.common import skeleton

SCRIPT = Path(__file__).with_name("blender_gltf_import.py")


def test_blender_imports_the_rigged_avatar(a_pose_run):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(a_pose_run.output("glb"))],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))[len("RESULT") :])
    assert sorted(seen["bones"]) == sorted(skeleton.ALL_NAMES)
    assert dict(zip(seen["bones"], seen["parents"])) == dict(skeleton.PARENTS)
    assert set(seen["groups"]) == set(skeleton.ALL_NAMES)
    assert all(
        seen["groups"][n] > 0 for n in ("Hips", "Spine2", "Head", "LeftHand", "RightHand", "LeftFoot", "RightToeBase")
    )
    assert seen["unweighted"] == 0 and seen["vertices"] > 1000
    assert seen["modifiers"] == ["ARMATURE"] and seen["images"] == 1
