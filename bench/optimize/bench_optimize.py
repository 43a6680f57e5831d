"""Benchmark of the Blender `optimize` stage against fast-simplification on the same 1M-triangle mesh, same run.

Both decimate the same wavy height field to each budget; time is wall time of the decimation itself (plus, for
Blender, the whole stage once: import, clean-up, decimation, GLB export, error measurement). Geometric error is the
same measure for both (geometry.surface_error: symmetric Hausdorff and mean surface distance over the bounding-box
diagonal, 100k area-weighted samples + vertices per side, fixed seed).

Run from the repo root: .venv/bin/python bench/optimize/bench_optimize.py [--grid 709] [--targets 100000 10000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import fast_simplification

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from container_workers.blender_worker import formats, geometry, optimize, scene  # noqa: E402
from tests.unit.blender.builders import wavy_grid  # noqa: E402


def blender_decimation(glb: Path, work: Path, target: int) -> dict:
    """Load the mesh in Blender, then time Decimate (collapse) to `target` triangles."""
    scene.reset()
    formats.load_upload(glb, work)
    original = geometry.world_triangles()
    started = time.perf_counter()
    optimize.decimate_to(target)
    seconds = time.perf_counter() - started
    result = geometry.world_triangles()
    return {"seconds": seconds, "triangles": len(result[1]), "error": geometry.surface_error(original, result)}


def fast_simplification_run(vertices, faces, target: int) -> dict:
    """Time fast-simplification (quadric decimation) to `target` triangles."""
    started = time.perf_counter()
    points, tris = fast_simplification.simplify(vertices, faces, target_reduction=1 - target / len(faces))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "triangles": len(tris),
        "error": geometry.surface_error((vertices, faces), (points, tris)),
    }


def main() -> None:
    """Run both decimators at each budget and print a JSON report and a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=709, help="grid side; 709 gives 1,002,528 triangles")
    parser.add_argument("--targets", type=int, nargs="+", default=[100_000, 10_000])
    args = parser.parse_args()
    grid = wavy_grid(args.grid)
    vertices, faces = grid.vertices.astype("float64"), grid.faces.astype("int64")
    report = {"inputTriangles": len(faces), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        glb = work / "terrain.glb"
        grid.export(glb)
        started = time.perf_counter()
        stage = optimize.optimize(
            {"model": glb}, {"targetTriangles": args.targets[0]}, work / "stage", lambda p, m: None
        )
        report["stage"] = {"seconds": time.perf_counter() - started, "target": args.targets[0], **stage.metadata}
        for target in args.targets:
            report["runs"].append(
                {
                    "target": target,
                    "blender": blender_decimation(glb, work / f"b{target}", target),
                    "fast_simplification": fast_simplification_run(vertices, faces, target),
                }
            )
    print(json.dumps(report, indent=1))
    print(
        f"\n{report['inputTriangles']:,} input triangles; whole optimize stage to {args.targets[0]:,}: "
        f"{report['stage']['seconds']:.1f} s, {report['stage']['bytesBefore']:,} -> {report['stage']['bytesAfter']:,} bytes\n"
    )
    print("| target | tool | triangles | seconds | Hausdorff / diagonal | mean / diagonal |")
    print("|---|---|---|---|---|---|")
    for run in report["runs"]:
        for tool in ("blender", "fast_simplification"):
            r = run[tool]
            print(
                f"| {run['target']:,} | {tool} | {r['triangles']:,} | {r['seconds']:.2f} | "
                f"{r['error']['hausdorff']:.2e} | {r['error']['mean']:.2e} |"
            )


if __name__ == "__main__":
    main()
