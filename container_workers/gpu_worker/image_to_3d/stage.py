"""IMAGE_TO_3D: the `reconstruct` stage, and its classical backend (foreground -> inflated watertight mesh -> photo texture)."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import scipy.ndimage
import trimesh
from PIL import Image, ImageOps

from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for
from container_workers.gpu_worker import generators, render
from container_workers.gpu_worker.exchange import gltf
from container_workers.gpu_worker.image_to_3d import inflate
from container_workers.gpu_worker.image_to_3d.foreground import Foreground, find_foreground

MAX_SIDE = 2048  # photos are processed at most this large
MIN_SIDE = 32
OBJECT_SIZE = 1.0  # metres: the model's longest side in the image plane
_RELIEF = 0.006  # front relief per standard deviation of the photo's fine luminance, as a fraction of the object size


def load_image(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """RGB uint8 (upright by EXIF, at most MAX_SIDE) and its alpha channel, or None when the file has none."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image = ImageOps.exif_transpose(image)
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadInputError("UNREADABLE_IMAGE", f"The image could not be read ({type(exc).__name__}).") from None
    if min(image.size) < MIN_SIDE:
        raise BadInputError("IMAGE_TOO_SMALL", f"The image must be at least {MIN_SIDE} pixels on each side.")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.round(255 * values / max(values.max(), 1.0)).clip(0, 255).astype(np.uint8))
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    rgba = np.asarray(image.convert("RGBA"))
    return np.ascontiguousarray(rgba[..., :3]), (np.ascontiguousarray(rgba[..., 3]) if has_alpha else None)


