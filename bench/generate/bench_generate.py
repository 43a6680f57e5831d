"""Benchmark of the generation stages: seconds per `reconstruct` on 1024x1024 photos and per `avatar`, on this machine.

reconstruct runs on three 1024x1024 inputs that take the three foreground paths: scikit-image's astronaut photo
(upscaled; MediaPipe person segmentation), its coffee photo padded to a square (GrabCut) and a drawn star with alpha,
and on a drawn vase (a lathe). avatar runs on three prompts in the T- and A-pose; photo_avatar on the astronaut and on
a drawn full-length person. Each case runs `--repeats` times with default params; the first
run of the process also pays for imports and model loading, so that is reported separately. Times are wall clock
of the whole stage function (reading, generating, writing GLB and thumbnail), with the per-phase split of the median
run taken from the stage's progress reports.

Run from the repo root: .venv/bin/python bench/generate/bench_generate.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from container_workers.gpu_worker.avatar.photo import photo_avatar  # noqa: E402 (after the path setup)
from container_workers.gpu_worker.avatar.stage import avatar  # noqa: E402
from container_workers.gpu_worker.image_to_3d.stage import reconstruct  # noqa: E402
from tests.unit.generation.conftest import DRAWN_PERSON  # noqa: E402
from tests.unit.generation.drawn import person_photo, save, vase_photo  # noqa: E402

PROMPTS = (
    "tall muscular woman with short red hair, blue jacket and black jeans",
    "an old man with a grey beard, a brown hat and a long dark blue coat",
    "girl with a blonde ponytail in a long yellow dress",
)


def photos(folder: Path) -> dict[str, Path]:
    """The three 1024x1024 reconstruct inputs, written into `folder`."""
    from skimage import data

    astronaut = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    coffee = data.coffee()
    square = np.full((600, 600, 3), coffee[:4, :4].reshape(-1, 3).mean(axis=0), np.uint8)
    square[100:500] = coffee
    coffee = cv2.resize(square, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    star = np.zeros((1024, 1024, 4), np.uint8)
    angles = np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 460, 190)
    points = np.stack([512 + radii * np.sin(angles), 512 - radii * np.cos(angles)], axis=1).astype(np.int32)
    cv2.fillPoly(star, [points], (40, 160, 220, 255))
    paths = {
        "person (astronaut)": folder / "astronaut.jpg",
        "grabcut (coffee)": folder / "coffee.jpg",
        "alpha (star)": folder / "star.png",
    }
    cv2.imwrite(
        str(paths["person (astronaut)"]), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
    )
    cv2.imwrite(str(paths["grabcut (coffee)"]), cv2.cvtColor(coffee, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(paths["alpha (star)"]), star)
    paths["lathe (drawn vase)"] = save(folder / "vase.png", vase_photo()[0])
    return paths


def timed(stage, inputs: dict, params: dict, workdir: Path) -> tuple[float, dict, dict[str, float]]:
    """Run a stage once: (seconds, metadata, seconds per progress phase)."""
    workdir.mkdir(parents=True, exist_ok=True)
    marks: list[tuple[float, str]] = []
    started = time.perf_counter()
    result = stage(inputs, params, workdir, lambda pct, msg: marks.append((time.perf_counter(), msg)))
    seconds = time.perf_counter() - started
    phases: dict[str, float] = {}
    for (t0, message), (t1, _) in itertools.pairwise(marks):
        phases[message] = phases.get(message, 0.0) + (t1 - t0)
    return seconds, result.metadata, phases


def bench(name: str, stage, inputs: dict, params: dict, work: Path, repeats: int) -> dict:
    """Repeat one case; report min/median seconds, the median run's phases and what it made."""
    runs = [timed(stage, inputs, params, work / f"{name}-{i}".replace(" ", "_")) for i in range(repeats)]
    order = sorted(range(repeats), key=lambda i: runs[i][0])
    _, meta, phases = runs[order[repeats // 2]]
    keep = (
        "foreground",
        "shapes",
        "triangles",
        "vertices",
        "watertight",
        "depthToWidth",
        "pose",
        "heightMetres",
        "silhouetteIoU",
    )
    return {
        "case": name,
        "params": {k: v for k, v in params.items() if k != "prompt"},
        "medianSeconds": round(statistics.median(r[0] for r in runs), 2),
        "minSeconds": round(min(r[0] for r in runs), 2),
        "phases": {k: round(v, 2) for k, v in phases.items()},
        "made": {k: meta[k] for k in keep if k in meta},
    }


def main() -> None:
    """Run every case and print a JSON report and a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report = {
        "cpus": os.cpu_count(),
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
        "reconstruct": [],
        "avatar": [],
        "photo_avatar": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = photos(work)
        first = timed(reconstruct, {"image": inputs["person (astronaut)"]}, {}, work / "warm-up")[0]
        report["firstRunSeconds"] = round(first, 2)
        for name, path in inputs.items():
            report["reconstruct"].append(bench(name, reconstruct, {"image": path}, {}, work, args.repeats))
        for prompt in PROMPTS:
            for pose in ("T", "A"):
                report["avatar"].append(
                    bench(
                        f"{prompt} [{pose}]",
                        avatar,
                        {},
                        {"prompt": prompt, "seed": 1, "pose": pose},
                        work,
                        args.repeats,
                    )
                )
        people = {
            "astronaut (half length)": inputs["person (astronaut)"],
            "drawn person (full length)": save(work / "person.png", person_photo([DRAWN_PERSON])[0]),
        }
        for name, path in people.items():
            report["photo_avatar"].append(bench(name, photo_avatar, {"image": path}, {}, work, args.repeats))
    print(json.dumps(report, indent=2))
    print("\n| stage | case | median s | min s | made |\n|---|---|---|---|---|")
    for stage in ("reconstruct", "avatar", "photo_avatar"):
        for row in report[stage]:
            made = ", ".join(f"{k}={v}" for k, v in row["made"].items())
            print(f"| {stage} | {row['case']} | {row['medianSeconds']} | {row['minSeconds']} | {made} |")


if __name__ == "__main__":
    main()
