"""Benchmark of the `optimize` stage against gltfpack run as a process, on the same inputs in the same run.

Inputs: a 1.3M-triangle scan-like mesh (a bumpy sphere with scanner noise), the 1M-triangle height field of issue 19, a
textured image-to-3D output (the `reconstruct` stage on a 1024x1024 photo, 200k triangles) and a skinned, animated
avatar (the `avatar` stage's output animated by the `retarget` stage with a BVH walk). Each is reduced to the same
triangle budget by:
- the stage (`optimize.optimize`, in-process: GLB in, GLB out, with its checks and its own error measurement),
- `gltfpack -i in.glb -o out.glb -si R -cc` as people run it (its default error limit of 1% may stop it early),
- `gltfpack ... -si R -se 1 -cc`, the same budget with the limit lifted.
Time is wall time, the median of --repeats runs interleaved tool by tool (so load from other processes falls on all
alike). The gltfpack process includes node's start and WebAssembly compilation, which the worker pays once: its
gltfpacks stay warm between tasks, so each input's first stage run is kept apart ("first" in the JSON; for the first
input it includes starting the gltfpacks). CPU time (user + system) is counted too: the stage's process (all its
threads) plus its warm gltfpacks, against the gltfpack process's; it depends less on what else the machine runs.
Triangles, bytes and the error are read from each output file by this script: the GLB decoded in numpy (`glb.read`,
meshopt decoded by the `meshopt` package), symmetric Hausdorff and mean surface distance over the original's
bounding-box diagonal (`geometry.surface_error`, 100k area-weighted samples + up to 100k vertices per side, fixed seed).

Run from the repo root: .venv/bin/python bench/optimize/bench_optimize.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from container_workers.blender_worker import geometry, glb, gltfpack, scene  # noqa: E402 (after the path setup)
from container_workers.blender_worker.optimize import optimize  # noqa: E402
from container_workers.blender_worker.retarget import retarget  # noqa: E402
from container_workers.gpu_worker.avatar.stage import avatar  # noqa: E402
from container_workers.gpu_worker.image_to_3d.stage import reconstruct  # noqa: E402
from tests.unit.blender.builders import wavy_grid, write_bvh  # noqa: E402

QUIET = lambda percent, message: None  # noqa: E731


def scan_like(path: Path) -> Path:
    """A 1,310,720-triangle bumpy sphere with a little per-vertex noise, as a scanner gives."""
    ball = trimesh.creation.icosphere(subdivisions=8, radius=0.5)
    v = ball.vertices
    bumps = 0.03 * np.sin(9 * v[:, 0]) * np.sin(11 * v[:, 1]) * np.sin(7 * v[:, 2]) + 0.01 * np.sin(40 * v[:, 1])
    noise = np.random.default_rng(0).normal(0, 0.0005, len(v))
    trimesh.Trimesh(v * (1 + bumps + noise)[:, None], ball.faces, process=False).export(path)
    return path


def height_field(path: Path) -> Path:
    """The 1,002,528-triangle wavy height field of the issue's table."""
    wavy_grid(709).export(path)
    return path


def image_to_3d(folder: Path) -> Path:
    """The reconstruct stage's textured GLB for scikit-image's astronaut photo at 1024x1024 (200k triangles)."""
    sys.path.insert(0, str(ROOT / "bench" / "generate"))
    from bench_generate import photos

    photo = photos(folder)["person (astronaut)"]
    (folder / "reconstruct").mkdir()
    made = reconstruct({"image": photo}, {"targetTriangles": 200_000}, folder / "reconstruct", QUIET)
    return next(o.path for o in made.outputs if o.role == "glb")


def animated_avatar(folder: Path) -> Path:
    """The avatar stage's skinned avatar (30k triangles), animated by the retarget stage with a 60-frame BVH walk."""
    (folder / "avatar").mkdir()
    made = avatar({}, {"prompt": "tall woman with red hair, blue jacket and black jeans"}, folder / "avatar", QUIET)
    model = next(o.path for o in made.outputs if o.role == "glb")
    motion = write_bvh(folder / "walk.bvh", frames=60)
    with scene.task():
        done = retarget({"avatar": model, "motion": motion}, {}, folder / "animate", QUIET)
    return next(o.path for o in done.outputs if o.role == "glb")


def measure(reference: geometry.Reference, path: Path) -> dict:
    """Triangles, bytes and the geometric error of one output file."""
    shape = glb.surface(glb.read(path))
    error = geometry.surface_error(reference, geometry.Reference(shape.vertices, shape.triangles, samples=100_000))
    return {
        "triangles": len(shape.triangles),
        "bytes": path.stat().st_size,
        "hausdorff": error["hausdorff"],
        "mean": error["mean"],
    }