def _crop_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(x0, y0, width, height) of the mask's bounding box with a small margin, inside the image."""
    ys, xs = np.nonzero(mask)
    margin = max(2, round(0.02 * max(xs.ptp(), ys.ptp())))
    x0, y0 = max(0, xs.min() - margin), max(0, ys.min() - margin)
    x1, y1 = min(mask.shape[1], xs.max() + 1 + margin), min(mask.shape[0], ys.max() + 1 + margin)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def build_mesh(
    foreground: Foreground, rgb: np.ndarray, detail: float, target_triangles: int
) -> tuple[inflate.HeightMesh, tuple[int, int], tuple[int, int, int, int]]:
    """The inflated mesh in working pixels of the crop, the working (width, height) and the crop box in the photo."""
    x0, y0, cw, ch = _crop_box(foreground.mask)
    side = int(np.clip(3.0 * np.sqrt(target_triangles), 256, 1024))
    scale = side / max(cw, ch)
    size = (max(8, round(cw * scale)), max(8, round(ch * scale)))
    crop = foreground.mask[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32)
    mask = cv2.resize(crop, size, interpolation=cv2.INTER_AREA) > 0.5
    sigma = 0.5 + 2.0 * (1.0 - detail)
    sdf = cv2.GaussianBlur(inflate.signed_distance(mask), (0, 0), sigma)
    height = inflate.poisson_height(sdf)
    relief = None
    if detail > 0:
        gray = cv2.resize(
            cv2.cvtColor(rgb[y0 : y0 + ch, x0 : x0 + cw], cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA
        ).astype(np.float32)
        fine = gray - cv2.GaussianBlur(gray, (0, 0), 0.02 * side)
        fine = np.clip(fine / max(float(fine[mask].std()), 1.0), -2.5, 2.5)
        fade = np.clip(sdf / (0.04 * side), 0.0, 1.0)
        relief = (detail * _RELIEF * side) * fine * fade
    area = float((sdf > 0).sum())
    if area < 16:
        raise BadInputError("NO_FOREGROUND", "The foreground is too thin to build a mesh from.")
    spacing = 1.02 * np.sqrt(4.0 * area / target_triangles)
    for _ in range(4):
        mesh = inflate.inflate(sdf, height, spacing, relief)
        if len(mesh.faces) <= target_triangles:
            break
        spacing *= 1.01 * np.sqrt(len(mesh.faces) / target_triangles)
    return inflate.smooth_depth(mesh), size, (x0, y0, cw, ch)


def _fill_outside(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Colours outside `known` continued from inside: nearest known colour, blended by OpenCV inpainting near the outline."""
    _, (rows, cols) = scipy.ndimage.distance_transform_edt(~known, return_indices=True)
    filled = image[rows, cols]
    band = cv2.dilate(known.astype(np.uint8), np.ones((9, 9), np.uint8)) & ~known
    return cv2.inpaint(filled, band.astype(np.uint8), 5, cv2.INPAINT_TELEA)


def _cover_face(
    back: np.ndarray, known: np.ndarray, face: tuple[int, int, int, int], frame: tuple[int, int, float, float]
) -> None:
    """Paint the face ellipse on the back texture in the colour found just above the face (hair, or skin when bald)."""
    x0, y0, sx, sy = frame
    fx, fy, fw, fh = face
    left, right = max(0, round((fx - x0) * sx)), max(0, round((fx + fw - x0) * sx))
    top, bottom = max(0, round((fy - 0.3 * fh - y0) * sy)), max(0, round((fy - y0) * sy))
    above = back[top:bottom, left:right][known[top:bottom, left:right]]
    ellipse = np.zeros(known.shape, np.uint8)
    centre = (round((fx + fw / 2 - x0) * sx), round((fy + fh / 2 - y0) * sy))
    cv2.ellipse(ellipse, centre, (max(1, round(0.6 * fw * sx)), max(1, round(0.75 * fh * sy))), 0, 0, 360, 1, -1)
    if len(above) >= 16:
        back[ellipse > 0] = np.median(above, axis=0).astype(np.uint8)
    else:
        back[:] = cv2.inpaint(back, ellipse, 5, cv2.INPAINT_TELEA)


def build_texture(
    rgb: np.ndarray, foreground: Foreground, box: tuple[int, int, int, int], size: int
) -> tuple[np.ndarray, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """An RGB atlas: the photo of the object (front) and a detail-free fill for the back; returns it and both regions."""
    x0, y0, cw, ch = box
    if cw <= ch:
        front_region, back_region = (0, 0, size // 2, size), (size // 2, 0, size // 2, size)
    else:
        front_region, back_region = (0, 0, size, size // 2), (0, size // 2, size, size // 2)
    rw, rh = front_region[2], front_region[3]
    photo = cv2.resize(rgb[y0 : y0 + ch, x0 : x0 + cw], (rw, rh), interpolation=cv2.INTER_AREA)
    mask = (
        cv2.resize(
            foreground.mask[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32), (rw, rh), interpolation=cv2.INTER_AREA
        )
        > 0.5
    )
    fringe = max(1, round(max(rw, rh) / 300))
    known = cv2.erode(mask.astype(np.uint8), np.ones((2 * fringe + 1, 2 * fringe + 1), np.uint8)).astype(bool)
    front = _fill_outside(photo, known if known.any() else mask)
    back = front.copy()
    if foreground.face is not None:
        _cover_face(back, known, foreground.face, (x0, y0, rw / cw, rh / ch))
    kernel = max(3, (max(rw, rh) // 40) | 1)
    back = cv2.medianBlur(back, min(kernel, 255))
    atlas = np.zeros((size, size, 3), np.uint8)
    for (ox, oy, w, h), part in ((front_region, front), (back_region, back)):
        atlas[oy : oy + h, ox : ox + w] = part
    return atlas, (front_region, back_region)


def textured_mesh(
    mesh: inflate.HeightMesh, working_size: tuple[int, int], regions, texture_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Model-space vertices (metres, +Y up, bottom at 0), faces, normals and UVs with the outline split into a front and a back copy.

    Also returns the welded (unsplit) model-space vertices for the watertightness check.
    """
    extent = np.ptp(mesh.vertices[:, :2], axis=0).max()
    metres = OBJECT_SIZE / extent
    welded = np.column_stack(
        [
            (mesh.vertices[:, 0] - (mesh.vertices[:, 0].min() + mesh.vertices[:, 0].max()) / 2) * metres,
            (mesh.vertices[:, 1].max() - mesh.vertices[:, 1]) * metres,
            mesh.vertices[:, 2] * metres,
        ]
    )
    normals = trimesh.Trimesh(welded, mesh.faces, process=False).vertex_normals
    rim = np.nonzero(mesh.side == inflate.RIM)[0]
    back_rim = np.arange(len(welded), len(welded) + len(rim))
    remap = np.arange(len(welded))
    remap[rim] = back_rim
    faces = mesh.faces.copy()
    is_back = (mesh.side[mesh.faces] == inflate.BACK).any(axis=1)
    faces[is_back] = remap[faces[is_back]]
    vertex_side = np.concatenate([mesh.side, np.full(len(rim), inflate.BACK)])
    source = np.concatenate([np.arange(len(welded)), rim])
    unit = (mesh.vertices[source, :2] + 0.5) / np.array(
        working_size, dtype=np.float64
    )  # working pixel centres are at integers
    uvs = np.empty((len(source), 2))
    for side, (ox, oy, w, h) in ((False, regions[0]), (True, regions[1])):
        on = (vertex_side == inflate.BACK) == side
        uvs[on] = (unit[on] * [w, h] + [ox, oy]) / texture_size
    return welded[source], faces, normals[source], uvs, welded


class InflateReconstructor:
    """The classical IMAGE_TO_3D backend: runs on CPU with what OpenCV, SciPy and MediaPipe ship."""

    name = "inflate"

    def generate(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
        """Reconstruct `inputs["image"]` into model.glb and thumbnail.png in `workdir` (params already validated)."""
        started = time.monotonic()
        progress(2, "reading image")
        rgb, alpha = load_image(inputs["image"])
        progress(10, "finding the foreground")
        foreground = find_foreground(rgb, alpha, params["foreground"])
        if foreground is None:
            raise BadInputError(
                "NO_FOREGROUND", f"No foreground object was found in the image (method: {params['foreground']})."
            )
        progress(40, "inflating the silhouette")
        mesh, working_size, box = build_mesh(foreground, rgb, params["detail"], params["targetTriangles"])
        progress(65, "texturing")
        size = params["textureSize"]
        atlas, regions = build_texture(rgb, foreground, box, size)
        vertices, faces, normals, uvs, welded = textured_mesh(mesh, working_size, regions, size)
        progress(80, "writing GLB")
        material = gltf.Material("photo", texture_png=render.png_bytes(atlas), roughness=0.85)
        model = gltf.write_glb(
            workdir / "model.glb",
            [gltf.Mesh("model", vertices, faces, normals, uvs, material=material)],
            name="IMAGE_TO_3D",
        )
        progress(90, "rendering thumbnail")
        thumbnail = workdir / "thumbnail.png"
        thumbnail.write_bytes(render.png_bytes(render.shaded(vertices, faces, normals, uvs, atlas)))
        closed = trimesh.Trimesh(welded, mesh.faces, process=False)
        progress(100, "done")
        return StageResult(
            outputs=[Output(model, "MODEL_3D", "glb"), Output(thumbnail, "IMAGE", "thumbnail")],
            metadata={
                "backend": self.name,
                "foreground": foreground.method,
                "foregroundCoverage": round(foreground.coverage, 4),
                "triangles": len(faces),
                "vertices": len(vertices),
                "watertight": bool(closed.is_watertight and closed.is_winding_consistent),
                "dimensionsMetres": [round(float(v), 4) for v in np.ptp(welded, axis=0)],
                "detail": params["detail"],
                "textureSize": size,
                "seconds": round(time.monotonic() - started, 2),
            },
        )


generators.register(generators.IMAGE_TO_3D, InflateReconstructor(), default=True)


def reconstruct(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """IMAGE_TO_3D stage: inputs {"image"} -> outputs glb (MODEL_3D) and thumbnail (IMAGE), by the selected backend."""
    if "image" not in inputs:
        raise BadInputError("MISSING_INPUT", "IMAGE_TO_3D needs an image.")
    return generators.run(generators.IMAGE_TO_3D, inputs, params_for("reconstruct", params), workdir, progress)
