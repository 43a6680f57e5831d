"""Session fixtures for the generation tests: images drawn in code, and one stage run per input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

EXAMPLE_PROMPT = "tall muscular woman with short red hair, blue jacket and black jeans"
SMALL = {"targetTriangles": 8000, "textureSize": 512}  # keeps avatar runs quick


@dataclass
class Run:
    """One stage run: its result, working folder and the progress it reported."""

    result: object
    workdir: Path
    progress: list[tuple[float, str]]

    def output(self, role: str) -> Path:
        """The path of the output with this role."""
        return next(o.path for o in self.result.outputs if o.role == role)


def run(stage, inputs: dict, params: dict, workdir: Path) -> Run:
    """Call a stage function with a recording progress callback."""
    workdir.mkdir(parents=True, exist_ok=True)
    calls: list[tuple[float, str]] = []
    result = stage(inputs, params, workdir, lambda pct, msg: calls.append((pct, msg)))
    return Run(result, workdir, calls)


def circle_mask(size: int = 400) -> np.ndarray:
    """A filled disc."""
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, (size // 2, size // 2), size // 3, 1, -1)
    return mask > 0


def star_mask(size: int = 400) -> np.ndarray:
    """A five-pointed star."""
    angles = np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 0.45 * size, 0.19 * size)
    points = np.stack([size / 2 + radii * np.sin(angles), size / 2 - radii * np.cos(angles)], axis=1)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask > 0


def l_mask(size: int = 400) -> np.ndarray:
    """An L-shape."""
    mask = np.zeros((size, size), bool)
    mask[int(0.15 * size) : int(0.85 * size), int(0.2 * size) : int(0.42 * size)] = True
    mask[int(0.62 * size) : int(0.85 * size), int(0.2 * size) : int(0.8 * size)] = True
    return mask


SHAPES = {"circle": circle_mask, "star": star_mask, "L": l_mask}


def rgba_png(mask: np.ndarray, path: Path) -> Path:
    """Write a textured RGBA PNG whose alpha is the mask (a colour gradient with stripes inside, transparent outside)."""
    h, w = mask.shape
    ys, xs = np.mgrid[0:h, 0:w]
    rgb = np.stack([xs * 255 // w, ys * 255 // h, 128 + 100 * ((xs // 20) % 2)], axis=-1).astype(np.uint8)
    rgba = np.dstack([rgb, np.where(mask, 255, 0).astype(np.uint8)])
    cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    """A folder for generated images."""
    return tmp_path_factory.mktemp("generation-media")


@pytest.fixture(scope="session")
def shape_runs(media, tmp_path_factory) -> dict[str, tuple[np.ndarray, Run]]:
    """reconstruct on each drawn shape (alpha path): {name: (mask, run)}."""
    from container_workers.gpu_worker.image_to_3d.stage import reconstruct

    out = {}
    for name, make in SHAPES.items():
        mask = make()
        image = rgba_png(mask, media / f"{name}.png")
        out[name] = (mask, run(reconstruct, {"image": image}, {}, tmp_path_factory.mktemp(f"shape-{name}")))
    return out


@pytest.fixture(scope="session")
def astronaut(media) -> Path:
    """scikit-image's astronaut photo (a person) as a JPEG."""
    from skimage import data

    path = media / "astronaut.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


@pytest.fixture(scope="session")
def astronaut_run(astronaut, tmp_path_factory) -> Run:
    """reconstruct on the astronaut with default params."""
    from container_workers.gpu_worker.image_to_3d.stage import reconstruct

    return run(reconstruct, {"image": astronaut}, {}, tmp_path_factory.mktemp("astronaut"))


@pytest.fixture(scope="session")
def avatar_run(tmp_path_factory) -> Run:
    """avatar for the example prompt, T-pose."""
    from container_workers.gpu_worker.avatar.stage import avatar

    return run(avatar, {}, {"prompt": EXAMPLE_PROMPT, "seed": 7, **SMALL}, tmp_path_factory.mktemp("avatar-T"))


@pytest.fixture(scope="session")
def a_pose_run(tmp_path_factory) -> Run:
    """avatar in the A-pose wearing extra shapes (coat tails, hat brim and crown) and a beard."""
    from container_workers.gpu_worker.avatar.stage import avatar

    params = {
        "prompt": "old man with a grey beard, a brown hat and a long dark blue coat",
        "seed": 3,
        "pose": "A",
        **SMALL,
    }
    return run(avatar, {}, params, tmp_path_factory.mktemp("avatar-A"))


DRAWN_PERSON = "a man with short black hair in a green t-shirt, blue jeans and white sneakers"
DRAWN_PAIR = (
    "a woman with long blonde hair in a red dress",
    "a man with short brown hair in a grey sweater and black trousers",
)


@pytest.fixture(scope="session")
def drawn_person(media) -> tuple[Path, np.ndarray]:
    """A drawn photo of one person standing (a prompt's avatar posed and rendered on a backdrop), and their true mask."""
    from .drawn import person_photo, save

    rgb, masks = person_photo([DRAWN_PERSON])
    return save(media / "drawn_person.png", rgb), masks[0]


@pytest.fixture(scope="session")
def drawn_pair(media) -> tuple[Path, list[np.ndarray]]:
    """A drawn photo of two people standing close enough to touch, and their true masks (left, right)."""
    from .drawn import person_photo, save

    rgb, masks = person_photo(list(DRAWN_PAIR), size=(760, 900), spacing=0.62)
    return save(media / "drawn_pair.png", rgb), masks


@pytest.fixture(scope="session")
def hopper(media) -> Path:
    """Matplotlib's sample portrait of Grace Hopper (a person, head and shoulders)."""
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def cameraman(media) -> Path:
    """scikit-image's cameraman photo (a person seen from the side, bent over a camera) as an RGB PNG."""
    from skimage import data

    path = media / "cameraman.png"
    cv2.imwrite(str(path), np.dstack([data.camera()] * 3))
    return path


PHOTO_SMALL = {"targetTriangles": 8000, "textureSize": 512}


@pytest.fixture(scope="session")
def photo_runs(drawn_person, astronaut, hopper, cameraman, tmp_path_factory) -> dict[str, Run]:
    """photo_avatar on the drawn person, the astronaut, Grace Hopper and the cameraman: {name: run}."""
    from container_workers.gpu_worker.avatar.photo import photo_avatar

    images = {"drawn": drawn_person[0], "astronaut": astronaut, "hopper": hopper, "cameraman": cameraman}
    return {
        name: run(photo_avatar, {"image": image}, PHOTO_SMALL, tmp_path_factory.mktemp(f"photo-{name}"))
        for name, image in images.items()
    }
