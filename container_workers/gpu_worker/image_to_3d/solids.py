"""Shape priors for objects seen once: a box, a body of revolution (lathe), or an inflated silhouette.

The silhouette decides: a convex quadrilateral, or a hexagon whose opposite edges are parallel and equal, is a box (a
hexagon is a box seen towards a corner: its three edge directions, made orthogonal in 3D, give the box's depth; a
quadrilateral is a box face-on, given a depth in proportion); a silhouette that is one interval per row and mirror
symmetric about a vertical axis is a lathe (cups, bottles, vases: each row is a circle); anything else is inflated.

Every solid is a closed mesh in working pixels (x right, y down, z towards the viewer) whose vertices are marked
FRONT (seen in the photo) or BACK, split where the two meet (a texture seam) but welded for the watertight check.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from container_workers.gpu_worker.image_to_3d import inflate

FRONT, BACK = inflate.FRONT, inflate.BACK
SYMMETRY = 0.94  # mirror IoU from which a row-convex silhouette is a lathe
ROW_CONVEX = 0.97  # share of rows that must be a single interval
BOX_FIT = 0.95  # IoU of the silhouette with the fitted box outline
FACE_ON_DEPTH = 0.6  # a face-on box is this deep relative to its shorter side


@dataclass
class Solid:
    """A closed mesh with a FRONT / BACK mark per vertex and, per vertex, the vertex it welds to (the seam)."""

    vertices: np.ndarray  # (N, 3) working pixels
    faces: np.ndarray  # (M, 3) counter-clockwise seen from outside in a y-up frame (x, -y, z)
    side: np.ndarray  # (N,) FRONT or BACK
    weld: np.ndarray  # (N,) the vertex each one is the same point as (itself when not on a seam)
    kind: str  # "box", "lathe" or "inflate"
    patch: np.ndarray | None = None  # (N,) for hidden flat faces: which patch colours them (-1: none)
    patches: list[np.ndarray] | None = None  # per patch, the outline (K, 2) in the photo whose colour it takes


def from_height_mesh(mesh: inflate.HeightMesh) -> Solid:
    """An inflated mesh with its outline (RIM) vertices split into a front and a back copy."""
    rim = np.nonzero(mesh.side == inflate.RIM)[0]
    n = len(mesh.vertices)
    remap = np.arange(n)
    remap[rim] = np.arange(n, n + len(rim))
    faces = mesh.faces.copy()
    is_back = (mesh.side[mesh.faces] == inflate.BACK).any(axis=1)
    faces[is_back] = remap[faces[is_back]]
    side = np.concatenate([np.where(mesh.side == inflate.BACK, BACK, FRONT), np.full(len(rim), BACK)])
    weld = np.concatenate([np.arange(n), rim])
    return Solid(np.concatenate([mesh.vertices, mesh.vertices[rim]]), faces, side, weld, "inflate")


def _outward(vertices: np.ndarray, faces: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Faces wound counter-clockwise seen from outside in the y-up frame, given a point inside the solid."""
    q = vertices * (1.0, -1.0, 1.0)
    tri = q[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = tri.mean(axis=1) - inside * (1.0, -1.0, 1.0)
    flip = np.einsum("ij,ij->i", normal, out) < 0
    faces = faces.copy()
    faces[flip] = faces[flip][:, ::-1]
    return faces


# ---- boxes ----------------------------------------------------------------------------------------------------------
def _polygon(mask: np.ndarray) -> np.ndarray | None:
    """A convex outline (K, 2) of the mask with 4 or 6 corners, or None when the mask is not that."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    if cv2.contourArea(contour) < 0.95 * cv2.contourArea(hull):
        return None
    corners = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)[:, 0].astype(np.float64)
    return corners if len(corners) in (4, 6) else None


def _fill_iou(mask: np.ndarray, polygon: np.ndarray) -> float:
    drawn = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(drawn, [np.round(polygon).astype(np.int32)], 1)
    drawn = drawn > 0
    return float((drawn & mask).sum() / max((drawn | mask).sum(), 1))


def _faces_up(corner: np.ndarray, vectors: np.ndarray) -> bool:
    """Whether one of the box's faces the viewer sees looks up (image y points down)."""
    centre = corner + vectors.sum(axis=0) / 2.0
    for i in range(3):
        normal = np.cross(vectors[(i + 1) % 3], vectors[(i + 2) % 3])
        for face_centre in (corner + vectors.sum(axis=0) / 2.0 - vectors[i] / 2.0, centre + vectors[i] / 2.0):
            out = normal * np.sign(normal @ (face_centre - centre))
            if out[2] > 1e-9 and out[1] < -0.2 * np.linalg.norm(out):
                return True
    return False


def fit_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(one corner (3,), three orthogonal edge vectors (3, 3)) of a box whose outline is the mask's, or None."""
    polygon = _polygon(mask)
    if polygon is None:
        return None
    edges = np.roll(polygon, -1, axis=0) - polygon
    k = len(polygon) // 2
    if np.linalg.norm(edges[:k] + edges[k:], axis=1).max() > 0.15 * np.linalg.norm(edges, axis=1).min():
        return None  # opposite edges are not parallel and equal
    half = (edges[:k] - edges[k:]) / 2.0
    start = polygon.mean(axis=0) - half.sum(axis=0) / 2.0
    outline = start + np.roll(np.cumsum(np.concatenate([half, -half]), axis=0), 1, axis=0)
    if _fill_iou(mask, outline) < BOX_FIT:
        return None
    if k == 2:
        depth = FACE_ON_DEPTH * min(np.linalg.norm(half[0]), np.linalg.norm(half[1]))
        return np.array([*start, 0.0]), np.array([[*half[0], 0.0], [*half[1], 0.0], [0.0, 0.0, -depth]])
    a, b, c = half
    ab, ac, bc = a @ b, a @ c, b @ c
    if abs(bc) < 1e-9 or -ab * ac / bc <= 0:
        return None
    za = np.sqrt(-ab * ac / bc)
    vectors = np.array([[*a, za], [*b, -ab / za], [*c, -ac / za]])
    corner = np.array([*start, 0.0])
    if not _faces_up(corner, vectors):
        vectors[:, 2] *= -1.0  # of the two boxes with this outline (Necker's), the one seen from above
    return corner, vectors


def box_solid(corner: np.ndarray, vectors: np.ndarray) -> Solid:
    """The box's six faces, each its own four vertices, two triangles each.

    A face that looks at the viewer is FRONT (the photo); a hidden one is BACK and flat, in the colour of the visible
    face across the box from it (or of the largest visible face when that one is hidden too).
    """
    cube = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=np.float64)
    points = corner + cube @ vectors
    centre = points.mean(axis=0)
    quads = {  # (axis, end) -> corner ids
        (0, 0): (0, 1, 3, 2),
        (0, 1): (4, 5, 7, 6),
        (1, 0): (0, 1, 5, 4),
        (1, 1): (2, 3, 7, 6),
        (2, 0): (0, 2, 6, 4),
        (2, 1): (1, 3, 7, 5),
    }
    facing = {}
    for key, ids in quads.items():
        normal = np.cross(points[ids[1]] - points[ids[0]], points[ids[3]] - points[ids[0]])
        normal *= np.sign(normal @ (points[list(ids)].mean(axis=0) - centre))
        facing[key] = normal[2] / np.linalg.norm(normal)
    visible = {key for key, z in facing.items() if z > 1e-6}
    largest = max(visible, key=lambda key: _area(points[list(quads[key])][:, :2]))

    def source_of(key: tuple[int, int]) -> tuple[int, int]:
        opposite = (key[0], 1 - key[1])
        return opposite if opposite in visible else largest

    sources = sorted({source_of(key) for key in quads if key not in visible})
    vertices, side, weld, faces, patch = [], [], [], [], []
    for key, ids in quads.items():
        base = len(vertices)
        vertices.extend(points[list(ids)])
        weld.extend(ids)
        faces.extend([(base, base + 1, base + 2), (base, base + 2, base + 3)])
        if key in visible:
            side.extend([FRONT] * 4)
            patch.extend([-1] * 4)
        else:
            side.extend([BACK] * 4)
            patch.extend([sources.index(source_of(key))] * 4)
    vertices_array = np.array(vertices)
    first = {corner_id: i for i, corner_id in reversed(list(enumerate(weld)))}
    welded = np.array([first[c] for c in weld])
    faces_array = _outward(vertices_array, np.array(faces), centre)
    outlines = [points[list(quads[key])][:, :2] for key in sources]
    vertices_array[:, 2] -= (vertices_array[:, 2].min() + vertices_array[:, 2].max()) / 2.0
    return Solid(vertices_array, faces_array, np.array(side), welded, "box", np.array(patch), outlines)


