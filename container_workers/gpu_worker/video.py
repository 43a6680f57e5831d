"""Streamed video decoding (honouring rotation metadata) and preview encoding with OpenCV."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from container_workers.common.stage import BadInputError

DEFAULT_FPS = 30.0
MAX_FPS = 240.0
PREVIEW_CODECS = ("avc1", "mp4v")  # H.264 first; the opencv pip wheels' FFmpeg has no H.264 encoder.

_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass(frozen=True)
class VideoInfo:
    """What a video declares: displayed size (after rotation), frame rate, frame count estimate, rotation."""

    width: int
    height: int
    fps: float
    frame_count: int  # the container's estimate; 0 when unknown
    rotation: int  # degrees clockwise the stored frames are turned for display (0, 90, 180, 270)


class VideoReader:
    """Decodes a video one frame at a time, upright (rotation metadata applied)."""

    def __init__(self, path: Path):
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            self._cap.release()
            raise BadInputError("UNREADABLE_VIDEO", "The file could not be opened as a video.")
        rotation = int(round(self._cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
        # Ask the backend to rotate; if it cannot, rotate each frame here.
        backend_rotates = self._cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1) and self._cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) == 1
        self._rotate = None if backend_rotates or rotation not in _ROTATIONS else _ROTATIONS[rotation]
        ok, first = self._cap.read()
        if not ok or first is None or first.size == 0:
            self._cap.release()
            raise BadInputError("UNREADABLE_VIDEO", "The video has no decodable frames.")
        self._first: np.ndarray | None = self._upright(first)
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        fps = fps if math.isfinite(fps) and 0 < fps <= MAX_FPS else DEFAULT_FPS
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        count = int(count) if math.isfinite(count) and count > 0 else 0
        h, w = self._first.shape[:2]
        self.info = VideoInfo(width=w, height=h, fps=float(fps), frame_count=count, rotation=rotation)

    def _upright(self, frame: np.ndarray) -> np.ndarray:
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return frame if self._rotate is None else cv2.rotate(frame, self._rotate)

    def frames(self) -> Iterator[np.ndarray]:
        """Yield upright BGR frames in order; only one decoded frame is held at a time."""
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        while True:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return
            yield self._upright(frame)

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PreviewWriter:
    """Writes an MP4 with the first codec this OpenCV build can encode (see PREVIEW_CODECS)."""

    _unusable: set[str] = set()  # codecs this process already failed to open (OpenCV logs an error each try)

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        for codec in PREVIEW_CODECS:
            if codec in self._unusable:
                continue
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
            if writer.isOpened():
                self._writer, self.codec = writer, codec
                return
            writer.release()
            self._unusable.add(codec)
        raise RuntimeError(f"no usable video encoder among {PREVIEW_CODECS}")

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR frame of exactly the size given when opening."""
        self._writer.write(frame)

    def close(self) -> None:
        """Finish the file."""
        self._writer.release()
