"""IMAGE_TO_3D: the `reconstruct` stage, and its classical backend (foreground -> inflated watertight mesh -> photo texture)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import scipy.ndimage
import trimesh
from PIL import Image, ImageOps

from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for
from container_workers.gpu_worker import generators, render
from container_workers.gpu_worker.exchange import gltf
from container_workers.gpu_worker.image_to_3d import backs, inflate, solids
from container_workers.gpu_worker.image_to_3d.foreground import Foreground, find_subjects

MAX_SIDE = 2048  # photos are processed at most this large
MIN_SIDE = 32
OBJECT_SIZE = 1.0  # metres: the model's longest side in the image plane
_RELIEF = 0.006  # front relief per standard deviation of the photo's fine luminance, as a fraction of the object size
MAX_SUBJECTS = 9  # with subjects=all, at most this many meshes
COMPACT = 0.8  # an object whose silhouette fills this share of its convex hull is compact...
COMPACT_DEPTH = 0.55  # ... and is made at least this deep relative to its width


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


def _working_mask(
    foreground: Foreground, target_triangles: int
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int, int, int]]:
    """The subject's mask cropped to its box and resampled (longer side 256..1024 px), that size, and the box."""
    x0, y0, cw, ch = _crop_box(foreground.mask)
    side = int(np.clip(3.0 * np.sqrt(target_triangles), 256, 1024))
    scale = side / max(cw, ch)
    size = (max(8, round(cw * scale)), max(8, round(ch * scale)))
    crop = foreground.mask[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32)
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA) > 0.5, size, (x0, y0, cw, ch)


def inflated(
    mask: np.ndarray, gray: np.ndarray | None, detail: float, target_triangles: int, compact: bool
) -> inflate.HeightMesh:
    """The inflated silhouette (relief from the photo's grey levels when `gray` is given); a compact object is made at
    least COMPACT_DEPTH of its width deep, so it is a solid and not a cushion."""
    side = max(mask.shape)
    sigma = 0.5 + 2.0 * (1.0 - detail)
    sdf = cv2.GaussianBlur(inflate.signed_distance(mask), (0, 0), sigma)
    height = inflate.poisson_height(sdf)
    relief = None
    if detail > 0 and gray is not None:
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
    mesh = inflate.smooth_depth(mesh)
    if compact:
        width = float(np.ptp(mesh.vertices[:, 0]))
        depth = float(np.ptp(mesh.vertices[:, 2]))
        if depth < COMPACT_DEPTH * width:
            mesh.vertices[:, 2] *= COMPACT_DEPTH * width / max(depth, 1e-9)
    return mesh


def _solidity(mask: np.ndarray) -> float:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    area = sum(cv2.contourArea(c) for c in contours)
    hull = cv2.contourArea(cv2.convexHull(np.concatenate(contours))) if contours else 0.0
    return area / hull if hull > 0 else 0.0


