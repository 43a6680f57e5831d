"""Fingers: MediaPipe Hands (model shipped in the wheel) on a crop around each wrist, and finger bone rotations.

The pose model places the wrists; a square crop around each hand (centred between the wrist and the knuckles,
sized from the forearm) is scaled to CROP pixels so even a small hand fills it, and the single-image hand model
finds its 21 landmarks there. Crops follow the pose, so the hand model never has to search the whole frame, and
each crop's hand is known to be the left or the right one without trusting the model's handedness guess.
"""

from __future__ import annotations

import cv2
import numpy as np

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.estimation import LM, MP_TO_SKELETON, Detection

CROP = 224  # pixels the hand crop is scaled to
HAND_POINTS = 21
CROP_FOREARMS = 1.3  # crop side in forearm lengths
RETRY_FRAMES = 4  # a hand not found is looked for again only every this many frames (the palm search is slow)
SIDES = ("Left", "Right")
# Landmarks of each finger's joints 1..3 and tip (MediaPipe Hands numbering).
FINGER_LANDMARKS: dict[str, tuple[int, int, int, int]] = {
    "Thumb": (1, 2, 3, 4),
    "Index": (5, 6, 7, 8),
    "Middle": (9, 10, 11, 12),
    "Ring": (13, 14, 15, 16),
    "Pinky": (17, 18, 19, 20),
}
WRIST, INDEX_MCP, MIDDLE_MCP, PINKY_MCP = 0, 5, 9, 17


def hand_crop(det: Detection, side: str, width: int, height: int) -> tuple[np.ndarray, float] | None:
    """(top-left corner in pixels, side length in pixels) of a square around one hand, or None if off screen."""
    s = side.lower()
    wrist, elbow = det.image[LM[f"{s}_wrist"], :2], det.image[LM[f"{s}_elbow"], :2]
    knuckles = 0.5 * (det.image[LM[f"{s}_index"], :2] + det.image[LM[f"{s}_pinky"], :2])
    centre = wrist + 0.6 * (knuckles - wrist)
    size = max(CROP_FOREARMS * float(np.linalg.norm(wrist - elbow)), 24.0)
    corner = centre - size / 2
    if corner[0] > width or corner[1] > height or corner[0] + size < 0 or corner[1] + size < 0:
        return None
    return corner, size


class HandEstimator:
    """MediaPipe Hands (video mode, one hand) per side, each run on a crop that follows its wrist.

    The crop is centred on the hand in every frame, so the hand model's own frame-to-frame tracking (which skips
    the palm detector while it holds the hand) keeps working although the crop moves.
    """

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        import mediapipe as mp

        self._models = [
            mp.solutions.hands.Hands(
                static_image_mode=False,
                max_num_hands=1,
                model_complexity=1,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
            for _ in SIDES
        ]
        self._wait = [0, 0]

    def detect(self, rgb: np.ndarray, det: Detection) -> tuple[np.ndarray, np.ndarray]:
        """Per hand (Left, Right): world landmarks (2, 21, 3) in skeleton axes and image points (2, 21, 2); NaN if unseen."""
        world = np.full((2, HAND_POINTS, 3), np.nan)
        image = np.full((2, HAND_POINTS, 2), np.nan)
        h, w = rgb.shape[:2]
        for k, side in enumerate(SIDES):
            crop = hand_crop(det, side, w, h)
            if crop is None or self._wait[k] > 0:
                self._wait[k] = max(0, self._wait[k] - 1)
                continue
            corner, size = crop
            scale = CROP / size
            m = np.array([[scale, 0.0, -corner[0] * scale], [0.0, scale, -corner[1] * scale]])
            patch = cv2.warpAffine(rgb, m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            result = self._models[k].process(patch)
            if not result.multi_hand_landmarks or not result.multi_hand_world_landmarks:
                self._wait[k] = RETRY_FRAMES - 1
                continue
            points = np.array([(p.x, p.y) for p in result.multi_hand_landmarks[0].landmark]) * CROP
            image[k] = corner + points / scale
            world[k] = (
                np.array([(p.x, p.y, p.z) for p in result.multi_hand_world_landmarks[0].landmark]) * MP_TO_SKELETON
            )
        return world, image

    def close(self) -> None:
        """Free the MediaPipe graphs."""
        for model in self._models:
            model.close()

    def __enter__(self) -> HandEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    e1 = _unit(primary)
    e2 = _unit(secondary - np.sum(secondary * e1, axis=-1, keepdims=True) * e1)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=-1)


def _align(primary, secondary, rest_primary, rest_secondary) -> np.ndarray:
    rest = _frame(np.asarray(rest_primary, float), np.asarray(rest_secondary, float))
    return _frame(primary, secondary) @ rest.T


def finger_rotations(hand_world: np.ndarray, hand_rot: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """World rotations of one hand and its 15 finger joints, (T, 3, 3) and (T, 15, 3, 3), from (T, 21, 3) landmarks.

    The hand turns so its knuckles point where the landmarks' do (wrist -> middle knuckle, thumb side from pinky
    to index knuckle). Each finger bone then points from its landmark to the next, keeping its twist from the palm
    (the rest pose's palm-down axes carried by the hand), so the fingers curl the way the hand faces.
    """
    p = hand_world
    off = skeleton.offsets(hands=True)
    knuckles = [off[skeleton.INDEX[f"{side}Hand{f}1"]] for f in ("Middle", "Index", "Pinky")]
    rest_across = knuckles[1] - knuckles[2]
    hand = _align(p[:, MIDDLE_MCP] - p[:, WRIST], p[:, INDEX_MCP] - p[:, PINKY_MCP], knuckles[0], rest_across)
    hand = np.where(np.isnan(hand), hand_rot, hand)
    out = np.empty((len(p), 15, 3, 3))
    i = 0
    for finger, marks in FINGER_LANDMARKS.items():
        for k in range(3):
            name = f"{side}Hand{finger}{k + 1}"
            child = skeleton.children(name, hands=True)
            rest_dir = off[skeleton.INDEX[child[0]]] if child else np.array(skeleton.end_sites(hands=True)[name])
            bone = p[:, marks[k + 1]] - p[:, marks[k]]
            rot = _align(bone, hand @ [0.0, 0.0, 1.0], rest_dir, [0.0, 0.0, 1.0])
            out[:, i] = np.where(np.isnan(rot), hand, rot)
            i += 1
    return hand, out
