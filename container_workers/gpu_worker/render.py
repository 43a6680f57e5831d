"""A tiny numpy/OpenCV rasterizer: triangle-id buffers with barycentrics, silhouettes and shaded thumbnails."""

from __future__ import annotations

import cv2
import numpy as np

_SUBPIXEL_BITS = 4
THUMBNAIL_SIZE = 512  # the stages' thumbnail.png edge in pixels


def rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """The 3x3 rotation that turns a model by `yaw` about +Y, then tilts it by `pitch` about +X."""
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rx = np.array([[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]])
    return rx @ ry


def project(
    vertices: np.ndarray,
    size: int,
    yaw: float = 0.0,
    pitch: float = 0.0,
    perspective: float = 0.0,
    margin: float = 0.06,
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (N, 2) and depth (N,, larger is nearer) of vertices seen from +Z, fitted into a size x size frame.

    `perspective` is the field of view in degrees (0: orthographic).
    """
    v = np.asarray(vertices, dtype=np.float64)
    v = (v - (v.min(axis=0) + v.max(axis=0)) / 2.0) @ rotation(yaw, pitch).T
    xy = v[:, :2].copy()
    if perspective > 0:
        radius = np.linalg.norm(v, axis=1).max()
        distance = radius / np.sin(np.radians(perspective) / 2.0)
        xy /= (distance - v[:, 2:3]) / distance
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    scale = (1.0 - 2.0 * margin) * size / max(float((hi - lo).max()), 1e-12)
    pixels = np.empty_like(xy)
    pixels[:, 0] = size / 2.0 + (xy[:, 0] - (lo[0] + hi[0]) / 2.0) * scale - 0.5
    pixels[:, 1] = size / 2.0 - (xy[:, 1] - (lo[1] + hi[1]) / 2.0) * scale - 0.5
    return pixels, v[:, 2]


def rasterize(
    pixels: np.ndarray, faces: np.ndarray, shape: tuple[int, int], depth: np.ndarray | None = None, cull: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Face-id buffer (H, W; -1 where empty) and barycentrics (H, W, 3) of triangles given in pixel coordinates.

    With `depth`, faces are painted far to near (painter's algorithm); `cull` drops triangles seen from behind
    (clockwise on screen, y down).
    """
    faces = np.asarray(faces)
    tri = pixels[faces]
    keep = np.arange(len(faces))
    if cull:
        edge1, edge2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        keep = keep[(edge1[:, 0] * edge2[:, 1] - edge1[:, 1] * edge2[:, 0]) < 0]
    if depth is not None:
        keep = keep[np.argsort(depth[faces[keep]].mean(axis=1), kind="stable")]
    ids = np.full(shape, -1, dtype=np.int32)
    fixed = np.round(tri * (1 << _SUBPIXEL_BITS)).astype(np.int32)
    for f in keep.tolist():
        cv2.fillConvexPoly(ids, fixed[f], f, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
    return ids, barycentrics(ids, tri)


def barycentrics(ids: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (H, W, 3) of each pixel centre in its triangle `tri[ids]` (clamped inside)."""
    bary = np.zeros(ids.shape + (3,), dtype=np.float32)
    rows, cols = np.nonzero(ids >= 0)
    if len(rows) == 0:
        return bary
    t = tri[ids[rows, cols]]
    p = np.stack([cols, rows], axis=1).astype(np.float64)
    v0, v1, v2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0], p - t[:, 0]
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    b1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    b2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    b = np.clip(np.stack([1.0 - b1 - b2, b1, b2], axis=1), 0.0, 1.0)
    bary[rows, cols] = b / b.sum(axis=1, keepdims=True)
    return bary


def silhouette(pixels: np.ndarray, faces: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The boolean union of all triangles given in pixel coordinates."""
    ids, _ = rasterize(pixels, faces, shape)
    return ids >= 0


def interpolate(ids: np.ndarray, bary: np.ndarray, faces: np.ndarray, attribute: np.ndarray) -> np.ndarray:
    """Per-pixel barycentric interpolation of a per-vertex attribute (N, C) -> (H, W, C); zeros where empty."""
    out = np.zeros(ids.shape + (attribute.shape[1],), dtype=np.float32)
    mask = ids >= 0
    corners = attribute[faces[ids[mask]]]
    out[mask] = np.einsum("pk,pkc->pc", bary[mask], corners)
    return out


def sample(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup of glTF texture coordinates (H, W, 2) in an RGB(A) image."""
    h, w = texture.shape[:2]
    map_x = (uv[..., 0] * w - 0.5).astype(np.float32)
    map_y = (uv[..., 1] * h - 0.5).astype(np.float32)
    return cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def shaded(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    uvs: np.ndarray,
    texture: np.ndarray,
    size: int = THUMBNAIL_SIZE,
    yaw: float = 30.0,
    pitch: float = 12.0,
    supersample: int = 2,
) -> np.ndarray:
    """An RGBA thumbnail (transparent background) of a textured mesh lit by a key and a fill light."""
    big = size * supersample
    pixels, depth = project(vertices, big, yaw, pitch, perspective=25.0)
    ids, bary = rasterize(pixels, faces, (big, big), depth, cull=True)
    mask = ids >= 0
    normal = interpolate(ids, bary, faces, np.asarray(normals, dtype=np.float64) @ rotation(yaw, pitch).T)
    normal /= np.maximum(np.linalg.norm(normal, axis=2, keepdims=True), 1e-9)
    albedo = (
        sample(texture, interpolate(ids, bary, faces, np.asarray(uvs, dtype=np.float64)))[..., :3].astype(np.float32)
        / 255.0
    )
    key = np.array([-0.45, 0.55, 0.70]) / np.linalg.norm([-0.45, 0.55, 0.70])
    fill = np.array([0.6, 0.1, 0.5]) / np.linalg.norm([0.6, 0.1, 0.5])
    light = 0.30 + 0.75 * np.clip(normal @ key, 0, None) + 0.25 * np.clip(normal @ fill, 0, None)
    linear = (albedo**2.2) * light[..., None]
    rgb = np.clip(linear, 0.0, 1.0) ** (1 / 2.2)
    rgba = np.zeros((big, big, 4), dtype=np.float32)
    rgba[..., :3] = rgb * mask[..., None]
    rgba[..., 3] = mask
    small = cv2.resize(rgba, (size, size), interpolation=cv2.INTER_AREA)
    alpha = small[..., 3:4]
    small[..., :3] = np.where(alpha > 0, small[..., :3] / np.maximum(alpha, 1e-6), 0.0)
    return np.round(np.clip(small, 0.0, 1.0) * 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """PNG-encode an RGB or RGBA uint8 image."""
    code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, code))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()
