"""Test videos made in code: scikit-image's astronaut (a person) moved over a canvas with known transforms."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from ai3d.demo import write_video  # noqa: F401  (the one MP4 writer; the mocap tests use it from here)

BACKGROUND = (70, 80, 90)


def astronaut_bgr() -> np.ndarray:
    """The 512x512 astronaut portrait (head to hips) as BGR."""
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def astronaut_frame(size: tuple[int, int], centre: tuple[float, float], side: float, angle: float = 0.0) -> np.ndarray:
    """A canvas of `size` (w, h) with the astronaut `side` pixels wide centred at `centre`, turned `angle` degrees counter-clockwise."""
    m = cv2.getRotationMatrix2D((256.0, 256.0), angle, side / 512.0)
    m[:, 2] += (centre[0] - 256.0, centre[1] - 256.0)
    return cv2.warpAffine(astronaut_bgr(), m, size, borderValue=BACKGROUND)


def blank_frame(size: tuple[int, int]) -> np.ndarray:
    """A canvas with nobody on it, with some texture so the encoder has something to code."""
    w, h = size
    frame = np.full((h, w, 3), BACKGROUND, np.uint8)
    cv2.rectangle(frame, (w // 4, h // 3), (w // 2, h // 2), (40, 160, 200), -1)
    return frame


def set_rotation(path: Path, degrees: int) -> None:
    """Give an MP4 display rotation metadata (its video track's tkhd matrix), as phones do."""
    blob = bytearray(path.read_bytes())
    at = blob.find(b"tkhd")
    version = blob[at + 4]
    matrix = at + 8 + (32 if version == 1 else 20) + 16
    c, s = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[degrees]
    one = 1 << 16
    blob[matrix : matrix + 36] = struct.pack(">9i", c * one, s * one, 0, -s * one, c * one, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(blob))
