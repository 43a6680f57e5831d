"""Which way the performer faces, where MediaPipe Pose cannot tell: its face detector on a crop of the head.

MediaPipe Pose now and then turns a person round: it labels them facing away, 2D labels and 3D depth together, so
its own outputs stay consistent (and its face landmarks keep full visibility). Where the labels flip every frame or
two, the clean-up's label-swap search has only the motion to go by and can settle one step out of phase
(bench/mocap_quality's wave at 15 fps). A frontal face in the image settles it: the person faces the camera. The
check runs only where the pose's facing jumps between frames, so it costs nothing on most clips.
"""

from __future__ import annotations

import cv2
import numpy as np

from container_workers.gpu_worker.mocap.cleanup import heading, heading_change
from container_workers.gpu_worker.mocap.estimation import LM, Detection

FACE_SCORE = 0.8  # the face detector's score from which a face is frontal (a three-quarter back view scored 0.7)
JUMP_DEGREES = 90.0  # the pose's shoulder line turning by more than this in a frame is a facing flip to check
CROP_SIZE = 128  # pixels: the head crop the short-range face model is given
HEAD = [LM[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "mouth_left", "mouth_right")]


def shoulder_heading(det: Detection) -> float:
    """The direction (radians, about the vertical) of the left-to-right shoulder line in the 3D estimate."""
    return float(heading(det.world[LM["left_shoulder"]] - det.world[LM["right_shoulder"]]))


def turned(a: float, b: float) -> bool:
    """Whether two shoulder headings differ by more than JUMP_DEGREES."""
    return bool(heading_change(a, b) > np.radians(JUMP_DEGREES))


class FaceCheck:
    """MediaPipe's short-range face detector (shipped in the wheel) on a square crop around a detection's head."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._model = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)

    def frontal(self, rgb: np.ndarray, det: Detection) -> bool:
        """Whether a face scoring FACE_SCORE or more is in the crop around `det`'s head in the RGB frame."""
        xy = det.image[HEAD, :2]
        shoulders = np.linalg.norm(det.image[LM["left_shoulder"], :2] - det.image[LM["right_shoulder"], :2])
        half = 0.9 * max(float(shoulders), float(np.ptp(xy, axis=0).max()), 8.0)
        x0, y0 = np.maximum((xy.mean(axis=0) - half).astype(int), 0)
        x1, y1 = (xy.mean(axis=0) + half).astype(int)
        crop = rgb[y0:y1, x0:x1]
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            return False
        result = self._model.process(cv2.resize(crop, (CROP_SIZE, CROP_SIZE)))
        return any(d.score[0] >= FACE_SCORE for d in result.detections or [])

    def close(self) -> None:
        """Free the MediaPipe graph."""
        self._model.close()


class FlipWatch:
    """Frame by frame: where the pose's facing jumps between two detections, the face check on both frames.

    `face` (one bool a frame fed) says where a frontal face was seen; frames not checked are False.
    """

    def __init__(self) -> None:
        self._check = FaceCheck()
        self.face: list[bool] = []
        self._last: tuple[int, np.ndarray, Detection, float] | None = None  # index, frame, detection, heading
        self._checked = -1  # the last frame index checked

    def add(self, rgb: np.ndarray, det: Detection | None) -> None:
        """Take the next frame and its detection (None: nobody found)."""
        self.face.append(False)
        if det is None:
            return
        index, facing = len(self.face) - 1, shoulder_heading(det)
        if self._last is not None and turned(facing, self._last[3]):
            before, frame, last_det, _ = self._last
            if self._checked != before:
                self.face[before] = self._check.frontal(frame, last_det)
            self.face[index], self._checked = self._check.frontal(rgb, det), index
        self._last = (index, rgb, det, facing)

    def close(self) -> None:
        """Free the face detector."""
        self._check.close()
