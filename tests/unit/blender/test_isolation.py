"""Two different tasks in a row in one process give the same results as each alone: no state leaks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.blender import builders

ROOT = Path(__file__).resolve().parents[3]

RUNNER = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path
    import bpy
    import numpy as np
    from PIL import Image
    from container_workers.blender_worker import scene
    from container_workers.blender_worker.convert import convert
    from container_workers.blender_worker.export import export
    from container_workers.blender_worker.optimize import optimize

    work, bvh, sphere, hostile = (Path(a) for a in sys.argv[1:5])
    tasks = {
        "export": lambda d: export({"model": bvh}, {}, d, lambda p, m: None),
        "optimize": lambda d: optimize({"model": sphere}, {"ratio": 0.5, "lods": [0.5]}, d, lambda p, m: None),
        "hostile": lambda d: convert({"model": hostile}, {"format": "glb"}, d, lambda p, m: None),
    }

    def digest(path):
        if path.suffix == ".png":  # PNG text chunks carry dates; compare pixels
            return hashlib.sha256(np.asarray(Image.open(path)).tobytes()).hexdigest()
        if path.suffix == ".glb":
            return hashlib.sha256(path.read_bytes()).hexdigest()
        return path.suffix  # FBX and .blend embed timestamps

    def datablocks():
        colls = {a: getattr(bpy.data, a) for a in dir(bpy.data) if not a.startswith("_")}
        return {a: sorted(x.name for x in c) for a, c in colls.items() if isinstance(c, bpy.types.bpy_prop_collection)}

    results = {}
    for i, name in enumerate(sys.argv[5:]):
        try:
            with scene.task(seconds=120, memory_mb=8192):
                r = tasks[name](work / f"{i}-{name}")
                names = datablocks()
            meta = {k: v for k, v in r.metadata.items() if k != "seconds"}
            if isinstance(meta.get("bytes"), dict):  # FBX and .blend sizes vary run to run (timestamps, pointers)
                meta["bytes"] = {k: v for k, v in meta["bytes"].items() if k in ("glb", "thumbnail")}
            outputs = [[o.role, o.kind, digest(o.path)] for o in r.outputs]
            results[f"{i}-{name}"] = {"outputs": outputs, "metadata": meta, "datablocks": names}
        except Exception as exc:
            results[f"{i}-{name}"] = {"error": getattr(exc, "code", repr(exc))}
    print(json.dumps(results))
    """
)


def run(tmp_path: Path, inputs: list[Path], *tasks: str) -> list[dict]:
    """Run the named tasks in a row in one fresh Python process; return each one's outputs and metadata."""
    work = tmp_path / "-".join(tasks)
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(work), *map(str, inputs), *tasks],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    return [results[k] for k in sorted(results)]


def test_tasks_in_a_row_match_tasks_alone(bvh_file, static_sources, tmp_path):
    import bpy

    from container_workers.blender_worker import scene

    scene.reset()
    builders.textured_sphere()
    bpy.data.texts.new("evil.py").use_module = True
    hostile = tmp_path / "hostile.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(hostile), copy=True)
    scene.reset()
    inputs = [bvh_file, static_sources["glb"][0], hostile]
    (export_alone,) = run(tmp_path, inputs, "export")
    (optimize_alone,) = run(tmp_path, inputs, "optimize")
    in_a_row = run(tmp_path, inputs, "hostile", "optimize", "export", "optimize")
    assert in_a_row[0] == {"error": "BLEND_HAS_SCRIPTS"}
    assert in_a_row[1] == optimize_alone == in_a_row[3]
    assert in_a_row[2] == export_alone
    assert export_alone["metadata"]["frames"] == builders.FRAMES
