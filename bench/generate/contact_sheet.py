"""Contact sheets of the generation stages before and after issue 16, rendered front / side / back.

Photos (shipped by scikit-image and matplotlib, or drawn in code): before = IMAGE_TO_3D as it was (an inflated
silhouette); after = PHOTO_TO_AVATAR for people (rest pose, then the photo's pose) and IMAGE_TO_3D for objects. Prompts:
TEXT_TO_AVATAR before and after. "Before" is the code at BEFORE (extracted with `git archive` into a temporary folder
and run there in its own process), "after" is the working tree.

Run from the repo root: .venv/bin/python bench/generate/contact_sheet.py [--out docs/images/generation]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from container_workers.gpu_worker import render  # noqa: E402 (after the path setup)
from tests.unit.generation.conftest import DRAWN_PAIR, DRAWN_PERSON  # noqa: E402
from tests.unit.generation.drawn import box_photo, person_photo, save, vase_photo  # noqa: E402
from tests.unit.generation.glb import Glb  # noqa: E402

BEFORE = "06a5f22"  # the last commit before issue 16's work
TILE = 168
PROMPTS = (
    "tall muscular woman with short red hair, blue jacket and black jeans",
    "an old man with a grey beard, a brown hat and a long dark blue coat",
    "girl with a blonde ponytail in a long yellow dress",
    "a young man with a black afro in a white t-shirt, grey shorts and red sneakers",
    "a woman with long wavy brown hair in a green sweater, a black skirt and boots",
    "a bald man with a goatee in a navy suit",
    "a teenage boy with a buzz cut in an orange hoodie and jeans",
    "a woman with a bun in a purple blouse, beige trousers and heels",
)
# name -> (kind, params for the "after" stage)
PHOTOS = {
    "astronaut": ("person", {}),
    "hopper": ("person", {}),
    "cameraman": ("person", {}),
    "drawn person": ("person", {}),
    "drawn pair": ("people", {"subjects": "all"}),
    "coffee": ("object", {}),
    "gift box": ("object", {}),
    "drawn vase": ("object", {}),
    "drawn box": ("object", {}),
}
RUNNER = """
import json, sys
from pathlib import Path
from container_workers.gpu_worker.avatar.stage import avatar
from container_workers.gpu_worker.image_to_3d.stage import reconstruct
jobs = json.loads(sys.argv[1])
for job in jobs:
    out = Path(job["out"]); out.mkdir(parents=True, exist_ok=True)
    if job["stage"] == "avatar":
        avatar({}, {"prompt": job["prompt"], "seed": 1}, out, lambda *a: None)
    else:
        reconstruct({"image": Path(job["image"])}, {}, out, lambda *a: None)
"""


def photos(folder: Path) -> dict[str, Path]:
    """The input photos, written into `folder`."""
    import matplotlib.cbook
    from skimage import data

    def sample(name: str) -> Path:
        return Path(matplotlib.cbook.get_sample_data(name, asfileobj=False))

    out = {
        "astronaut": save(folder / "astronaut.png", data.astronaut()),
        "hopper": sample("grace_hopper.jpg"),
        "cameraman": save(folder / "cameraman.png", np.dstack([data.camera()] * 3)),
        "drawn person": save(folder / "person.png", person_photo([DRAWN_PERSON])[0]),
        "drawn pair": save(folder / "pair.png", person_photo(list(DRAWN_PAIR), size=(760, 900), spacing=0.62)[0]),
        "coffee": save(folder / "coffee.png", data.coffee()),
        "gift box": sample("Minduka_Present_Blue_Pack.png"),
        "drawn vase": save(folder / "vase.png", vase_photo()[0]),
        "drawn box": save(folder / "box.png", box_photo()[0]),
    }
    return out


def views(path: Path, yaws=(0.0, 90.0, 180.0)) -> list[np.ndarray]:
    """RGB tiles of a GLB (all its meshes) from each yaw, on grey."""
    glb = Glb(path)
    texture = np.asarray(Image.open(io.BytesIO(glb.image(0))).convert("RGB"))
    positions, normals, uvs, faces = glb.merged("POSITION", "NORMAL", "TEXCOORD_0")
    tiles = []
    for yaw in yaws:
        image = render.shaded(positions, faces, normals, uvs, texture, size=TILE, yaw=yaw, pitch=4.0)
        alpha = image[..., 3:] / 255.0
        tiles.append((image[..., :3] * alpha + 70 * (1 - alpha)).astype(np.uint8))
    return tiles


def closeup(path: Path, part: str) -> np.ndarray:
    """A tile of an avatar's head (three-quarter view) or left hand (from above), the rest of the mesh left out."""
    glb = Glb(path)
    texture = np.asarray(Image.open(io.BytesIO(glb.image(0))).convert("RGB"))
    positions, normals, uvs = (glb.attribute(n).astype(np.float64) for n in ("POSITION", "NORMAL", "TEXCOORD_0"))
    faces = glb.triangles()
    top, reach = positions[:, 1].max(), positions[:, 0].max()
    if part == "head":
        keep = (positions[:, 1] > top - 0.32) & (np.abs(positions[:, 0]) < 0.22)
        yaw, pitch = 25.0, 0.0
    else:
        keep = positions[:, 0] > reach - 0.24
        yaw, pitch = 0.0, 70.0
    chosen = faces[keep[faces].all(axis=1)]
    used = np.unique(chosen)
    index = np.full(len(positions), -1)
    index[used] = np.arange(len(used))
    image = render.shaded(
        positions[used], index[chosen], normals[used], uvs[used], texture, size=TILE, yaw=yaw, pitch=pitch
    )
    alpha = image[..., 3:] / 255.0
    return (image[..., :3] * alpha + 70 * (1 - alpha)).astype(np.uint8)


