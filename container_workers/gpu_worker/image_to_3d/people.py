"""People in a photo: MediaPipe faces, one pose per person (landmarks in pixels and in metres) and one mask each.

Selfie segmentation marks every person's pixels at once; MediaPipe Pose finds one person per call. Each detected face
gets its own pose call on a crop around it in which the other people's pixels are greyed out; without a face, one pose
call on the whole photo. The segmentation is then split between the people: every person pixel goes to the person
whose drawn skeleton (bones, face) is nearest, so two people standing close are never one subject.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.ndimage

from container_workers.gpu_worker.mocap.estimation import LIMB_BONES, LM, MP_TO_SKELETON

ANALYSIS_SIDE = 640  # MediaPipe runs on at most this many pixels per side
MIN_FACE = 0.02  # faces narrower than this fraction of the photo are ignored (posters, crowds far away)
FACE_CONFIDENCE = 0.7  # real faces score 0.75-0.95 with the full-range model; a drawn vase scored 0.63
VISIBLE = 0.5
_TORSO = tuple(LM[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
_BONES = LIMB_BONES + ((LM["nose"], LM["left_shoulder"]), (LM["nose"], LM["right_shoulder"]))


@dataclass
class Person:
    """One person: their mask, MediaPipe pose (when found) and face box, and how prominent they are in the photo."""

    mask: np.ndarray  # (H, W) bool
    landmarks: np.ndarray | None  # (33, 2) pixels in the photo (x right, y down; pixel centres at +0.5)
    world: np.ndarray | None  # (33, 3) metres, hip-centred, skeleton axes (+Y up, facing the camera is +Z)
    visibility: np.ndarray | None  # (33,) 0..1
    face: tuple[int, int, int, int] | None  # x, y, w, h in pixels
    prominence: float = 0.0

    @property
    def coverage(self) -> float:
        """The fraction of the photo this person covers."""
        return float(self.mask.mean())


def clean(mask: np.ndarray, smooth: bool = True) -> np.ndarray:
    """Drop specks (components under 15% of the largest) and fill small holes; `smooth` also opens and closes the outline."""
    mask = mask.astype(np.uint8)
    if smooth:
        radius = max(1, round(min(mask.shape) / 250))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, dtype=bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, dtype=bool)
    keep[1:] = areas >= 0.15 * areas.max()
    mask = keep[labels]
    _, holes, hole_stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]]))
    small = hole_stats[:, cv2.CC_STAT_AREA] < 0.002 * mask.sum()
    small[border] = False
    return mask | small[holes]


def resized(image: np.ndarray, side: int) -> np.ndarray:
    """The image shrunk so its longer side is at most `side` (unchanged when already smaller)."""
    scale = side / max(image.shape[:2])
    if scale >= 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def person_probability(rgb: np.ndarray, boxes: list[tuple[int, int, int, int]] = ()) -> np.ndarray:
    """MediaPipe selfie segmentation: the probability (H, W) that each pixel shows a person.

    The model sees a square; the whole photo is one input and every box (x0, y0, x1, y1), made square, another, so
    people in a wide group photo are segmented at a useful size. Each pixel keeps its highest probability.
    """
    import mediapipe as mp

    h, w = rgb.shape[:2]
    probability = np.zeros((h, w), np.float32)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        for x0, y0, x1, y1 in [(0, 0, w, h), *boxes]:
            side = max(x1 - x0, y1 - y0)
            cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
            sx0, sy0 = cx - side // 2, cy - side // 2
            if (x0, y0, x1, y1) == (0, 0, w, h):
                sx0, sy0, side_x, side_y = 0, 0, w, h
            else:
                side_x = side_y = side
            crop = np.zeros((side_y, side_x, 3), np.uint8)
            ax0, ay0 = max(0, sx0), max(0, sy0)
            ax1, ay1 = min(w, sx0 + side_x), min(h, sy0 + side_y)
            crop[ay0 - sy0 : ay1 - sy0, ax0 - sx0 : ax1 - sx0] = rgb[ay0:ay1, ax0:ax1]
            small = np.ascontiguousarray(resized(crop, ANALYSIS_SIDE))
            found = cv2.resize(segmenter.process(small).segmentation_mask, (side_x, side_y))
            window = probability[ay0:ay1, ax0:ax1]
            np.maximum(window, found[ay0 - sy0 : ay1 - sy0, ax0 - sx0 : ax1 - sx0], out=window)
    return probability


def detect_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, w, h in pixels) found by MediaPipe's full-range detector, largest first."""
    import mediapipe as mp

    small = np.ascontiguousarray(resized(rgb, ANALYSIS_SIDE))
    with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as detector:
        detections = detector.process(small).detections or []
    h, w = rgb.shape[:2]
    boxes = []
    for d in detections:  # the full-range model reports scores under its threshold, so filter here
        box = d.location_data.relative_bounding_box
        if d.score[0] >= FACE_CONFIDENCE and box.width >= MIN_FACE:
            boxes.append((round(box.xmin * w), round(box.ymin * h), round(box.width * w), round(box.height * h)))
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def estimate_pose(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """One person's (landmarks (33, 2) px, world (33, 3) m in skeleton axes, visibility (33,)) in an RGB image, or None."""
    import mediapipe as mp

    small = np.ascontiguousarray(resized(rgb, ANALYSIS_SIDE))
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        result = pose.process(small)
    if result.pose_landmarks is None or result.pose_world_landmarks is None:
        return None
    h, w = rgb.shape[:2]
    image = np.array([(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark])
    world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark]) * MP_TO_SKELETON
    return image[:, :2], world, np.clip(image[:, 2], 0.0, 1.0)


