"""Foreground masks for image-to-3D: the alpha channel, MediaPipe person segmentation, or saliency-seeded GrabCut."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from container_workers.gpu_worker.image_to_3d.people import clean
from container_workers.gpu_worker.mocap.estimation import LM

MIN_COVERAGE = 0.002  # a foreground smaller than this fraction of the image counts as none
_PERSON_SIDE = 640  # MediaPipe runs on at most this many pixels per side
_GRABCUT_SIDE = 400  # GrabCut runs on at most this many pixels per side
_BORDER_CLUSTERS = 5
_TORSO = tuple(LM[name] for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))


@dataclass
class Foreground:
    """A boolean mask (H, W) of the object, how it was found, and the face box (x, y, w, h) when a person's face was."""

    mask: np.ndarray
    method: str
    face: tuple[int, int, int, int] | None = None

    @property
    def coverage(self) -> float:
        """The fraction of the image the foreground covers."""
        return float(self.mask.mean())


def has_transparency(alpha: np.ndarray | None) -> bool:
    """True when an alpha channel marks some pixels transparent and some opaque."""
    return alpha is not None and bool((alpha < 128).any()) and bool((alpha >= 128).any())


def find_foreground(rgb: np.ndarray, alpha: np.ndarray | None, method: str) -> Foreground | None:
    """The foreground by `method` (the contract's FOREGROUND_METHODS; "auto": alpha if it has transparency, else a detected
    person, else GrabCut); None if nothing."""
    if method in ("auto", "alpha") and has_transparency(alpha):
        return _accept(Foreground(clean(alpha >= 128, smooth=False), "alpha"))
    if method == "alpha":
        return None
    if method in ("auto", "person"):
        person = person_foreground(rgb)
        if person is not None or method == "person":
            return person
    return _accept(Foreground(grabcut_foreground(rgb), "grabcut"))


def _accept(foreground: Foreground) -> Foreground | None:
    return foreground if foreground.coverage >= MIN_COVERAGE else None


def _resized(image: np.ndarray, side: int) -> np.ndarray:
    scale = side / max(image.shape[:2])
    if scale >= 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def person_foreground(rgb: np.ndarray) -> Foreground | None:
    """The person's mask from MediaPipe selfie segmentation, confirmed by a detected face or body pose; None if no person."""
    import mediapipe as mp

    small = np.ascontiguousarray(_resized(rgb, _PERSON_SIDE))
    anchors: list[tuple[float, float]] = []
    face = None
    with mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.6) as detector:
        detections = detector.process(small).detections or []
    if detections:
        best = max(detections, key=lambda d: d.score[0]).location_data.relative_bounding_box
        face = (best.xmin, best.ymin, best.width, best.height)
        anchors = [(best.xmin + best.width / 2, best.ymin + best.height / 2)]
    else:
        with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
            landmarks = pose.process(small).pose_landmarks
        if landmarks is not None:
            torso = [landmarks.landmark[i] for i in _TORSO]
            if np.mean([p.visibility for p in torso]) >= 0.5:
                anchors = [
                    (p.x, p.y) for p in landmarks.landmark if p.visibility >= 0.5 and 0 <= p.x < 1 and 0 <= p.y < 1
                ]
    if not anchors:
        return None
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        probability = segmenter.process(small).segmentation_mask
    probability = cv2.resize(probability, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    mask = clean(probability > 0.5)
    _, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    hits = {
        labels[min(int(y * rgb.shape[0]), rgb.shape[0] - 1), min(int(x * rgb.shape[1]), rgb.shape[1] - 1)]
        for x, y in anchors
    }
    hits.discard(0)
    if not hits:
        return None
    mask = np.isin(labels, sorted(hits))
    if face is not None:
        sx, sy = rgb.shape[1], rgb.shape[0]
        face = (round(face[0] * sx), round(face[1] * sy), round(face[2] * sx), round(face[3] * sy))
    return _accept(Foreground(mask, "person", face))


def spectral_residual_saliency(gray: np.ndarray) -> np.ndarray:
    """Hou & Zhang's spectral-residual saliency of a grey image, in [0, 1] at the image's size."""
    small = cv2.resize(gray.astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(small)
    log_amplitude = np.log(np.abs(spectrum) + 1e-6)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), 2.5)
    saliency = cv2.resize(saliency, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    return _unit(saliency)


def _unit(values: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(values, 1), np.percentile(values, 99)
    return np.clip((values - lo) / max(hi - lo, 1e-9), 0.0, 1.0).astype(np.float32)


def grabcut_foreground(rgb: np.ndarray) -> np.ndarray:
    """The object's mask by GrabCut seeded from border colours (background) and saliency / colour contrast (object)."""
    small = _resized(rgb, _GRABCUT_SIDE)
    h, w = small.shape[:2]
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    band = max(2, round(0.04 * min(h, w)))
    border = np.zeros((h, w), dtype=bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    samples = lab[border]
    clusters = min(_BORDER_CLUSTERS, len(samples))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(samples, clusters, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    contrast = np.min(np.linalg.norm(lab[:, :, None, :] - centres[None, None], axis=3), axis=2)
    score = 0.65 * _unit(contrast) + 0.35 * spectral_residual_saliency(lab[..., 0])
    score8 = np.round(score * 255).astype(np.uint8)
    threshold, _ = cv2.threshold(score8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    seeds = np.full((h, w), cv2.GC_PR_BGD, dtype=np.uint8)
    seeds[score8 > threshold] = cv2.GC_PR_FGD
    seeds[border] = cv2.GC_BGD
    if not (seeds == cv2.GC_PR_FGD).any():
        return np.zeros(rgb.shape[:2], dtype=bool)
    background, foreground = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seeds, None, background, foreground, 5, cv2.GC_INIT_WITH_MASK)
    mask = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.float32)
    mask = cv2.resize(mask, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR) > 0.5
    return clean(mask)