def picture(path: Path) -> np.ndarray:
    """An input photo fitted into a tile."""
    image = np.asarray(Image.open(path).convert("RGB"))
    scale = TILE / max(image.shape[:2])
    image = cv2.resize(
        image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    tile = np.full((TILE, TILE, 3), 70, np.uint8)
    y, x = (TILE - image.shape[0]) // 2, (TILE - image.shape[1]) // 2
    tile[y : y + image.shape[0], x : x + image.shape[1]] = image
    return tile


def blank() -> np.ndarray:
    """An empty tile."""
    return np.full((TILE, TILE, 3), 70, np.uint8)


def label(row: np.ndarray, text: str) -> np.ndarray:
    """A row of tiles with a caption strip above it."""
    strip = np.full((22, row.shape[1], 3), 245, np.uint8)
    cv2.putText(strip, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (20, 20, 20), 1, cv2.LINE_AA)
    return np.vstack([strip, row])


def header(titles: list[str]) -> np.ndarray:
    """Column titles, one per tile."""
    strip = np.full((24, TILE * len(titles), 3), 220, np.uint8)
    for k, title in enumerate(titles):
        cv2.putText(strip, title, (k * TILE + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    return strip


def run_before(jobs: list[dict], work: Path) -> None:
    """Run the stages of commit BEFORE on the jobs, in a process whose code is that commit's."""
    code = work / "before-code"
    code.mkdir()
    archive = subprocess.run(
        ["git", "archive", BEFORE, "container_workers", "chalicelib"], cwd=ROOT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive.stdout, check=True)
    environment = {**os.environ, "PYTHONPATH": str(code)}
    subprocess.run([sys.executable, "-c", RUNNER, json.dumps(jobs)], cwd=code, check=True, env=environment)


def main() -> None:
    """Render both sheets into --out."""
    from container_workers.gpu_worker.avatar.photo import photo_avatar
    from container_workers.gpu_worker.avatar.stage import avatar
    from container_workers.gpu_worker.image_to_3d.stage import reconstruct

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "generation")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    quiet = lambda *_: None  # noqa: E731
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        inputs = photos(work)
        jobs = [{"stage": "reconstruct", "image": str(p), "out": str(work / "before" / n)} for n, p in inputs.items()]
        jobs += [
            {"stage": "avatar", "prompt": t, "out": str(work / "before" / f"prompt{k}")} for k, t in enumerate(PROMPTS)
        ]
        run_before(jobs, work)
        rows = [header(["photo", "before: front", "side", "back", "after: front", "side", "back", "photo's pose"])]
        for name, (kind, params) in PHOTOS.items():
            after = work / "after" / name
            after.mkdir(parents=True)
            before = views(work / "before" / name / "model.glb")
            if kind == "person":
                made = photo_avatar({"image": inputs[name]}, {"pose": "T"}, after, quiet)
                metadata = made.metadata
                now = views(after / "avatar.glb") + views(after / "posed.glb", (0.0,))
                caption = f"{name}: PHOTO_TO_AVATAR, silhouette IoU {metadata['silhouetteIoU']:.2f}"
            else:
                made = reconstruct({"image": inputs[name]}, params, after, quiet)
                metadata = made.metadata
                now = views(after / "model.glb") + [blank()]
                caption = (
                    f"{name}: IMAGE_TO_3D {'+'.join(metadata['shapes'])}, depth/width {metadata['depthToWidth']:.2f}"
                    + (f", {metadata['meshes']} meshes" if metadata["meshes"] > 1 else "")
                )
            rows.append(label(np.hstack([picture(inputs[name])] + before + now), caption))
        sheet = np.vstack(rows)
        cv2.imwrite(
            str(args.out / "contact-photos.jpg"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88]
        )
        rows = [
            header(["before: front", "side", "back", "head", "hand", "after: front", "side", "back", "head", "hand"])
        ]
        for k, text in enumerate(PROMPTS):
            after = work / "after" / f"prompt{k}"
            after.mkdir(parents=True)
            avatar({}, {"prompt": text, "seed": 1}, after, quiet)
            tiles = []
            for glb in (work / "before" / f"prompt{k}" / "avatar.glb", after / "avatar.glb"):
                tiles += views(glb) + [closeup(glb, "head"), closeup(glb, "hand")]
            rows.append(label(np.hstack(tiles), text))
        sheet = np.vstack(rows)
        cv2.imwrite(
            str(args.out / "contact-prompts.jpg"),
            cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 88],
        )
    print(f"wrote {args.out / 'contact-photos.jpg'} and {args.out / 'contact-prompts.jpg'}")


if __name__ == "__main__":
    main()
