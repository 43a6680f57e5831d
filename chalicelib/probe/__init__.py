"""Check what an uploaded file really is, from its bytes (never its name or declared type), in bounded time and memory.

Images go through Pillow (the header's size is checked before any pixel is decoded); videos, models and
motions are parsed in pure Python (`isobmff`, `matroska`, `gltf`, `meshes`, `scenes`, `bvh`), streaming, with
a time budget. Every way a file can fail to read ends as `Rejected` with a code (UNREADABLE_FILE,
WRONG_FORMAT, LIMIT_EXCEEDED) and a message naming the field and the reason - never as a crash. Whether a
video's pictures decode is the gpu worker's business: it decodes them anyway, and fails the job with a clear
error (and a refund) when they do not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from chalicelib.observability import logger
from chalicelib.probe import bvh, gltf, images, isobmff, matroska, meshes, scenes
from chalicelib.probe.common import LIMIT, UNREADABLE, WRONG_FORMAT, Budget, Rejected

__all__ = ["LIMIT", "UNREADABLE", "WRONG_FORMAT", "Rejected", "image", "model", "video"]
DEFAULT_SECONDS = 60.0


def _guarded(check: Callable[[], dict], path: Path, fmt: str) -> dict:
    """Run one check; anything but a Rejected is a checker gap, logged, and still a rejection (never a crash)."""
    try:
        return check()
    except Rejected:
        raise
    except Exception as exc:
        logger.exception("the file checker failed", extra={"format": fmt, "bytes": path.stat().st_size})
        raise Rejected(f"the {fmt.upper()} file cannot be read ({type(exc).__name__})") from exc


def image(path: Path, fmt: str, max_pixels: int, seconds: float = DEFAULT_SECONDS) -> dict:
    """PNG / JPEG / WebP: width, height, mode, hasAlpha."""
    return _guarded(lambda: images.probe(path, fmt, max_pixels, Budget(seconds)), path, fmt)


def video(
    path: Path, fmt: str, max_seconds: float, max_pixels: int, max_frames: int, seconds: float = DEFAULT_SECONDS
) -> dict:
    """MP4 / MOV / WebM: width, height, rotation, codec, fps, frameCount, durationSeconds - within the tier's limits."""

    def check() -> dict:
        budget = Budget(seconds)
        found = matroska.probe(path, budget) if fmt == "webm" else isobmff.probe(path, fmt, budget)
        width, height, frames, duration = found["width"], found["height"], found["frameCount"], found["durationSeconds"]
        if width <= 0 or height <= 0:
            raise Rejected("the video track gives no picture size")
        if not 0 < found["fps"] <= 480:
            raise Rejected(f"the video has no usable frame rate ({found['fps']:.3g} frames per second)")
        if width * height > max_pixels:
            raise Rejected(
                f"the video is {width}x{height}; the largest accepted is {max_pixels / 1e6:.1f} megapixels (3840x2160)",
                LIMIT,
            )
        if frames > max_frames:
            raise Rejected(f"the video has {frames} frames; the most accepted is {max_frames}", LIMIT)
        if duration > max_seconds:
            raise Rejected(f"the video lasts {duration:.1f} s; your tier accepts up to {max_seconds:.0f} s", LIMIT)
        return {**found, "fps": round(found["fps"], 3), "durationSeconds": round(duration, 3)}

    return _guarded(check, path, fmt)


def model(path: Path, fmt: str, seconds: float = DEFAULT_SECONDS) -> dict:
    """3D models and motions: a full structural parse for glTF/GLB/OBJ/STL/PLY/BVH, the container for FBX/USDZ/BLEND."""
    checks: dict[str, Callable[[Budget], dict]] = {
        "glb": lambda b: gltf.probe_glb(path, b),
        "gltf": lambda b: gltf.probe_gltf(path, b),
        "obj": lambda b: meshes.probe_obj(path, b),
        "stl": lambda b: meshes.probe_stl(path, b),
        "ply": lambda b: meshes.probe_ply(path, b),
        "fbx": lambda b: scenes.probe_fbx(path, b),
        "usdz": lambda b: scenes.probe_usdz(path, b),
        "blend": lambda b: scenes.probe_blend(path),
        "bvh": lambda b: bvh.probe(path, b),
    }
    if fmt not in checks:
        raise Rejected(f"unsupported format {fmt}", WRONG_FORMAT)
    return _guarded(lambda: checks[fmt](Budget(seconds)), path, fmt)
