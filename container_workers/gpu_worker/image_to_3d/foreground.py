"""Subjects for image-to-3D: the alpha channel, MediaPipe's people (one mask each), or saliency-seeded GrabCut's parts."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from container_workers.gpu_worker.image_to_3d.people import clean, find_people, prominence, resized

MIN_COVERAGE = 0.002  # a foreground smaller than this fraction of the image counts as none
_GRABCUT_SIDE = 400  # GrabCut runs on at most this many pixels per side
_BORDER_CLUSTERS = 5


@dataclass
class Foreground:
    """A subject's boolean mask (H, W), how it was found, the face box (x, y, w, h) of a person, and its prominence."""

    mask: np.ndarray
    method: str
    face: tuple[int, int, int, int] | None = None
    prominence: float = 0.0

    @property
    def coverage(self) -> float:
        """The fraction of the image the foreground covers."""
        return float(self.mask.mean())


def has_transparency(alpha: np.ndarray | None) -> bool:
    """True when an alpha channel marks some pixels transparent and some opaque."""
    return alpha is not None and bool((alpha < 128).any()) and bool((alpha >= 128).any())


def find_subjects(rgb: np.ndarray, alpha: np.ndarray | None, method: str) -> list[Foreground]:
    """The subjects by `method` (the contract's FOREGROUND_METHODS), the most prominent first; none when nothing.

    "auto": the alpha channel when it has transparency (one subject, all its opaque parts), else every detected person
    (each their own mask, split where they touch), else GrabCut's object, each separate part its own subject.
    """
    if method in ("auto", "alpha") and has_transparency(alpha):
        return _accepted([Foreground(clean(alpha >= 128, smooth=False), "alpha", prominence=1.0)])
    if method == "alpha":
        return []
    if method in ("auto", "person"):
        people = person_subjects(rgb)
        if people or method == "person":
            return people
    return grabcut_subjects(rgb)


def _accepted(subjects: list[Foreground]) -> list[Foreground]:
    return sorted((s for s in subjects if s.coverage >= MIN_COVERAGE), key=lambda s: -s.prominence)


def person_subjects(rgb: np.ndarray) -> list[Foreground]:
    """Everyone MediaPipe finds (a face or a body pose confirms a person), each with their share of the segmentation."""
    return _accepted([Foreground(p.mask, "person", p.face, p.prominence) for p in find_people(rgb)])


def person_foreground(rgb: np.ndarray) -> Foreground | None:
    """The most prominent person, or None."""
    people = person_subjects(rgb)
    return people[0] if people else None


def grabcut_subjects(rgb: np.ndarray) -> list[Foreground]:
    """GrabCut's object; parts that do not touch are separate subjects."""
    mask = grabcut_foreground(rgb)
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    parts = [labels == k for k in range(1, count)]
    return _accepted([Foreground(part, "grabcut", prominence=prominence(part)) for part in parts])


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
    small = resized(rgb, _GRABCUT_SIDE)
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