def build_solid(
    foreground: Foreground, rgb: np.ndarray, params: dict
) -> tuple[solids.Solid, tuple[int, int], tuple[int, int, int, int]]:
    """The subject's solid in working pixels of its crop, the working (width, height) and the crop box in the photo.

    A person is inflated; an object takes the shape prior its silhouette (or the `shape` param) calls for.
    """
    target = params["targetTriangles"]
    mask, size, box = _working_mask(foreground, target)
    outline = solids.filled(mask)  # letters on a label are holes in the mask, not in the object
    kind, data = ("inflate", None) if foreground.method == "person" else solids.classify(outline, params["shape"])
    if kind == "box":
        return solids.box_solid(*data), size, box
    if kind == "lathe":
        return solids.lathe_solid(outline, data, target), size, box
    x0, y0, cw, ch = box
    gray = cv2.resize(
        cv2.cvtColor(rgb[y0 : y0 + ch, x0 : x0 + cw], cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA
    )
    compact = foreground.method != "person" and _solidity(mask) >= COMPACT
    mesh = inflated(mask, gray.astype(np.float32), params["detail"], target, compact)
    return solids.from_height_mesh(mesh), size, box


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


Region = tuple[int, int, int, int]  # x, y, width, height in texels


def _split(tile: Region, tall: bool) -> tuple[Region, Region]:
    """A tile's front and back regions: side by side for tall subjects, stacked for wide ones."""
    x, y, w, h = tile
    if tall:
        return (x, y, w // 2, h), (x + w // 2, y, w // 2, h)
    return (x, y, w, h // 2), (x, y + h // 2, w, h // 2)


def build_texture(
    rgb: np.ndarray,
    foreground: Foreground,
    box: tuple[int, int, int, int],
    tile: Region,
    solid: solids.Solid,
    working_size: tuple[int, int],
    atlas: np.ndarray,
) -> tuple[Region, Region]:
    """Draw a subject's front (the photo) and back (its own colours, see backs.py) into its tile of the atlas.

    Returns the two regions. A box's hidden faces take flat colours: the back region is cut into one stripe per
    patch, each the dominant colour of the photo inside that patch's outline.
    """
    x0, y0, cw, ch = box
    front_region, back_region = _split(tile, cw <= ch)
    rw, rh = front_region[2], front_region[3]
    photo = cv2.resize(rgb[y0 : y0 + ch, x0 : x0 + cw], (rw, rh), interpolation=cv2.INTER_AREA)
    mask = (
        cv2.resize(
            foreground.mask[y0 : y0 + ch, x0 : x0 + cw].astype(np.float32), (rw, rh), interpolation=cv2.INTER_AREA
        )
        > 0.5
    )
    if solid.kind != "inflate":
        mask = solids.filled(mask)  # a label's letters are the object's, even where the cut-out missed them
    fringe = max(1, round(max(rw, rh) / 300))
    known = cv2.erode(mask.astype(np.uint8), np.ones((2 * fringe + 1, 2 * fringe + 1), np.uint8)).astype(bool)
    known = known if known.any() else mask
    front = _fill_outside(photo, known)
    if solid.kind == "lathe":
        back = backs.rows_back(front, known)
    elif solid.patches:
        back = np.zeros_like(front)
        to_region = np.array([rw / working_size[0], rh / working_size[1]])
        for k, outline in enumerate(solid.patches):
            inside = np.zeros((rh, rw), np.uint8)
            cv2.fillConvexPoly(inside, np.round(outline * to_region).astype(np.int32), 1)
            pixels = front[(inside > 0) & known]
            colour = np.median(pixels, axis=0) if len(pixels) else front[known].mean(axis=0)
            back[:, k * rw // len(solid.patches) : (k + 1) * rw // len(solid.patches)] = colour
    else:
        back = front.copy()
        if foreground.face is not None:
            _cover_face(back, known, foreground.face, (x0, y0, rw / cw, rh / ch))
        back = backs.regions_back(back, known)
    for (ox, oy, w, h), part in ((front_region, front), (back_region, back)):
        atlas[oy : oy + h, ox : ox + w] = part
    return front_region, back_region


def tiles(count: int, size: int) -> list[Region]:
    """`count` square tiles of a size x size atlas, row by row."""
    per_row = int(np.ceil(np.sqrt(count)))
    side = size // per_row
    return [((k % per_row) * side, (k // per_row) * side, side, side) for k in range(count)]


@dataclass
class Placed:
    """One subject's mesh in model space (metres) with its texture regions, and the welded faces for checks."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    welded_faces: np.ndarray
    kind: str


def place(
    solid: solids.Solid,
    working_size: tuple[int, int],
    box: tuple[int, int, int, int],
    regions: tuple[Region, Region],
    texture_size: int,
    frame: tuple[float, float, float],
) -> Placed:
    """The solid in metres (+Y up, facing +Z): photo pixels times `frame`'s metres per pixel, x about its centre x,
    y above its bottom y; UVs into the front or back region by the vertex's place in the crop."""
    x0, y0, cw, ch = box
    metres, centre_x, bottom_y = frame
    to_photo = cw / working_size[0]
    v = solid.vertices
    vertices = np.column_stack(
        [
            (x0 + v[:, 0] * to_photo - centre_x) * metres,
            (bottom_y - (y0 + v[:, 1] * to_photo)) * metres,
            v[:, 2] * to_photo * metres,
        ]
    )
    welded_faces = solid.weld[solid.faces]
    if solid.kind == "box":  # flat faces with sharp edges
        normals = trimesh.Trimesh(vertices, solid.faces, process=False).vertex_normals
    else:
        normals = trimesh.Trimesh(vertices, welded_faces, process=False).vertex_normals[solid.weld]
    unit = (v[:, :2] + 0.5) / np.array(working_size, dtype=np.float64)  # working pixel centres are at integers
    uvs = np.empty((len(v), 2))
    for mark, (ox, oy, w, h) in ((solids.FRONT, regions[0]), (solids.BACK, regions[1])):
        on = solid.side == mark
        uvs[on] = (np.clip(unit[on], 0.0, 1.0) * [w, h] + [ox, oy]) / texture_size
    if solid.patches:  # a flat face: its corners on a small square in the middle of its stripe
        ox, oy, w, h = regions[1]
        stripe = w / len(solid.patches)
        corner = np.tile([[0, 0], [1, 0], [1, 1], [0, 1]], (len(v) // 4, 1)) - 0.5
        on = solid.patch >= 0
        centre = np.column_stack([ox + (solid.patch[on] + 0.5) * stripe, np.full(int(on.sum()), oy + h / 2)])
        uvs[on] = (centre + corner[on] * 0.2 * min(stripe, h)) / texture_size
    return Placed(vertices, solid.faces, normals, uvs, welded_faces, solid.kind)


def _closed(placed: Placed) -> bool:
    mesh = trimesh.Trimesh(placed.vertices, placed.welded_faces, process=False)
    return bool(mesh.is_watertight and mesh.is_winding_consistent)


class InflateReconstructor:
    """The classical IMAGE_TO_3D backend: runs on CPU with what OpenCV, SciPy and MediaPipe ship."""

    name = "inflate"

    def generate(self, inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
        """Reconstruct `inputs["image"]` into model.glb and thumbnail.png in `workdir` (params already validated)."""
        started = time.monotonic()
        progress(2, "reading image")
        rgb, alpha = load_image(inputs["image"])
        progress(10, "finding the subjects")
        found = find_subjects(rgb, alpha, params["foreground"])
        if not found:
            raise BadInputError(
                "NO_FOREGROUND", f"No foreground object was found in the image (method: {params['foreground']})."
            )
        chosen = found[:1] if params["subjects"] == "main" else found[:MAX_SUBJECTS]
        boxes = [_crop_box(s.mask) for s in chosen]
        left = min(b[0] for b in boxes)
        right = max(b[0] + b[2] for b in boxes)
        top, bottom = min(b[1] for b in boxes), max(b[1] + b[3] for b in boxes)
        frame = (OBJECT_SIZE / max(right - left, bottom - top), (left + right) / 2.0, float(bottom))
        size = params["textureSize"]
        atlas = np.zeros((size, size, 3), np.uint8)
        budget = params["targetTriangles"] // len(chosen)
        placed: list[Placed] = []
        for k, (subject, tile) in enumerate(zip(chosen, tiles(len(chosen), size))):
            progress(30 + 40 * k / len(chosen), f"building subject {k + 1} of {len(chosen)}")
            solid, working_size, box = build_solid(subject, rgb, {**params, "targetTriangles": budget})
            regions = build_texture(rgb, subject, box, tile, solid, working_size, atlas)
            placed.append(place(solid, working_size, box, regions, size, frame))
        progress(80, "writing GLB")
        material = gltf.Material("photo", texture_png=render.png_bytes(atlas), roughness=0.85)
        meshes = [
            gltf.Mesh(
                f"subject{k}" if len(placed) > 1 else "model", p.vertices, p.faces, p.normals, p.uvs, material=material
            )
            for k, p in enumerate(placed)
        ]
        model = gltf.write_glb(workdir / "model.glb", meshes, name="IMAGE_TO_3D")
        progress(90, "rendering thumbnail")
        starts = np.cumsum([0] + [len(p.vertices) for p in placed])
        every = [np.concatenate([getattr(p, name) for p in placed]) for name in ("vertices", "normals", "uvs")]
        faces = np.concatenate([p.faces + start for p, start in zip(placed, starts)])
        thumbnail = workdir / "thumbnail.png"
        thumbnail.write_bytes(render.png_bytes(render.shaded(every[0], faces, every[1], every[2], atlas)))
        main = placed[0].vertices
        progress(100, "done")
        return StageResult(
            outputs=[Output(model, "MODEL_3D", "glb"), Output(thumbnail, "IMAGE", "thumbnail")],
            metadata={
                "backend": self.name,
                "foreground": chosen[0].method,
                "foregroundCoverage": round(sum(s.coverage for s in chosen), 4),
                "subjectsFound": len(found),
                "meshes": len(placed),
                "shapes": [p.kind for p in placed],
                "triangles": int(len(faces)),
                "vertices": int(len(every[0])),
                "watertight": all(_closed(p) for p in placed),
                "dimensionsMetres": [round(float(v), 4) for v in np.ptp(main, axis=0)],
                "depthToWidth": round(float(np.ptp(main[:, 2]) / max(np.ptp(main[:, 0]), 1e-9)), 3),
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
