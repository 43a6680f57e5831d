"""File formats: what each asset kind accepts on upload, and the content type of every file the platform writes."""

from __future__ import annotations

MODEL_FORMATS = ("glb", "gltf", "fbx", "obj", "stl", "ply", "usdz", "blend")

# Accepted upload formats by asset kind: extension -> allowed declared content types (the first is the preferred one).
UPLOADS: dict[str, dict[str, tuple[str, ...]]] = {
    "IMAGE": {"png": ("image/png",), "jpg": ("image/jpeg",), "jpeg": ("image/jpeg",), "webp": ("image/webp",)},
    "VIDEO": {"mp4": ("video/mp4",), "mov": ("video/quicktime",), "webm": ("video/webm",)},
    "MODEL_3D": {
        "glb": ("model/gltf-binary", "application/octet-stream"),
        "gltf": ("model/gltf+json", "application/json", "application/octet-stream"),
        "fbx": ("application/octet-stream", "model/fbx"),
        "obj": ("model/obj", "text/plain", "application/octet-stream"),
        "stl": ("model/stl", "application/sla", "application/octet-stream"),
        "ply": ("application/octet-stream", "model/ply", "text/plain"),
        "usdz": ("model/vnd.usdz+zip", "application/octet-stream"),
        "blend": ("application/octet-stream", "application/x-blender"),
    },
    "ANIMATION": {
        "bvh": ("text/plain", "application/octet-stream", "application/x-bvh"),
        "fbx": ("application/octet-stream", "model/fbx"),
        "glb": ("model/gltf-binary", "application/octet-stream"),
    },
}

# The content type of each file extension the workers write (outputs).
CONTENT_TYPES: dict[str, str] = {
    "glb": "model/gltf-binary",
    "gltf": "model/gltf+json",
    "fbx": "application/octet-stream",
    "obj": "model/obj",
    "stl": "model/stl",
    "ply": "application/octet-stream",
    "usdz": "model/vnd.usdz+zip",
    "blend": "application/octet-stream",
    "bvh": "application/octet-stream",
    "mp4": "video/mp4",
    "png": "image/png",
    "jpg": "image/jpeg",
    "json": "application/json",
    "zip": "application/zip",
}


def default_kind(ext: str) -> str | None:
    """The first asset kind that accepts an extension (None when no kind does)."""
    return next((kind for kind, exts in UPLOADS.items() if ext in exts), None)


def content_type(ext: str) -> str:
    """The content type of a written file by extension (without the dot); octet-stream when unknown."""
    return CONTENT_TYPES.get(ext.lower().lstrip("."), "application/octet-stream")
