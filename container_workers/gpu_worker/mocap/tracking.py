"""One performer, held: pick a person, keep MediaPipe on them, and refuse detections of anyone else.

MediaPipe's legacy Pose follows one person from frame to frame, but when that person is occluded, flips or leaves,
it re-detects whoever is most prominent, and it can slide onto a person who passes in front. So each frame:
- the estimator sees only a region around the performer (the rest of the frame is painted grey), which keeps
  people elsewhere in the frame out of its sight without changing coordinates (its own tracking keeps working);
- a detection is accepted only if it is where the performer can be (near the predicted box, the allowance growing
  while they are lost) and looks like them (colour histogram of the torso against a slowly updated reference);
- a refused detection resets the estimator, so it looks again instead of following the other person.
The performer is chosen on the first frame with people: the largest, the one nearest the centre, or the one in a
box the user drew; people are enumerated by detecting, painting the found person out, and detecting again.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from container_workers.gpu_worker.mocap.cleanup import REFERENCE_FPS
from container_workers.gpu_worker.mocap.estimation import LM, Detection, PoseEstimator

GREY = 114
MAX_PEOPLE = 4  # how many people are enumerated when choosing the performer
MARGIN_X, MARGIN_Y = 0.6, 0.5  # region around the performer's box, in box heights (+ the box's motion)
LOST_GROWTH = (
    0.15  # while lost, the region grows by this many box heights a frame (the allowed jump: 3x that in torsos)
)
JUMP = 1.0  # a detection's torso centre may be this many torso lengths from the predicted one (+ growth)
PREDICT_FRAMES = 3  # the performer's motion is extrapolated this many frames at most while they are lost
SIZE_RATIO = 1.5  # nor may its torso length change by more than this factor from the performer's
LOOK_DISTANCE = 0.4  # Bhattacharyya distance of torso colours above which it is someone else,
LOOK_DISTANCE_IN_PLACE = 0.6  # or, for a detection within STILL torso lengths of where the performer should be
STILL = 0.3  # (at REFERENCE_FPS or more; below it, this much more per 1/REFERENCE_FPS s between frames: at 15 fps
# a runner seen side-on strays 0.4-0.7 torso lengths from the straight-line guess and was refused)
LOOK_UPDATE = 0.03  # how fast the reference look follows the performer (lighting changes)
TORSO = [LM[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
KEY_POINTS = [LM[n] for n in ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip")] + [
    LM[f"{s}_{p}"] for s in ("left", "right") for p in ("elbow", "wrist", "knee", "ankle")
]


def person_box(det: Detection) -> np.ndarray:
    """(x0, y0, x1, y1) pixels around a detection's landmarks (including ones MediaPipe guessed)."""
    xy = det.image[KEY_POINTS, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def torso(det: Detection) -> tuple[np.ndarray, float]:
    """The torso's centre and length (shoulders' to hips' midpoint) in pixels: steadier than a box around
    landmarks MediaPipe may be guessing (legs out of frame)."""
    shoulders = det.image[[LM["left_shoulder"], LM["right_shoulder"]], :2].mean(axis=0)
    hips = det.image[[LM["left_hip"], LM["right_hip"]], :2].mean(axis=0)
    return 0.5 * (shoulders + hips), max(float(np.linalg.norm(shoulders - hips)), 1.0)


def _height(box: np.ndarray) -> float:
    return float(max(box[3] - box[1], box[2] - box[0], 1.0))


def _centre(box: np.ndarray) -> np.ndarray:
    return 0.5 * (box[:2] + box[2:])


def torso_look(rgb: np.ndarray, det: Detection) -> np.ndarray | None:
    """Normalised hue-saturation histogram of the torso quad, or None when it is too small or off screen."""
    quad = det.image[TORSO, :2].astype(np.int32)
    x0, y0 = np.maximum(quad.min(axis=0), 0)
    x1, y1 = np.minimum(quad.max(axis=0) + 1, [rgb.shape[1], rgb.shape[0]])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    patch = rgb[y0:y1, x0:x1]
    mask = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, quad - [x0, y0], 255)
    hsv = cv2.cvtColor(patch, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask, [12, 4], [0, 180, 0, 256])
    total = float(hist.sum())
    return hist / total if total > 0 else None