def _crop_around(face: tuple[int, int, int, int], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box (x0, y0, x1, y1) where the body under a face can be: 4.5 face widths either side, 9 face heights down."""
    x, y, w, h = face
    cx = x + w / 2
    x0, x1 = int(max(0, cx - 4.5 * w)), int(min(shape[1], cx + 4.5 * w))
    y0, y1 = int(max(0, y - 1.2 * h)), int(min(shape[0], y + 9.5 * h))
    return x0, y0, x1, y1


def _face_regions(faces: list[tuple[int, int, int, int]], shape: tuple[int, int]) -> np.ndarray:
    """For each pixel, the index of the face whose centre column is nearest (people stand side by side)."""
    centres = np.array([x + w / 2 for x, _, w, _ in faces])
    columns = np.arange(shape[1])
    return np.tile(np.argmin(np.abs(columns[:, None] - centres[None, :]), axis=1), (shape[0], 1))


def _pose_for_face(
    rgb: np.ndarray, faces: list[tuple[int, int, int, int]], k: int, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The pose of the person under face k on a crop around them; None when the pose found is not theirs.

    When the crop's pose belongs to someone else, the others' side of the crop is greyed out and MediaPipe asked
    again (only then: greying also hides an arm reaching across someone).
    """
    x0, y0, x1, y1 = _crop_around(faces[k], rgb.shape[:2])
    fx, fy, fw, fh = faces[k]
    attempts = [rgb[y0:y1, x0:x1]]
    if len(faces) > 1:
        crop = rgb[y0:y1, x0:x1].copy()
        others = (_face_regions(faces, rgb.shape[:2]) != k)[y0:y1, x0:x1] & (probability[y0:y1, x0:x1] > 0.3)
        crop[others] = np.median(rgb.reshape(-1, 3), axis=0).astype(np.uint8)
        attempts.append(crop)
    for crop in attempts:
        found = estimate_pose(np.ascontiguousarray(crop))
        if found is None:
            continue
        landmarks, world, visibility = found
        landmarks = landmarks + (x0, y0)
        nose = landmarks[LM["nose"]]
        if fx - 0.5 * fw <= nose[0] <= fx + 1.5 * fw and fy - 0.5 * fh <= nose[1] <= fy + 1.5 * fh:
            return landmarks, world, visibility
    return None


def _seeds(person: Person, shape: tuple[int, int]) -> np.ndarray:
    """The person's drawn skeleton (visible bones) and face ellipse, as a mask."""
    seed = np.zeros(shape, np.uint8)
    scale = max(shape) / 200
    if person.face is not None:
        x, y, w, h = person.face
        cv2.ellipse(seed, (round(x + w / 2), round(y + h / 2)), (max(1, w // 3), max(1, h // 3)), 0, 0, 360, 1, -1)
    if person.landmarks is not None:
        for a, b in _BONES:
            if min(person.visibility[a], person.visibility[b]) >= VISIBLE:
                pa, pb = np.round(person.landmarks[[a, b]]).astype(int)
                cv2.line(seed, tuple(int(v) for v in pa), tuple(int(v) for v in pb), 1, max(1, round(scale)))
    return seed > 0


def split_mask(mask: np.ndarray, seeds: list[np.ndarray]) -> list[np.ndarray]:
    """Each person's share of `mask`: pixels nearest their seeds, in the connected parts that touch them."""
    label = np.zeros(mask.shape, np.int32)
    for k, seed in enumerate(seeds):
        label[seed & (label == 0)] = k + 1
    if not label.any():
        return [np.zeros(mask.shape, bool) for _ in seeds]
    _, (rows, cols) = scipy.ndimage.distance_transform_edt(label == 0, return_indices=True)
    owner = np.where(mask, label[rows, cols], 0)
    out = []
    for k, seed in enumerate(seeds):
        own = owner == k + 1
        count, parts = cv2.connectedComponents(own.astype(np.uint8), connectivity=8)
        touching = np.unique(parts[seed & own])
        out.append(np.isin(parts, touching[touching > 0]))
    return out


def prominence(mask: np.ndarray) -> float:
    """How much a subject stands out: the square root of its area share, less for subjects far from the centre."""
    area = float(mask.mean())
    if area == 0:
        return 0.0
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    offset = np.hypot((xs.mean() - w / 2) / w, (ys.mean() - h / 2) / h) / np.hypot(0.5, 0.5)
    return float(np.sqrt(area) * (1.0 - 0.6 * offset))


def find_people(rgb: np.ndarray, person_mask: np.ndarray | None = None) -> list[Person]:
    """Everyone MediaPipe finds in the photo, the most prominent first; `person_mask` replaces the segmentation."""
    faces = detect_faces(rgb)
    probability = person_probability(
        rgb, [_crop_around(face, rgb.shape[:2]) for face in faces] if len(faces) > 1 else []
    )
    mask = person_mask if person_mask is not None else clean(probability > 0.5)
    people: list[Person] = []
    for k, face in enumerate(faces):
        pose = _pose_for_face(rgb, faces, k, probability)
        landmarks, world, visibility = pose if pose is not None else (None, None, None)
        people.append(Person(np.zeros(mask.shape, bool), landmarks, world, visibility, face))
    if not people:
        pose = estimate_pose(rgb)
        if pose is not None and np.mean(pose[2][list(_TORSO)]) >= VISIBLE:
            people.append(Person(np.zeros(mask.shape, bool), *pose, face=None))
    shares = split_mask(mask, [_seeds(p, mask.shape) for p in people])
    for person, share in zip(people, shares):
        person.mask = share
        person.prominence = prominence(share)
    return sorted((p for p in people if p.mask.any()), key=lambda p: -p.prominence)
