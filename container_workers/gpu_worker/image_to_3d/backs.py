"""Back textures for subjects seen from the front: the subject's own colours in its own layout, never the front mirrored.

The front is reduced to a few colours (k-means in Lab); a majority filter as wide as a fraction of the subject then
keeps the large regions (a jacket, trousers, hair, a label band) and drops the small ones (faces, logos, badges, text).
A body of revolution is painted by rows instead (each row's dominant colour goes all the way round, like a label).
"""

from __future__ import annotations

import cv2
import numpy as np

COLOURS = 5
_SAMPLES = 6000


def palette(image: np.ndarray, known: np.ndarray, k: int = COLOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's nearest of `k` colours found among the known pixels (labels (H, W)), and those colours (k, 3)."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    samples = lab[known.ravel()] if known.any() else lab
    samples = samples[np.linspace(0, len(samples) - 1, min(_SAMPLES, len(samples))).astype(int)]
    k = max(1, min(k, len(np.unique(samples, axis=0))))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(samples, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    labels = np.argmin(((lab[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1).reshape(image.shape[:2])
    rgb = cv2.cvtColor(np.round(centres).clip(0, 255).astype(np.uint8).reshape(-1, 1, 3), cv2.COLOR_LAB2RGB)
    return labels, rgb.reshape(-1, 3)


def majority(labels: np.ndarray, count: int, window: int) -> np.ndarray:
    """Each pixel's most frequent label within a window (a box filter per label)."""
    votes = np.stack(
        [
            cv2.blur((labels == k).astype(np.float32), (window, window), borderType=cv2.BORDER_REFLECT)
            for k in range(count)
        ]
    )
    return np.argmax(votes, axis=0)


def regions_back(front: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The back as the front's large colour regions (flat colours; small details voted away)."""
    labels, colours = palette(front, known)
    window = max(5, min(front.shape[:2]) // 6) | 1
    smooth = majority(labels, len(colours), window)
    back = colours[smooth].astype(np.float32)
    return cv2.GaussianBlur(back, (0, 0), max(1.0, window / 4)).round().astype(np.uint8)


def rows_back(front: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The back of a body of revolution: every row in that row's dominant colour (bands go all the way round)."""
    labels, colours = palette(front, known)
    h = front.shape[0]
    row_colour = np.zeros((h, 3), np.float32)
    last = colours[np.bincount(labels[known], minlength=len(colours)).argmax()] if known.any() else colours[0]
    for y in range(h):
        inside = labels[y][known[y]]
        if len(inside):
            last = colours[np.bincount(inside, minlength=len(colours)).argmax()]
        row_colour[y] = last
    row_colour = cv2.GaussianBlur(row_colour.reshape(h, 1, 3), (1, 0), max(1.0, h / 200)).reshape(h, 3)
    return np.repeat(row_colour[:, None, :], front.shape[1], axis=1).round().astype(np.uint8)