def look_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two looks: 0 the same, 1 nothing in common."""
    return float(cv2.compareHist(a.astype(np.float32), b.astype(np.float32), cv2.HISTCMP_BHATTACHARYYA))


def parse_choice(text: str) -> str | np.ndarray:
    """The `performer` param: "largest", "center", or a normalised box "x0,y0,x1,y1"; ValueError otherwise."""
    if text in ("largest", "center"):
        return text
    parts = [float(v) for v in text.split(",")]
    if len(parts) != 4 or not all(0.0 <= v <= 1.0 for v in parts) or parts[2] <= parts[0] or parts[3] <= parts[1]:
        raise ValueError(text)
    return np.array(parts)


def choose(people: list[Detection], choice: str | np.ndarray, width: int, height: int) -> int:
    """Which of `people` is the performer: the largest box, the nearest the centre, or the best overlap with a box."""
    boxes = [person_box(p) for p in people]
    if isinstance(choice, str) and choice == "largest":
        return int(np.argmax([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]))
    if isinstance(choice, str):
        centre = np.array([width / 2, height / 2])
        return int(np.argmin([np.linalg.norm(_centre(b) - centre) for b in boxes]))
    want = choice * [width, height, width, height]

    def overlap(b: np.ndarray) -> float:
        w = max(0.0, min(b[2], want[2]) - max(b[0], want[0]))
        h = max(0.0, min(b[3], want[3]) - max(b[1], want[1]))
        return w * h / ((b[2] - b[0]) * (b[3] - b[1]) + (want[2] - want[0]) * (want[3] - want[1]) - w * h)

    return int(np.argmax([overlap(b) for b in boxes]))


def paint_out(rgb: np.ndarray, box: np.ndarray, grow: float = 0.3) -> np.ndarray:
    """A copy of the frame with a box painted grey, grown a little (and above the nose, to the top of the head)."""
    out = rgb.copy()
    pad = grow * _height(box)
    x0, y0 = np.maximum((box[:2] - [pad, 2 * pad]).astype(int), 0)
    x1, y1 = (box[2:] + pad).astype(int)
    out[y0:y1, x0:x1] = GREY
    return out


@dataclass
class TrackStats:
    """What the tracker did: people seen at the start, detections refused as someone else, re-acquisitions."""

    people: int = 0
    refused: int = 0
    reacquired: int = 0


class PerformerTracker:
    """Per-frame landmarks of one chosen person (None when they are not found, or only someone else is)."""

    def __init__(self, estimator: PoseEstimator, width: int, height: int, fps: float, choice: str | np.ndarray):
        self._estimator = estimator
        self._size = (width, height)
        self._fps = fps
        self._choice = choice
        self._box: np.ndarray | None = None
        self._velocity = np.zeros(2)
        self._centre = np.zeros(2)  # torso centre, pixels
        self._torso = 1.0  # torso length, pixels
        self._look: np.ndarray | None = None
        self._lost = 0
        self.stats = TrackStats()

    def _enumerate(self, rgb: np.ndarray) -> list[Detection]:
        """Up to MAX_PEOPLE people in one frame (detect, paint out, detect again) with a single-image estimator."""
        people: list[Detection] = []
        with PoseEstimator(static=True) as finder:
            frame = rgb
            for _ in range(MAX_PEOPLE):
                det = finder.detect(frame)
                if det is None:
                    break
                people.append(det)
                frame = paint_out(frame, person_box(det))
        return people

    def _region(self) -> tuple[int, int, int, int]:
        assert self._box is not None
        h = _height(self._box) * (1.0 + LOST_GROWTH * self._lost)
        shift = np.abs(self._velocity) * min(1 + self._lost, PREDICT_FRAMES) * 2
        x0 = self._box[0] - MARGIN_X * h - shift[0]
        x1 = self._box[2] + MARGIN_X * h + shift[0]
        y0 = self._box[1] - MARGIN_Y * h - shift[1]
        y1 = self._box[3] + MARGIN_Y * h + shift[1]
        w, hh = self._size
        return max(0, int(x0)), max(0, int(y0)), min(w, int(x1) + 1), min(hh, int(y1) + 1)

    def _masked(self, rgb: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self._region()
        if x0 == 0 and y0 == 0 and x1 >= rgb.shape[1] and y1 >= rgb.shape[0]:
            return rgb
        out = np.full_like(rgb, GREY)
        out[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
        return out

    def _is_performer(self, det: Detection, look: np.ndarray | None) -> bool:
        centre, length = torso(det)
        predicted = self._centre + self._velocity * min(1 + self._lost, PREDICT_FRAMES)
        off = np.linalg.norm(centre - predicted) / self._torso
        if off > JUMP + 3 * LOST_GROWTH * self._lost:
            return False
        ratio = length / self._torso
        if not 1 / (SIZE_RATIO + 0.1 * self._lost) < ratio < SIZE_RATIO + 0.1 * self._lost:
            return False
        if look is None or self._look is None:
            return True
        # Where it should be, a turning performer may look different; off the prediction, it must look the same.
        still = STILL * max(1.0, REFERENCE_FPS / self._fps)
        return look_distance(look, self._look) < (LOOK_DISTANCE if off > still else LOOK_DISTANCE_IN_PLACE)

    def _accept(self, det: Detection, look: np.ndarray | None) -> Detection:
        centre, length = torso(det)
        if self._box is not None:
            step = (centre - self._centre) / (1 + self._lost)
            self._velocity = 0.6 * self._velocity + 0.4 * step
            self._torso = 0.8 * self._torso + 0.2 * length
        else:
            self._torso = length
        if self._lost:
            self.stats.reacquired += 1
        self._box, self._centre, self._lost = person_box(det), centre, 0
        if look is not None:
            self._look = look if self._look is None else (1 - LOOK_UPDATE) * self._look + LOOK_UPDATE * look
        return det

    def detect(self, rgb: np.ndarray) -> Detection | None:
        """The performer's landmarks in this frame, or None."""
        if self._box is None:  # nobody chosen yet: enumerate the people in this frame and pick one
            people = self._enumerate(rgb)
            if not people:
                return None
            self.stats.people = len(people)
            chosen = people[choose(people, self._choice, *self._size)]
            self._accept(chosen, torso_look(rgb, chosen))
            det = self._estimator.detect(self._masked(rgb))  # start the video-mode tracker on them
            if det is None or not self._is_performer(det, torso_look(rgb, det)):
                self._estimator.reset()
                return chosen
            return self._accept(det, torso_look(rgb, det))
        det = self._estimator.detect(self._masked(rgb))
        if det is not None:
            look = torso_look(rgb, det)
            if self._is_performer(det, look):
                return self._accept(det, look)
            self.stats.refused += 1
            self._estimator.reset()  # look again next frame instead of following someone else
        self._lost += 1
        return None
