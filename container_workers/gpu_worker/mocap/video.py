"""Streamed video decoding with OpenCV (honouring rotation metadata) and H.264 preview encoding."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from container_workers.common.stage import BadInputError

DEFAULT_FPS = 30.0
MAX_FPS = 240.0

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
        backend_rotates = (
            self._cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1) and self._cap.get(cv2.CAP_PROP_ORIENTATION_AUTO) == 1
        )
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

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PreviewWriter:
    """Streams BGR frames into an H.264 MP4 (yuv420p, faststart: plays in every browser) through the FFmpeg
    binary that the imageio-ffmpeg wheel ships (OpenCV's pip wheels cannot encode H.264)."""

    codec = "h264"

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        import subprocess

        import imageio_ffmpeg

        width, height = size
        self._process = subprocess.Popen(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-loglevel",
                "error",
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "bgr24",
                "-s",
                f"{width}x{height}",
                "-r",
                f"{fps:.6f}",
                "-i",
                "-",
                "-an",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-crf",
                "26",
                "-threads",
                "1",
                "-pix_fmt",
                "yuv420p",
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                "-movflags",
                "+faststart",
                str(path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def write(self, frame: np.ndarray) -> None:
        """Append one BGR frame of exactly the size given when opening."""
        self._process.stdin.write(np.ascontiguousarray(frame).tobytes())

    def close(self) -> None:
        """Finish the file; raise if the encoder failed."""
        self._process.stdin.close()
        error = self._process.stderr.read().decode(errors="replace")
        if self._process.wait() != 0:
            raise RuntimeError(f"the preview encoder failed: {error[-500:]}")
