"""Test media made in code: images, videos of a moving person (scikit-image's astronaut), models."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ai3d.demo import write_video  # the one MP4 writer, shared with `make demo`


def png(width: int = 64, height: int = 48, rgba: bool = False) -> bytes:
    """A small PNG; with rgba, a filled circle on a transparent background."""
    if rgba:
        img = np.zeros((height, width, 4), np.uint8)
        cv2.circle(img, (width // 2, height // 2), min(width, height) // 3, (40, 160, 220, 255), -1)
        image = Image.fromarray(img, "RGBA")
    else:
        image = Image.new("RGB", (width, height), (200, 30, 30))
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def person_video(
    path: Path, seconds: float = 2.0, fps: int = 15, size: tuple[int, int] = (320, 240), shift: int = 40
) -> Path:
    """An mp4 of the astronaut photo sliding horizontally across a grey canvas."""
    from skimage import data

    person = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    w, h = size
    person = cv2.resize(person, (int(h * 0.9), int(h * 0.9)))
    count = int(seconds * fps)

    def frames():
        for i in range(count):
            canvas = np.full((h, w, 3), 128, np.uint8)
            x = int((w - person.shape[1]) / 2 - shift / 2 + shift * i / max(1, count - 1))
            x = max(0, min(w - person.shape[1], x))
            canvas[h - person.shape[0] :, x : x + person.shape[1]] = person
            yield canvas

    return write_video(path, frames(), fps)


def empty_video(path: Path, seconds: float = 1.0, fps: int = 10, size: tuple[int, int] = (160, 120)) -> Path:
    """An mp4 of moving noise-free shapes and no person."""

    def frames():
        for i in range(int(seconds * fps)):
            frame = np.full((size[1], size[0], 3), 90, np.uint8)
            cv2.rectangle(frame, (10 + i * 3, 20), (40 + i * 3, 60), (0, 200, 0), -1)
            yield frame

    return write_video(path, frames(), fps)


def box_glb() -> bytes:
    """A unit cube as GLB (12 triangles)."""
    import trimesh

    return trimesh.creation.box().export(file_type="glb")


def sphere_glb(subdivisions: int = 3) -> bytes:
    """An icosphere as GLB."""
    import trimesh

    return trimesh.creation.icosphere(subdivisions=subdivisions).export(file_type="glb")


def glb(doc: dict, binary: bytes = b"") -> bytes:
    """A GLB container around any JSON document (valid or not) and an optional BIN chunk."""
    import json
    import struct

    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text
    if binary:
        binary += b"\0" * (-len(binary) % 4)
        chunks += struct.pack("<II", len(binary), 0x004E4942) + binary
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def bvh(frame_time: str = "0.0333333", frames: int = 3) -> bytes:
    """A two-joint BVH with the given `Frame Time:` text."""
    motion = "\n".join("0 0 0 0 0 0 0 0 0" for _ in range(frames))
    return (
        "HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        " JOINT Spine\n {\n  OFFSET 0 10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  End Site\n  {\n   OFFSET 0 10 0\n"
        f"  }}\n }}\n}}\nMOTION\nFrames: {frames}\nFrame Time: {frame_time}\n{motion}\n"
    ).encode()


def malformed_uploads() -> list[tuple[str, bytes, str, str]]:
    """The four files that once crashed the upload checker: (filename, bytes, kind, content type)."""
    return [
        ("asset-is-a-string.glb", glb({"asset": "2.0"}), "MODEL_3D", "model/gltf-binary"),
        ("meshes-is-an-int.glb", glb({"asset": {"version": "2.0"}, "meshes": 7}), "MODEL_3D", "model/gltf-binary"),
        ("asset-is-a-list.gltf", b'{"asset": ["2.0"]}', "MODEL_3D", "model/gltf+json"),
        ("frame-time.bvh", bvh("0.0.1"), "ANIMATION", "application/octet-stream"),
    ]


def wavy_grid_glb(triangles: int = 300_000, phase: float = 0.0) -> bytes:
    """A rolling height field as GLB with about `triangles` triangles (two per grid cell)."""
    import trimesh

    n = int((triangles / 2) ** 0.5) + 1
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    heights = 0.05 * np.sin(12 * u + phase) * np.cos(9 * v)
    vertices = np.column_stack([u.ravel(), heights.ravel(), v.ravel()])
    cell = (np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]).ravel()
    faces = np.concatenate(
        [np.column_stack([cell, cell + n, cell + 1]), np.column_stack([cell + 1, cell + n, cell + n + 1])]
    )
    return trimesh.Trimesh(vertices, faces, process=False).export(file_type="glb")
