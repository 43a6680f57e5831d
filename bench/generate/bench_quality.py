"""Quality numbers of the generation stages before and after issue 16 (the claims in docs/generation.md).

For photos of people: PHOTO_TO_AVATAR's silhouette IoU (the posed avatar through the reported camera against the
person's MediaPipe mask), the rest pose torso's depth/width, and validator errors/warnings of both GLBs. For objects
(and people) in IMAGE_TO_3D, before and after: watertight, depth/width of the main subject, meshes for two people,
and how much of the front photo's fine detail the back shows (the back render's detail correlation with the mirrored
photo; the front render's with the photo is given as the measure's reference). "Before" is the code at
contact_sheet.BEFORE, run in its own process.

Run from the repo root: .venv/bin/python bench/generate/bench_quality.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import contact_sheet  # noqa: E402 (after the path setup)

from container_workers.gpu_worker.avatar.photo import people_in, photo_avatar  # noqa: E402
from container_workers.gpu_worker.image_to_3d.foreground import find_subjects  # noqa: E402
from container_workers.gpu_worker.image_to_3d.stage import load_image, reconstruct  # noqa: E402
from tests.gltf_validator import validate  # noqa: E402
from tests.unit.generation.glb import Glb  # noqa: E402
from tests.unit.generation.test_photo_avatar import iou, posed_silhouette  # noqa: E402
from tests.unit.generation.views import against_photo  # noqa: E402


class Stage:
    """The shape of a stage run that test helpers read: its result and output paths by role."""

    def __init__(self, result):
        self.result = result

    def output(self, role: str) -> Path:
        """The path of the output with this role."""
        return next(o.path for o in self.result.outputs if o.role == role)


def issues(path: Path) -> list[int]:
    """[errors, warnings] of the Khronos validator."""
    report = validate(path)["issues"]
    return [report["numErrors"], report["numWarnings"]]


def torso_ratio(path: Path) -> float:
    """Depth / width of the rest pose torso at 72 % of the height (arms left out)."""
    positions = Glb(path).attribute("POSITION").astype(np.float64)
    height = np.ptp(positions[:, 1])
    chest = positions[np.abs(positions[:, 1] - 0.72 * height) < 0.015 * height]
    chest = chest[np.abs(chest[:, 0]) < 0.12 * height]
    return round(float(np.ptp(chest[:, 2]) / np.ptp(chest[:, 0])), 3)


def object_row(path: Path, photo: Path, meta: dict | None) -> dict:
    """Depth/width, watertightness and back/front detail correlations of an IMAGE_TO_3D model."""
    rgb, alpha = load_image(photo)
    mask = find_subjects(rgb, alpha, "auto")[0].mask
    positions = Glb(path).attribute("POSITION").astype(np.float64)
    extent = np.ptp(positions, axis=0)
    return {
        "depthToWidth": round(float(extent[2] / extent[0]), 3),
        "watertight": None if meta is None else meta["watertight"],
        "meshes": len(Glb(path).doc["meshes"]),
        "frontDetailCorrelation": round(against_photo(path, rgb, mask, 0.0), 3),
        "backDetailCorrelation": round(against_photo(path, rgb, mask, 180.0), 3),
        "validator": issues(path),
    }


def main() -> None:
    """Print the numbers as JSON."""
    quiet = lambda *_: None  # noqa: E731
    report: dict = {"people": {}, "objects": {}}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        inputs = contact_sheet.photos(work)
        jobs = [{"stage": "reconstruct", "image": str(p), "out": str(work / "before" / n)} for n, p in inputs.items()]
        contact_sheet.run_before(jobs, work)
        for name, (kind, params) in contact_sheet.PHOTOS.items():
            before = object_row(work / "before" / name / "model.glb", inputs[name], None)
            after_dir = work / "after" / name
            after_dir.mkdir(parents=True)
            made = reconstruct({"image": inputs[name]}, params, after_dir, quiet)
            report["objects"][name] = {
                "before": before,
                "after": {
                    "shapes": made.metadata["shapes"],
                    **object_row(after_dir / "model.glb", inputs[name], made.metadata),
                },
            }
            if kind != "person":
                continue
            fitted_dir = work / "avatar" / name
            fitted_dir.mkdir(parents=True)
            stage = Stage(photo_avatar({"image": inputs[name]}, {}, fitted_dir, quiet))
            rgb, alpha = load_image(inputs[name])
            mask = people_in(rgb, alpha)[0].mask
            report["people"][name] = {
                "silhouetteIoU": round(iou(posed_silhouette(stage, mask.shape), mask), 4),
                "torsoDepthToWidth": torso_ratio(stage.output("glb")),
                "validator": {"avatar.glb": issues(stage.output("glb")), "posed.glb": issues(stage.output("posed"))},
                "joints": stage.result.metadata["joints"],
                "garments": [g["kind"] for g in stage.result.metadata["attributes"]["garments"]],
                "hair": stage.result.metadata["attributes"]["hair_style"],
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
