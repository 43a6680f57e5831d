"""Check what an uploaded file really is, from its bytes (never its name or declared type)."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path


class Rejected(Exception):
    """The file is not what it claims to be, or breaks a limit; the message is shown to the user."""


def _head(path: Path, n: int = 64) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def image(path: Path, fmt: str) -> dict:
    """PNG / JPEG / WEBP: decoded header, dimensions, and a full decode to catch truncation."""
    from PIL import Image, UnidentifiedImageError

    expected = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}[fmt]
    try:
        with Image.open(path) as img:
            actual, size, mode = img.format, img.size, img.mode
            if actual != expected:
                raise Rejected(f"the file is a {actual or 'unknown'} image, not {expected}")
            img.load()
    except Image.DecompressionBombError as exc:
        raise Rejected("the image has too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise Rejected(f"the file is not a readable {expected} image") from exc
    return {"width": size[0], "height": size[1], "mode": mode, "hasAlpha": "A" in mode or mode == "P"}


def video(path: Path, fmt: str, max_seconds: float, max_pixels: int, max_frames: int) -> dict:
    """MP4 / MOV / WEBM: container magic, then OpenCV decodes it for duration, resolution and frame count."""
    import cv2

    head = _head(path, 16)
    is_iso = head[4:8] == b"ftyp"
    is_webm = head[:4] == b"\x1a\x45\xdf\xa3"
    if (fmt in ("mp4", "mov") and not is_iso) or (fmt == "webm" and not is_webm):
        raise Rejected(f"the file is not a {fmt.upper()} video")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise Rejected("the video cannot be decoded")
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, frame = capture.read()
        if not ok or frame is None:
            raise Rejected("the video has no decodable frame")
        if frames <= 0:  # some containers (webm) carry no frame count: count by decoding
            frames = 1
            while capture.grab():
                frames += 1
                if frames > max_frames:
                    break
    finally:
        capture.release()
    if fps <= 0 or fps > 480:
        raise Rejected("the video has no usable frame rate")
    duration = frames / fps
    if width * height > max_pixels:
        raise Rejected(f"the video is {width}x{height}; the largest accepted is 3840x2160")
    if frames > max_frames:
        raise Rejected("the video has too many frames")
    if duration > max_seconds:
        raise Rejected(f"the video lasts {duration:.1f} s; your tier accepts up to {max_seconds:.0f} s")
    return {
        "width": width,
        "height": height,
        "fps": round(fps, 3),
        "frameCount": frames,
        "durationSeconds": round(duration, 3),
    }


def _glb(path: Path) -> dict:
    with open(path, "rb") as f:
        header = f.read(20)
        if len(header) < 20 or header[:4] != b"glTF":
            raise Rejected("the file is not a binary glTF (GLB)")
        _, version, length, chunk_len, chunk_type = struct.unpack("<4sIIII", header)
        if version != 2 or chunk_type != 0x4E4F534A or length != path.stat().st_size or chunk_len > length:
            raise Rejected("the GLB header is inconsistent (truncated or corrupt)")
        try:
            doc = json.loads(f.read(chunk_len))
        except ValueError as exc:
            raise Rejected("the GLB's JSON chunk is corrupt") from exc
    return _gltf_summary(doc)


def _gltf_summary(doc: dict) -> dict:
    if not isinstance(doc, dict) or str(doc.get("asset", {}).get("version", "")) not in ("2.0", "2"):
        raise Rejected("the file is not glTF 2.0")
    accessors = doc.get("accessors", [])
    triangles = 0
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []):
            if prim.get("mode", 4) != 4:
                continue
            ref = prim.get("indices", prim.get("attributes", {}).get("POSITION"))
            if isinstance(ref, int) and 0 <= ref < len(accessors):
                triangles += int(accessors[ref].get("count", 0)) // 3
    return {
        "meshes": len(doc.get("meshes", [])),
        "triangles": triangles,
        "skins": len(doc.get("skins", [])),
        "animations": len(doc.get("animations", [])),
        "nodes": len(doc.get("nodes", [])),
    }


def _trimesh(path: Path, fmt: str) -> dict:
    import trimesh

    try:
        loaded = trimesh.load(str(path), file_type=fmt, force="scene", process=False)
    except Exception as exc:  # trimesh raises many types on corrupt input
        raise Rejected(f"the file is not a readable {fmt.upper()} model") from exc
    meshes = [g for g in loaded.geometry.values() if hasattr(g, "faces")]  # type: ignore[attr-defined]
    triangles = int(sum(len(g.faces) for g in meshes))
    if not meshes or triangles == 0:
        raise Rejected(f"the {fmt.upper()} file holds no triangles")
    bounds = loaded.bounds
    return {
        "meshes": len(meshes),
        "triangles": triangles,
        "vertices": int(sum(len(g.vertices) for g in meshes)),
        "bounds": [[round(float(v), 6) for v in row] for row in bounds],
    }


def _bvh(path: Path) -> dict:
    text = path.read_text(errors="replace")
    if not text.lstrip().startswith("HIERARCHY") or "MOTION" not in text:
        raise Rejected("the file is not a BVH motion")
    joints = len(re.findall(r"^\s*(ROOT|JOINT)\s", text, re.M))
    frames = re.search(r"^\s*Frames:\s*(\d+)", text, re.M)
    frame_time = re.search(r"^\s*Frame Time:\s*([0-9.eE+-]+)", text, re.M)
    if not joints or not frames or not frame_time or float(frame_time.group(1)) <= 0:
        raise Rejected("the BVH header is incomplete")
    n = int(frames.group(1))
    return {
        "joints": joints,
        "frameCount": n,
        "fps": round(1.0 / float(frame_time.group(1)), 3),
        "durationSeconds": round(n * float(frame_time.group(1)), 3),
    }


def model(path: Path, fmt: str) -> dict:
    """3D models and animations: a real parse for glTF/OBJ/STL/PLY/BVH, header checks for FBX/USDZ/BLEND."""
    head = _head(path, 32)
    if fmt == "glb":
        return _glb(path)
    if fmt == "gltf":
        try:
            return _gltf_summary(json.loads(path.read_bytes()))
        except (ValueError, UnicodeDecodeError) as exc:
            raise Rejected("the file is not glTF JSON") from exc
    if fmt == "fbx":
        if head.startswith(b"Kaydara FBX Binary  \x00"):
            return {"fbxVersion": struct.unpack("<I", head[23:27])[0], "encoding": "binary"}
        if b"FBXHeaderExtension" in path.read_bytes()[:4096]:
            return {"encoding": "ascii"}
        raise Rejected("the file is not an FBX")
    if fmt == "usdz":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile as exc:
            raise Rejected("the file is not a USDZ package") from exc
        if not names or not names[0].lower().endswith((".usdc", ".usda", ".usd")):
            raise Rejected("the USDZ package does not start with a USD layer")
        return {"files": len(names)}
    if fmt == "blend":
        if head.startswith(b"BLENDER"):
            return {"compressed": False}
        if head.startswith((b"\x28\xb5\x2f\xfd", b"\x1f\x8b")):  # zstd or gzip
            return {"compressed": True}
        raise Rejected("the file is not a .blend")
    if fmt == "bvh":
        return _bvh(path)
    if fmt in ("obj", "stl", "ply"):
        return _trimesh(path, fmt)
    raise Rejected(f"unsupported format {fmt}")