def stage_once(source: Path, target: int, folder: Path) -> tuple[float, float, Path, dict]:
    """Run the whole stage once; its wall and CPU seconds (this process and the warm gltfpacks), output, metadata."""
    folder.mkdir()
    cpu = time.process_time() + gltfpack.servers_cpu_seconds()
    started = time.perf_counter()
    result = optimize({"model": source}, {"targetTriangles": target}, folder, QUIET)
    seconds = time.perf_counter() - started
    cpu = time.process_time() + gltfpack.servers_cpu_seconds() - cpu
    return seconds, cpu, result.outputs[0].path, result.metadata


def gltfpack_once(source: Path, ratio: float, extra: list[str], out: Path) -> tuple[float, float]:
    """Run `node gltfpack -i source -o out -si ratio (extra) -cc` as a process once; its wall and CPU seconds."""
    command = ["node", str(gltfpack.GLTFPACK), "-i", str(source), "-o", str(out), "-si", f"{ratio:.8f}", *extra, "-cc"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"gltfpack failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


BASELINES = {"gltfpack -si R -cc": [], "gltfpack -si R -se 1 -cc": ["-se", "1"]}


def main() -> None:
    """Run the stage and gltfpack on every input and print a JSON report and a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = [
            ("scan-like bumpy sphere", scan_like(work / "scan.glb"), 50_000),
            ("height field (issue 19)", height_field(work / "terrain.glb"), 50_000),
            ("image-to-3D, textured", image_to_3d(work), 20_000),
            ("avatar, skinned + animated", animated_avatar(work), 7_500),
        ]
        for n, (name, source, target) in enumerate(inputs):
            shape = glb.surface(glb.read(source))
            reference = geometry.Reference(shape.vertices, shape.triangles, samples=100_000)
            before = len(shape.triangles)
            folder = work / f"input{n}"
            folder.mkdir()
            first = stage_once(source, target, folder / "first")[0]  # untimed; the very first starts the gltfpacks
            times: dict[str, list[float]] = {"stage": [], **{label: [] for label in BASELINES}}
            cpus: dict[str, list[float]] = {name: [] for name in times}
            for r in range(args.repeats):  # interleaved, so load from other processes falls on every tool alike
                seconds, cpu, stage_out, meta = stage_once(source, target, folder / f"stage{r}")
                times["stage"].append(seconds)
                cpus["stage"].append(cpu)
                for i, (label, extra) in enumerate(BASELINES.items()):
                    seconds, cpu = gltfpack_once(source, target / before, extra, folder / f"gltfpack{i}.glb")
                    times[label].append(seconds)
                    cpus[label].append(cpu)
            row = {"input": name, "triangles": before, "bytes": source.stat().st_size, "target": target, "tools": {}}
            outputs = {"stage": stage_out, **{label: folder / f"gltfpack{i}.glb" for i, label in enumerate(BASELINES)}}
            for tool, out in outputs.items():
                row["tools"][tool] = {
                    "seconds": statistics.median(times[tool]),
                    "cpu": statistics.median(cpus[tool]),
                    **measure(reference, out),
                    "runs": times[tool],
                }
            row["tools"]["stage"].update(first=first, reported=meta["geometricError"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\ngltfpack {gltfpack.versions()['gltfpack']}, {args.repeats} runs each, interleaved (median time)\n")
    print("| input | tool | seconds | CPU seconds | triangles | Hausdorff / diag | mean / diag | bytes |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['input']} ({row['triangles']:,} tris, {row['bytes']:,} B) -> {row['target']:,} | | | | | | | |")
        for tool, r in row["tools"].items():
            print(
                f"| | {tool} | {r['seconds']:.2f} | {r['cpu']:.2f} | {r['triangles']:,} | {r['hausdorff']:.2e} | {r['mean']:.2e} | "
                f"{r['bytes']:,} |"
            )
    print("\nstage / gltfpack at the same budget (-se 1): time, CPU time, Hausdorff, mean, bytes")
    for row in rows:
        s, g = row["tools"]["stage"], row["tools"]["gltfpack -si R -se 1 -cc"]
        ratios = [s[k] / g[k] for k in ("seconds", "cpu", "hausdorff", "mean", "bytes")]
        print(f"| {row['input']} | " + " | ".join(f"{r:.2f}x" for r in ratios) + " |")


if __name__ == "__main__":
    main()