def _area(polygon: np.ndarray) -> float:
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * abs(float(x @ np.roll(y, -1) - y @ np.roll(x, -1)))


# ---- lathes ---------------------------------------------------------------------------------------------------------
def row_extents(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows that hold the mask, and their leftmost and rightmost pixel."""
    rows = np.nonzero(mask.any(axis=1))[0]
    left = np.argmax(mask[rows], axis=1)
    right = mask.shape[1] - 1 - np.argmax(mask[rows, ::-1], axis=1)
    return rows, left, right


def mirror_symmetry(mask: np.ndarray) -> tuple[float, float]:
    """(IoU of the rows' extents with their mirror image about the best vertical axis, that axis's x)."""
    rows, left, right = row_extents(mask)
    if len(rows) == 0:
        return 0.0, 0.0
    axis = float(np.median((left + right) / 2.0))
    mirrored_left, mirrored_right = 2 * axis - right, 2 * axis - left
    overlap = np.clip(np.minimum(right, mirrored_right) - np.maximum(left, mirrored_left) + 1, 0, None)
    union = np.maximum(right, mirrored_right) - np.minimum(left, mirrored_left) + 1
    return float(overlap.sum() / union.sum()), axis


def is_row_convex(mask: np.ndarray) -> bool:
    """Whether nearly every row of the mask is one unbroken interval."""
    rows, left, right = row_extents(mask)
    if len(rows) == 0:
        return False
    return float(np.mean(mask[rows].sum(axis=1) >= 0.98 * (right - left + 1))) >= ROW_CONVEX


def lathe_solid(mask: np.ndarray, axis: float, target_triangles: int) -> Solid:
    """A body of revolution about the vertical line x = axis whose radius per row is the mask's half width.

    Each ring is split at the silhouette (+-90 degrees from the viewer) into a FRONT and a BACK half; flat caps close
    the top and the bottom.
    """
    rows, left, right = row_extents(mask)
    widths = ((right - left + 1) / 2.0).astype(np.float64).reshape(-1, 1)
    radius = np.maximum(cv2.GaussianBlur(widths, (1, 0), 1.0).ravel(), 0.5)
    segments = int(np.clip(4 * round(np.sqrt(target_triangles / 8.0) / 2), 16, 256))  # a multiple of 4
    count = int(np.clip(target_triangles // (2 * segments), 8, len(rows)))
    heights = np.linspace(rows[0] - 0.5, rows[-1] + 0.5, count)
    radii = np.interp(heights, rows, radius)
    half = segments // 2
    front_angles = np.linspace(-np.pi / 2, np.pi / 2, half + 1)
    back_angles = np.linspace(np.pi / 2, 3 * np.pi / 2, half + 1)
    vertices, side, faces = [], [], []
    for angles, mark in ((front_angles, FRONT), (back_angles, BACK)):
        base = len(vertices)
        for y, r in zip(heights, radii):
            vertices.extend(np.column_stack([axis + r * np.sin(angles), np.full(len(angles), y), r * np.cos(angles)]))
        side.extend([mark] * (count * len(angles)))
        width = len(angles)
        for k in range(count - 1):
            for a in range(width - 1):
                p, q = base + k * width + a, base + (k + 1) * width + a
                faces.extend([(p, q, q + 1), (p, q + 1, p + 1)])
        for k, y in ((0, heights[0]), (count - 1, heights[-1])):  # caps: a fan around a centre vertex
            centre = len(vertices)
            vertices.append(np.array([axis, y, 0.0]))
            side.append(mark)
            ring = base + k * width
            faces.extend((centre, ring + a, ring + a + 1) for a in range(width - 1))
    vertices_array = np.array(vertices)
    keys = np.round(vertices_array, 6)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    weld = first[inverse.ravel()]
    faces_array = np.array(faces)
    tri = vertices_array[faces_array] * (1.0, -1.0, 1.0)  # y up
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    centroid = tri.mean(axis=1)
    out = np.column_stack([centroid[:, 0] - axis, np.zeros(len(tri)), centroid[:, 2]])  # sides: away from the axis
    cap = np.abs(tri[:, :, 1] - tri[:, :1, 1]).max(axis=1) < 1e-9  # caps: up at the top, down at the bottom
    out[cap] = [0.0, 1.0, 0.0] * np.where(centroid[cap, 1] > -(heights[0] + heights[-1]) / 2.0, 1.0, -1.0)[:, None]
    flip = np.einsum("ij,ij->i", normal, out) < 0
    faces_array[flip] = faces_array[flip][:, ::-1]
    return Solid(vertices_array, faces_array, np.array(side), weld, "lathe")


def filled(mask: np.ndarray) -> np.ndarray:
    """The mask with every hole filled (what is not reachable from the border through the background)."""
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8), (0, 0), 2)
    return (flood != 2)[1:-1, 1:-1]


def classify(mask: np.ndarray, requested: str = "auto") -> tuple[str, object]:
    """The shape prior for a (hole-filled) mask ("box", "lathe" or "inflate") and what building it needs (box: corner
    and edges; lathe: the axis); `requested` forces one (a box or lathe that does not fit falls back to inflation)."""
    if requested in ("auto", "box"):
        box = fit_box(mask)
        if box is not None:
            return "box", box
    if requested in ("auto", "lathe"):
        symmetry, axis = mirror_symmetry(mask)
        if requested == "lathe" or (symmetry >= SYMMETRY and is_row_convex(mask)):
            return "lathe", axis
    return "inflate", None
