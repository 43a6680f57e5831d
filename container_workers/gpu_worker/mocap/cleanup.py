"""Landmark clean-up: label swaps, refills, One Euro smoothing under a ceiling, bone lengths, levelling, root from 2D."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from scipy.linalg import solveh_banded
from scipy.ndimage import gaussian_filter1d, median_filter

from container_workers.gpu_worker.mocap.estimation import LIMB_BONES, LM, NUM_LANDMARKS

DETECTED, INTERPOLATED, HELD = 0, 1, 2
STATUS_NAMES = ("detected", "interpolated", "held")

HIP_MID, SHOULDER_MID = NUM_LANDMARKS, NUM_LANDMARKS + 1  # virtual points appended by `constrain_bone_lengths`

# A tree over the landmarks (plus hip and shoulder midpoints), parents before children.
BONE_TREE: tuple[tuple[int, int], ...] = (
    (HIP_MID, LM["left_hip"]),
    (HIP_MID, LM["right_hip"]),
    (HIP_MID, SHOULDER_MID),
    (SHOULDER_MID, LM["left_shoulder"]),
    (SHOULDER_MID, LM["right_shoulder"]),
    (SHOULDER_MID, LM["nose"]),
    *(
        (LM["nose"], LM[n])
        for n in (
            "left_eye_inner",
            "left_eye",
            "left_eye_outer",
            "right_eye_inner",
            "right_eye",
            "right_eye_outer",
            "left_ear",
            "right_ear",
            "mouth_left",
            "mouth_right",
        )
    ),
    *(
        pair
        for side in ("left", "right")
        for pair in (
            (LM[f"{side}_shoulder"], LM[f"{side}_elbow"]),
            (LM[f"{side}_elbow"], LM[f"{side}_wrist"]),
            (LM[f"{side}_wrist"], LM[f"{side}_pinky"]),
            (LM[f"{side}_wrist"], LM[f"{side}_index"]),
            (LM[f"{side}_wrist"], LM[f"{side}_thumb"]),
            (LM[f"{side}_hip"], LM[f"{side}_knee"]),
            (LM[f"{side}_knee"], LM[f"{side}_ankle"]),
            (LM[f"{side}_ankle"], LM[f"{side}_heel"]),
            (LM[f"{side}_ankle"], LM[f"{side}_foot_index"]),
        )
    ),
)


VISIBLE = 0.5
IMAGE_WEIGHT = 0.7  # how far `match_image` moves each bone from its 3D estimate towards the 2D landmarks
ARM_ENDS = frozenset(LM[f"{s}_{n}"] for s in ("left", "right") for n in ("elbow", "wrist"))  # the arm bones' ends
ARM_LENGTH_PERCENTILE = 80  # `match_image` takes an arm bone's length as its on-screen length in this share of frames
ARM_DEPTH_SECONDS = 0.27  # and bounds its depth by what that length leaves on screen, smoothed over this long (sigma)
BETA = 1.5  # One Euro speed coefficient (Hz per metre/second): fast moves are followed, slow jitter is removed
REFERENCE_FPS = 30.0  # the frame rate the smoothing settings were tuned at (the filter is made rate-independent)
D_CUTOFF = 3.0  # Hz, the cutoff of the speed estimate that drives the adaptive cutoff
OUTLIER_WINDOW_SECONDS = 0.17  # `drop_outliers`' running median spans this long (5 frames at 30 fps)
OUTLIER_MARGIN = 0.05  # metres a landmark may stray from that median, plus
OUTLIER_SPEED_FACTOR = 0.5  # this share of the median's own motion per frame (fast limbs stray further)
LEVEL_STILL_SPEED = 0.3  # m/s: hips moving slower than this over the floor are a person on the spot, and `level`
LEVEL_MIN_SECONDS = 0.5  # measures their lean over such frames (hips and ankles seen) if there are this many seconds;
LEVEL_MAX_DEGREES = 15.0  # a lean over this is the person's own (sitting, leaning on something) and is kept
END_FIT_SECONDS = 0.27  # a clip's ends are reflected about a line fitted through this long of samples (8 at 30 fps)
CEILING_HZ = 3.5  # after the One Euro filter, world landmarks keep half of a motion this fast (`whittaker`)
CEILING_ORDER = 3  # the order of the differences `whittaker` penalises there: a steeper cut than the One Euro's


# Each landmark's mirror image (left <-> right, the mouth's corners too; the nose is its own), for label swaps.
MIRROR = np.array([LM[n.replace("left", "@").replace("right", "left").replace("@", "right")] for n in LM])
SIDED = np.flatnonzero(np.arange(NUM_LANDMARKS) != MIRROR)
MIRROR_DISTINCT = 0.05  # torso lengths by which a shape and its mirror image must differ to be told apart
SWAP_TURN_DEGREES = 45.0  # a swap turns the 3D left-to-right direction round by more than this in a frame
FACE_COST = 1.0  # a frame labelled facing away where a frontal face was seen costs this (shape steps: 0.01-0.2)
FACE_SIDE_ON = 0.1  # torso lengths: a group whose left and right are closer than this across the image is side on
SWAP_GROUPS = (  # (landmarks whose 2D shape decides, landmarks relabelled, prior per relabelled frame)
    (
        np.array(
            [
                LM[f"{s}_{n}"]
                for s in ("left", "right")
                for n in ("shoulder", "hip", "eye_inner", "eye", "eye_outer", "ear")
            ]
        ),
        SIDED,
        0.005,
    ),
    *(
        (limb, limb, 0.05)
        for limb in (
            np.array(
                [LM[f"{s}_{n}"] for s in ("left", "right") for n in ("elbow", "wrist", "pinky", "index", "thumb")]
            ),
            np.array([LM[f"{s}_{n}"] for s in ("left", "right") for n in ("knee", "ankle", "heel", "foot_index")]),
        )
    ),
)


def heading(across: np.ndarray) -> np.ndarray:
    """The direction (radians, about the vertical) of left-to-right vectors (..., 3) in camera axes."""
    return np.arctan2(across[..., 2], across[..., 0])


def heading_change(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """How far (radians, 0 to pi) heading `a` is turned from heading `b` about the vertical, across the +-pi seam."""
    return np.abs((np.asarray(a) - b + np.pi) % (2 * np.pi) - np.pi)


def _mirrored_frames(
    xy: np.ndarray,
    group: np.ndarray,
    scale: float,
    prior: float,
    turned: np.ndarray,
    apart: np.ndarray,
    face: np.ndarray | None = None,
) -> np.ndarray:
    """Which frames (T,) bool of `xy` (T, 33, 2) have `group`'s left and right labels swapped (a Viterbi path).

    Two states per frame, as labelled or mirrored; a step between frames costs how far the group's shape (each
    point relative to the group's centroid, so moving across the frame costs nothing) moves, in `scale` units;
    being mirrored costs `prior` a frame, so labels are kept unless the motion says otherwise. The labelling can
    change only into frames whose shape differs from its mirror image and where `turned` (T-1,) says the 3D
    estimate's left-to-right direction jumped (a swap turns it round; a person spinning turns it gradually).
    Steps flagged `apart` (T-1,) cost nothing either way: the path may restart in either state. In frames where
    `face` (T,) says a frontal face was seen, the state that puts the group's left on the image's left (a person
    facing away) costs FACE_COST, unless the group is side on.
    """
    mirrored = MIRROR[group]
    rel = xy - xy[:, group].mean(axis=1, keepdims=True)
    keep = np.linalg.norm(rel[1:, group] - rel[:-1, group], axis=-1).mean(axis=1) / scale
    flip = np.linalg.norm(rel[1:, mirrored] - rel[:-1, group], axis=-1).mean(axis=1) / scale
    distinct = np.linalg.norm(rel[:, mirrored] - rel[:, group], axis=-1).mean(axis=1) / scale
    evidence = np.tile([0.0, prior], (len(xy), 1))  # per frame and state: as labelled, mirrored
    if face is not None:
        half = len(group) // 2
        facing = (xy[:, group[:half], 0].mean(axis=1) - xy[:, group[half:], 0].mean(axis=1)) / scale
        evidence[face & (facing < -FACE_SIDE_ON), 0] += FACE_COST  # as labelled, the person faces away
        evidence[face & (facing > FACE_SIDE_ON), 1] += FACE_COST  # mirrored, they would
    cost = evidence[0].copy()
    back = np.zeros((len(xy), 2), dtype=np.int8)
    for t in range(1, len(xy)):
        if apart[t - 1]:
            step = np.zeros((2, 2))
        elif distinct[t] < MIRROR_DISTINCT or not turned[t - 1]:  # a side view, or no jump: the labelling holds
            step = np.array([[0.0, np.inf], [np.inf, 0.0]])
        else:
            step = np.array([[keep[t - 1], flip[t - 1]], [flip[t - 1], keep[t - 1]]])  # [from, to]
        total = cost[:, None] + step
        back[t] = total.argmin(axis=0)
        cost = total.min(axis=0) + evidence[t]
    state = np.zeros(len(xy), dtype=np.int8)
    state[-1] = cost.argmin()
    for t in range(len(xy) - 1, 0, -1):
        state[t - 1] = back[t, state[t]]
    return state == 1


def unswap_sides(
    image: np.ndarray,
    world: np.ndarray,
    visibility: np.ndarray,
    detected: np.ndarray,
    max_gap: int,
    fps: float = REFERENCE_FPS,
    face: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Copies of a track's image (T, 33, 2), world (T, 33, 3) and visibility (T, 33) with left/right label swaps undone,
    and which labels (T, 33) were mirrored.

    MediaPipe now and then labels a person's left as their right for a few frames, in 2D and 3D alike (the
    harness's wave: a third of its frames, with its arms up), and a swapped frame between true ones is a body
    turned inside out: smoothing then averages both into a collapsed torso. A swap is a jump of the body's shape
    that mirroring explains, so it is found over the detected frames by `_mirrored_frames`: first from the torso
    and face, which mirrors the whole body (limbs cross in a stride; a torso does not), then per limb pair, which
    mirrors only that pair (MediaPipe also swaps legs alone). A person who turns round is not a swap: their shape
    changes smoothly through the turn. Across a gap of more than `max_gap` frames nothing links the labels: the
    person may come back turned round. The cost of a mirrored frame is per second (its value at REFERENCE_FPS),
    as the motion between frames shrinks with the rate: per frame, at 60 fps it outweighed the label jumps of a
    standing wave that MediaPipe turned round for most of 0.8 s, and the path kept it turned (bench/mocap_quality).
    Where `face` (T,) says a frontal face was seen (`facing.FaceCheck`), the whole body must face the camera.
    """
    image, world, visibility = image.copy(), world.copy(), visibility.copy()
    frames = np.flatnonzero(detected)
    if len(frames) < 2:
        return image, world, visibility, np.zeros(visibility.shape, dtype=bool)
    xy = image[frames]
    torso = xy[:, [LM["left_shoulder"], LM["right_shoulder"]]].mean(axis=1) - xy[
        :, [LM["left_hip"], LM["right_hip"]]
    ].mean(axis=1)
    scale = max(float(np.median(np.linalg.norm(torso, axis=-1))), 1e-6)
    mirrored = np.zeros(visibility.shape, dtype=bool)
    apart = np.diff(frames) > max_gap + 1  # (T-1,) steps across a long gap
    for k, (decides, relabelled, prior) in enumerate(SWAP_GROUPS):  # each group sees the labels the ones before left
        seen = world[frames]
        half = len(decides) // 2  # the group's left landmarks, then its right ones
        facing = heading(seen[:, decides[:half]].mean(axis=1) - seen[:, decides[half:]].mean(axis=1))
        turned = heading_change(facing[1:], facing[:-1]) > np.radians(SWAP_TURN_DEGREES)
        per_frame = prior * REFERENCE_FPS / fps
        seen_face = None if face is None or k > 0 else face[frames]  # a face decides the whole body only
        swapped = frames[_mirrored_frames(image[frames], decides, scale, per_frame, turned, apart, seen_face)][:, None]
        for values in (image, world, visibility, mirrored):
            values[swapped, relabelled] = values[swapped, MIRROR[relabelled]]
        mirrored[swapped, relabelled] = ~mirrored[swapped, relabelled]  # mirrored twice (body, then limb): not
    return image, world, visibility, mirrored


COLLAPSE_RATIO = 0.6  # a frame whose 3D hip (or shoulder) width is under this share of its clip median is collapsed
COLLAPSE_GROUPS = (  # (the pair whose 3D distance is the width, the landmarks not to be trusted when it collapses)
    (
        (LM["left_hip"], LM["right_hip"]),
        np.array([LM[f"{s}_{n}"] for s in ("left", "right") for n in ("hip", "knee", "ankle", "heel", "foot_index")]),
    ),
    (
        (LM["left_shoulder"], LM["right_shoulder"]),
        np.array(
            [
                LM[f"{s}_{n}"]
                for s in ("left", "right")
                for n in ("shoulder", "elbow", "wrist", "pinky", "index", "thumb")
            ]
        ),
    ),
)


@dataclass(frozen=True)
class Gap:
    """A run of frames without a detection, inclusive; `flagged` when longer than the allowed gap."""

    start: int
    end: int
    flagged: bool

    @property
    def length(self) -> int:
        """Number of frames in the gap."""
        return self.end - self.start + 1


def find_gaps(detected: np.ndarray, max_gap: int) -> list[Gap]:
    """Runs of False in `detected`; those longer than `max_gap` frames are flagged."""
    gaps, start = [], None
    for i, ok in enumerate(list(detected) + [True]):
        if not ok and start is None:
            start = i
        elif ok and start is not None:
            gaps.append(Gap(start, i - 1, i - start > max_gap))
            start = None
    return gaps


def fill_gaps(values: np.ndarray, detected: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray, list[Gap]]:
    """Fill undetected frames of (T, ...) `values`: short interior gaps linearly, others by holding the nearest pose.

    Returns the filled copy, a per-frame status (DETECTED / INTERPOLATED / HELD) and the gaps.
    """
    if not detected.any():
        raise ValueError("no detected frame to fill from")
    out = values.astype(np.float64, copy=True)
    status = np.full(len(values), DETECTED, dtype=np.int8)
    gaps = find_gaps(detected, max_gap)
    last = len(values) - 1
    for gap in gaps:
        before, after = gap.start - 1, gap.end + 1
        if before >= 0 and after <= last and not gap.flagged:
            w = (np.arange(1, gap.length + 1) / (gap.length + 1)).reshape((-1,) + (1,) * (values.ndim - 1))
            out[gap.start : after] = (1 - w) * out[before] + w * out[after]
            status[gap.start : after] = INTERPOLATED
        else:
            out[gap.start : after] = out[before] if before >= 0 else out[after]
            status[gap.start : after] = HELD
    return out, status, gaps


def refill_collapsed(
    world: np.ndarray, image: np.ndarray, detected: np.ndarray, max_gap: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Refill frames where MediaPipe collapsed the hips or the shoulders, as if the person were lost there.

    Between two labellings it is unsure of, MediaPipe sometimes returns their average: left and right hips (or
    shoulders) nearly on top of each other, in 3D and on screen, with the legs (or arms) crossed under them
    (bench/mocap_quality's standing wave: 39 of 120 frames with the hips under 0.6 of their width). A 3D width
    does not shrink when a person turns side on, and on the harness's walks, run, jump and squat it stays over
    0.74 of the clip's median. Where it is under COLLAPSE_RATIO of that median, the group's landmarks (hips and
    legs; shoulders and arms), in 3D and 2D, are filled from the frames around as `fill_gaps` fills a lost
    person. Returns (world, image, frames refilled).
    """
    world, image = world.copy(), image.copy()
    refilled = np.zeros(len(world), dtype=bool)
    for (a, b), group in COLLAPSE_GROUPS:
        width = np.linalg.norm(world[:, a] - world[:, b], axis=-1)
        ok = detected & (width >= COLLAPSE_RATIO * np.median(width[detected]))
        if not ok.any() or (ok == detected).all():
            continue
        world[:, group] = fill_gaps(world[:, group], ok, max_gap)[0]
        image[:, group] = fill_gaps(image[:, group], ok, max_gap)[0]
        refilled |= detected & ~ok
    return world, image, int(refilled.sum())


def spun_frames(world: np.ndarray, detected: np.ndarray, max_gap: int) -> np.ndarray:
    """Detected frames (T,) where the body's 3D heading jumps away by over SWAP_TURN_DEGREES and, within `max_gap`
    frames and with no jump between, jumps back to within that of where it was (`refill_spun`)."""
    frames = np.flatnonzero(detected)
    spun = np.zeros(len(world), dtype=bool)
    if len(frames) < 3:
        return spun
    left, right = [LM["left_shoulder"], LM["left_hip"]], [LM["right_shoulder"], LM["right_hip"]]
    seen = world[frames]
    facing = heading(seen[:, left].mean(axis=1) - seen[:, right].mean(axis=1))
    turn = np.radians(SWAP_TURN_DEGREES)
    linked = np.diff(frames) <= max_gap + 1  # nothing links the heading across a long gap
    jumps = np.flatnonzero((heading_change(facing[1:], facing[:-1]) > turn) & linked)
    for out, back in pairwise(jumps):  # each jump and the next one
        if frames[back] - frames[out] <= max_gap and heading_change(facing[back + 1], facing[out]) < turn:
            spun[frames[out + 1 : back + 1]] = True
    return spun


def refill_spun(world: np.ndarray, detected: np.ndarray, max_gap: int) -> tuple[np.ndarray, int]:
    """Refill frames where MediaPipe turned the whole body round and back, as if the person were lost there.

    `unswap_sides` mends a turn that a left/right label swap explains. In a near side view MediaPipe also swaps the
    two sides across the image but keeps their depths (bench/mocap_quality: a walk seen from the side with a second
    person passing behind, 3 frames, 210-250 mm PA-MPJPE between 60 mm ones): swapped back, the labels are right but
    the body faces 120° away. Nobody turns that far in a frame and back a few frames later, and a real spin does not
    come back (two turns in two thirds of a second is 36° a frame), so frames between a jump of the heading and a jump
    back to it within `max_gap` (`spun_frames`) are filled from the frames around. Returns (world, frames refilled).
    """
    spun = spun_frames(world, detected, max_gap)
    if not spun.any():
        return world, 0
    world = world.copy()
    world[spun] = fill_gaps(world, detected & ~spun, max_gap)[0][spun]
    return world, int(spun.sum())


def one_euro_min_cutoff(smoothing: float) -> float | None:
    """The One Euro filter's minimum cutoff (Hz) for a `smoothing` strength 0..1; None means no filtering."""
    return None if smoothing <= 0 else 4.0 * (0.25 / 4.0) ** smoothing


def _alpha(cutoff, fps: float):
    """The One Euro filter's smoothing factor for a `cutoff` (Hz) at `fps`, the same per second at any frame rate.

    The filter's own 1 / (1 + 1 / (2 pi cutoff Te)) is its value at REFERENCE_FPS, where its settings were tuned;
    at another rate the share of the past kept per frame is that one's to the power REFERENCE_FPS / fps, so the
    filter forgets at the same pace per second (with the formula as it stands, a 15 fps run smooths harder).
    """
    return 1.0 - (1.0 + 2.0 * math.pi * cutoff / REFERENCE_FPS) ** (-REFERENCE_FPS / fps)


def _speed_weight(beta: float, fps: float) -> float:
    """The One Euro speed coefficient `beta` (tuned at REFERENCE_FPS) for `fps`, so noise opens the filter as much.

    The speed is the filtered frame-to-frame change times fps: for landmarks whose noise is about the same each frame
    at any rate, its noise grows with the square root of the rate, and so would the cutoff it drives (at 60 fps the
    harness walk's jitter was 1.73x the truth's, against 1.24x at 30); beta is scaled down by as much.
    """
    return beta * math.sqrt(REFERENCE_FPS / fps)


def one_euro(x: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float = D_CUTOFF) -> np.ndarray:
    """Causal One Euro filter (Casiez et al. 2012) over time of (T, N, D) points; speed is per point."""
    beta = _speed_weight(beta, fps)
    y = np.empty_like(x, dtype=np.float64)
    y[0] = x[0]
    dx_hat = np.zeros(x.shape[1:], dtype=np.float64)
    a_d = _alpha(d_cutoff, fps)
    for t in range(1, len(x)):
        dx_hat = dx_hat + a_d * ((x[t] - y[t - 1]) * fps - dx_hat)
        speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True)
        a = _alpha(min_cutoff + beta * speed, fps)
        y[t] = y[t - 1] + a * (x[t] - y[t - 1])
    return y


class OnlineOneEuro:
    """The same filter fed one frame at a time (used to draw a steady skeleton in the preview)."""

    def __init__(self, fps: float, min_cutoff: float | None, beta: float = BETA, d_cutoff: float = D_CUTOFF):
        self._fps, self._min_cutoff, self._beta, self._d_cutoff = fps, min_cutoff, _speed_weight(beta, fps), d_cutoff
        self._y = self._dx = None

    def reset(self) -> None:
        """Forget the past (after the person was lost)."""
        self._y = self._dx = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter one (N, D) frame."""
        if self._min_cutoff is None:
            return x
        if self._y is None:
            self._y, self._dx = x.astype(np.float64), np.zeros(x.shape, dtype=np.float64)
            return self._y
        self._dx = self._dx + _alpha(self._d_cutoff, self._fps) * ((x - self._y) * self._fps - self._dx)
        cutoff = self._min_cutoff + self._beta * np.linalg.norm(self._dx, axis=-1, keepdims=True)
        a = _alpha(cutoff, self._fps)
        self._y = self._y + a * (x - self._y)
        return self._y


def _end_value(x: np.ndarray, n: int) -> np.ndarray:
    """Where a least-squares line through the first `n` samples of (T, ...) `x` puts frame 0."""
    t = np.arange(n, dtype=float) - (n - 1) / 2
    head = x[:n].astype(np.float64)
    slope = np.tensordot(t, head - head.mean(axis=0), axes=(0, 0)) / np.sum(t**2)
    return head.mean(axis=0) + slope * t[0]


def reflect_ends(x: np.ndarray, pad: int, fps: float) -> np.ndarray:
    """(T, ...) `x` extended by `pad` (< T) frames at each end by point reflection, as `filtfilt` does: a filter
    run over it does not pull the ends towards where it started, and a steady motion keeps its pace there.

    The pivot is where a line fitted through the first (last) END_FIT_SECONDS of samples puts the end, not the end
    sample itself: reflected about one noisy sample, the whole pad is off by twice its error (MediaPipe's first
    frame, found from the full picture rather than tracked, put the harness's hand-wave wrist 8 cm off in depth).
    """
    n = min(len(x), max(2, int(round(END_FIT_SECONDS * fps))))
    start, end = _end_value(x, n), _end_value(x[::-1], n)
    return np.concatenate([2 * start[None] - x[pad:0:-1], x, 2 * end[None] - x[-2 : -pad - 2 : -1]])


def smooth(x: np.ndarray, fps: float, smoothing: float, beta: float = BETA) -> np.ndarray:
    """Zero-lag One Euro smoothing of (T, N, D) points: the filter run forwards, then backwards.

    The clip is first extended at both ends by a point reflection (as filtfilt does), so its ends
    are not pulled towards where the filter started.
    """
    min_cutoff = one_euro_min_cutoff(smoothing)
    if min_cutoff is None or len(x) < 2:
        return x.astype(np.float64, copy=True)
    pad = min(len(x) - 1, int(round(fps)))
    forward = one_euro(reflect_ends(x, pad, fps), fps, min_cutoff, beta)
    return one_euro(forward[::-1], fps, min_cutoff, beta)[::-1][pad : pad + len(x)].copy()


def whittaker(x: np.ndarray, fps: float, cutoff: float, order: int = CEILING_ORDER) -> np.ndarray:
    """Whittaker-Henderson smoothing of (T, ...) `x` over time: the series closest to `x` plus lam times the sum of
    its squared `order`-th differences, with lam set so that a sine of `cutoff` Hz keeps half its amplitude at any
    frame rate (zero phase: no lag; a polynomial of degree under `order` passes unchanged, ends included).
    """
    steps = len(x) - order
    if steps <= 0:
        return x.astype(np.float64, copy=True)
    lam = (2.0 * math.sin(math.pi * min(cutoff, 0.45 * fps) / fps)) ** (-2 * order)
    c = np.diff(np.eye(order + 1), order, axis=0)[0]  # the difference's coefficients: 1, -2, 1 for order 2
    bands = np.zeros((order + 1, len(x)))  # I + lam D'D in upper banded form: row order - k holds diagonal k
    bands[order] = 1.0
    for k in range(order + 1):
        for j in range(order + 1 - k):
            bands[order - k, k + j : k + j + steps] += lam * c[j] * c[j + k]
    flat = x.reshape(len(x), -1).astype(np.float64)
    return solveh_banded(bands, flat).reshape(x.shape)


def depth_noise_ratio(points: np.ndarray) -> float:
    """How much noisier depth (Z) is than X and Y in (T, N, 3) points: median |second difference|, Z over X and Y."""
    if len(points) < 3:
        return 1.0
    d2 = np.abs(np.diff(points, 2, axis=0))
    flat = float(np.median(d2[..., :2]))
    return float(np.median(d2[..., 2])) / flat if flat > 0 else 1.0


def drop_outliers(points: np.ndarray, fps: float) -> np.ndarray:
    """(T, N, 3) landmarks with each sample far from its running median replaced by that median (Hampel-style).

    MediaPipe now and then puts a limb somewhere else for a few frames (the harness's wave: 200 mm PA-MPJPE frames
    between 50 mm ones); a smoothing filter spreads such a jump over its neighbours, a median drops it. Far means
    more than OUTLIER_MARGIN plus OUTLIER_SPEED_FACTOR times the median's own motion in that frame, so a fast limb
    (a run's legs) keeps its real extremes.
    """
    window = max(3, int(round(OUTLIER_WINDOW_SECONDS * fps)) | 1)
    median = median_filter(points, size=(window, 1, 1), mode="nearest")
    step = np.linalg.norm(np.gradient(median, axis=0), axis=-1, keepdims=True)
    far = np.linalg.norm(points - median, axis=-1, keepdims=True) > OUTLIER_MARGIN + OUTLIER_SPEED_FACTOR * step
    return np.where(far, median, points)


def smooth_world(points: np.ndarray, fps: float, smoothing: float) -> np.ndarray:
    """`smooth` for (T, N, 3) world landmarks, with depth filtered harder by how much noisier it measures, and then
    a ceiling on how fast a motion passes (`whittaker` at CEILING_HZ).

    A monocular estimate's depth is its weakest axis (MediaPipe's about twice as noisy as X and Y on the harness).
    A first-order low-pass leaves noise variance proportional to its cutoff, so depth's minimum cutoff is divided
    by the squared noise ratio: after filtering, depth is about as noisy as X and Y. The One Euro filter's cutoff
    follows a landmark's speed, so a limb swinging to and fro is held at each turn (its speed falls to 0, the cutoff
    to 1 Hz) and let go after it: a clean swing of 1.5 Hz comes out with a ripple at three times that rate (+-3 cm
    on a +-0.5 m swing), and noise passes where the limb is fast. Most of a limb's own motion is slower than 3.5 Hz,
    so a steep zero-phase cut there takes both out, and BETA could then rise from 1 to 1.5, following fast moves
    more closely (bench/mocap_quality, 19 clips: PA-MPJPE summed 1032.3 -> 1022.4 mm, knees 8.75° -> 8.34°, clips
    over 1.5x the truth's jitter 7 -> 3; the eye-height jump 1.65x -> 1.35x, the backflip from the front 1.61x ->
    1.27x).
    """
    out = smooth(points, fps, smoothing)
    if smoothing <= 0:
        return out
    ratio = depth_noise_ratio(points)
    if ratio > 1.0:
        deeper = min(1.0, smoothing + 2.0 * math.log(ratio) / math.log(16.0))  # min cutoff 4 Hz x (1/16)^smoothing
        out[..., 2] = smooth(points, fps, deeper)[..., 2]
    return whittaker(out, fps, CEILING_HZ)


def with_midpoints(points: np.ndarray) -> np.ndarray:
    """(T, 33, D) landmarks with the hip and shoulder midpoints appended -> (T, 35, D)."""
    hip = points[:, [LM["left_hip"], LM["right_hip"]]].mean(axis=1, keepdims=True)
    shoulder = points[:, [LM["left_shoulder"], LM["right_shoulder"]]].mean(axis=1, keepdims=True)
    return np.concatenate([points, hip, shoulder], axis=1)


def median_bone_lengths(points: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """Median length of every BONE_TREE bone over frames where both ends are visible (else over all frames)."""
    p = with_midpoints(points)
    v = with_midpoints(visibility[..., None])[..., 0]
    lengths = np.empty(len(BONE_TREE))
    for k, (a, b) in enumerate(BONE_TREE):
        length = np.linalg.norm(p[:, b] - p[:, a], axis=-1)
        seen = np.minimum(v[:, a], v[:, b]) >= VISIBLE
        lengths[k] = np.median(length[seen] if seen.sum() >= 5 else length)
    return lengths


def constrain_bone_lengths(points: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rebuild (T, 33, 3) landmarks from the hip midpoint outwards with fixed bone `lengths`, keeping each bone's direction."""
    p = with_midpoints(points)
    out = p.copy()
    for k, (a, b) in enumerate(BONE_TREE):
        d = p[:, b] - p[:, a]
        norm = np.linalg.norm(d, axis=-1, keepdims=True)
        unit = np.divide(d, norm, out=np.zeros_like(d), where=norm > 1e-9)
        out[:, b] = out[:, a] + lengths[k] * unit
    return out[:, :NUM_LANDMARKS]


def _on_screen_length(flat_length: np.ndarray, seen: np.ndarray, length: float) -> float:
    """An arm bone's length (metres) from its on-screen lengths (T,): their ARM_LENGTH_PERCENTILE where seen, or
    `length` (the 3D estimate's) if it is seen in fewer than 5 frames."""
    on_screen = float(np.percentile(flat_length[seen], ARM_LENGTH_PERCENTILE)) if seen.sum() >= 5 else 0.0
    return on_screen if on_screen > 1e-3 else length


def match_image(
    points: np.ndarray, image_xy: np.ndarray, visibility: np.ndarray, lengths: np.ndarray, ppm: np.ndarray, fps: float
) -> np.ndarray:
    """(T, 33, 3) landmarks rebuilt bone by bone (BONE_TREE, fixed `lengths`) to agree with the 2D landmarks.

    MediaPipe's 2D landmarks sit on the person better than its 3D ones, which misjudge depth (knees under-bent in
    a squat, wrists off). World axes are the camera's, so a bone's X and Y should be its on-screen vector in metres
    (pixels / `ppm`, Y flipped). Its depth d is what the bone's length L leaves, with the sign of the 3D estimate,
    where that is well conditioned: d moves by f/d for each unit of error in the on-screen length f, so a bone near
    the image plane (a shin seen from the front) would swing in depth with every pixel. The two depths are weighed by
    their inverse variances under equal noise, d²/L² for the image's and f²/L² for the 3D estimate's. The pelvis and
    spine (bones from the hip midpoint) keep the 3D estimate's depth: their sign too is a guess. Bones whose ends are
    not both visible keep their 3D direction.

    Arms are measured on screen instead (bench/mocap_quality): MediaPipe's 3D upper arm is 5-10 % shorter than the
    image shows and its forearm longer, and it tips near-straight forearms 20° towards the camera, so elbows read
    bent. An arm bone's length is its on-screen length where it lies nearest the image plane (ARM_LENGTH_PERCENTILE),
    and its depth is at most what that length leaves on screen, smoothed over ARM_DEPTH_SECONDS (the bound moves by
    f/d per unit of f too).
    """
    p = with_midpoints(points)
    xy = with_midpoints(np.concatenate([image_xy, np.zeros(image_xy.shape[:2] + (1,))], axis=-1))[..., :2]
    v = with_midpoints(visibility[..., None])[..., 0]
    out = p.copy()
    scale = 1.0 / ppm[:, None]
    for k, (a, b) in enumerate(BONE_TREE):
        seen = np.minimum(v[:, a], v[:, b]) >= VISIBLE
        d3 = p[:, b] - p[:, a]
        flat = (xy[:, b] - xy[:, a]) * scale * [1.0, -1.0]
        flat_len = np.linalg.norm(flat, axis=-1, keepdims=True)
        length = _on_screen_length(flat_len[:, 0], seen, lengths[k]) if b in ARM_ENDS else lengths[k]
        flat = flat * np.minimum(1.0, length / np.maximum(flat_len, 1e-9))
        norm = np.linalg.norm(d3, axis=-1, keepdims=True)
        fallback = length * np.divide(d3, norm, out=np.zeros_like(d3), where=norm > 1e-9)
        if a == HIP_MID:
            depth = d3[:, 2:]
        else:
            left = np.maximum(length**2 - np.sum(flat**2, axis=-1, keepdims=True), 0)
            image_depth, trust = np.sqrt(left), left / length**2
            depth = trust * np.sign(d3[:, 2:]) * image_depth + (1 - trust) * fallback[:, 2:]
            if b in ARM_ENDS:
                bound = gaussian_filter1d(image_depth, ARM_DEPTH_SECONDS * fps, axis=0, mode="nearest")
                depth = np.sign(depth) * np.minimum(np.abs(depth), bound)
        bone = IMAGE_WEIGHT * np.concatenate([flat, depth], axis=-1) + (1 - IMAGE_WEIGHT) * fallback
        bone *= length / np.maximum(np.linalg.norm(bone, axis=-1, keepdims=True), 1e-9)
        out[:, b] = out[:, a] + np.where(seen[:, None], bone, fallback)
    return out[:, :NUM_LANDMARKS]


def floor_speed(points: np.ndarray, fps: float) -> np.ndarray:
    """Speed (T, ...) in m/s over the floor (X and Z) of points (T, ..., 3)."""
    return np.linalg.norm(np.gradient(points[..., [0, 2]], axis=0), axis=-1) * fps


def level(world: np.ndarray, visibility: np.ndarray, path: np.ndarray, fps: float) -> tuple[np.ndarray, float]:
    """(T, 33, 3) landmarks sheared in depth (Z -= tan(a) Y) so that, over the frames where the person stays on the
    spot with hips and ankles seen, the median direction from the ankles' midpoint to the hips' midpoint leans
    neither towards nor away from the camera; and a, the lean taken out (degrees, + = towards the camera).

    MediaPipe leans a person who faces towards or away from the camera 6-12° towards it, whatever the camera's own
    pitch (bench/mocap_quality: the same lean with the camera level or tipped 10° down), and leaves the feet alone
    (heel-to-toe directions and the two ankles' heights are as right as side on). Standing, jumping or squatting on
    the spot, the hips are over the feet, so the lean is measured there and taken out by moving depth in proportion
    to height, which keeps the feet as they are. A walk or a run leans into the motion: moving frames (`path`, the
    hips' path in metres) do not count, and a clip that moves throughout keeps its lean. Nor is a lean over
    LEVEL_MAX_DEGREES taken out: MediaPipe's was at most 11° on the harness, a seated person's hips are not over
    their feet.
    """
    speed = floor_speed(gaussian_filter1d(path, max(1.0, 0.15 * fps), axis=0, mode="nearest"), fps)
    legs = [LM[f"{side}_{part}"] for side in ("left", "right") for part in ("hip", "ankle")]
    still = (speed < LEVEL_STILL_SPEED) & (visibility[:, legs].min(axis=1) >= VISIBLE)
    if still.sum() < LEVEL_MIN_SECONDS * fps:
        return world, 0.0
    axis = world[:, [LM["left_hip"], LM["right_hip"]]].mean(axis=1)
    axis = axis - world[:, [LM["left_ankle"], LM["right_ankle"]]].mean(axis=1)
    axis = np.median(axis[still] / np.linalg.norm(axis[still], axis=-1, keepdims=True), axis=0)
    lean = math.atan2(axis[2], axis[1])
    if abs(math.degrees(lean)) > LEVEL_MAX_DEGREES:
        return world, 0.0
    out = world.copy()
    out[..., 2] -= math.tan(lean) * world[..., 1]
    return out, math.degrees(lean)


def pixels_per_metre(image_xy: np.ndarray, world: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """Per-frame scale of the person on screen: visible bones' pixel lengths over their metric image-plane lengths."""
    num = np.zeros(len(image_xy))
    den = np.zeros(len(image_xy))
    for a, b in LIMB_BONES:
        w = np.minimum(visibility[:, a], visibility[:, b]) + 1e-3
        num += w * np.linalg.norm(image_xy[:, b] - image_xy[:, a], axis=-1)
        den += w * np.linalg.norm(world[:, b, :2] - world[:, a, :2], axis=-1)
    return num / np.maximum(den, 1e-6)


def screen_scale(
    image_xy: np.ndarray, world: np.ndarray, visibility: np.ndarray, fps: float, smoothing: float
) -> np.ndarray:
    """Pixels per metre (T,) at the person: median-filtered, then smoothed heavily as a distance (1 / ppm)."""
    ppm = pixels_per_metre(image_xy, world, visibility)
    window = max(3, int(round(fps * 0.3)) | 1)
    log_ppm = median_filter(np.log(ppm), size=window, mode="nearest")
    distance = smooth(np.exp(-log_ppm)[:, None, None], fps, max(smoothing, 0.85), beta=0.0)[:, 0, 0]
    return 1.0 / distance


def hip_height(
    image_xy: np.ndarray, world: np.ndarray, visibility: np.ndarray, fps: float, smoothing: float
) -> np.ndarray:
    """How high (T,) in metres the hip centre is over the lowest point of the feet (heels, toes) on screen."""
    ppm = screen_scale(image_xy, world, visibility, fps, smoothing)
    hip = image_xy[:, [LM["left_hip"], LM["right_hip"]], 1].mean(axis=1)
    feet = image_xy[:, [LM[f"{s}_{p}"] for s in ("left", "right") for p in ("heel", "foot_index")], 1].max(axis=1)
    return (feet - hip) / ppm


def root_translation(
    image_xy: np.ndarray,
    world: np.ndarray,
    visibility: np.ndarray,
    width: int,
    height: int,
    fps: float,
    fov_degrees: float,
    smoothing: float,
) -> np.ndarray:
    """The hip centre's path in metres (X right, Y up, Z toward the camera), relative to the first frame.

    World landmarks are hip-centred, so the motion comes from the 2D hip centre and the person's on-screen
    scale (pixels per metre): X = (u - cx) / ppm and the distance d = focal / ppm with a pinhole camera
    whose field of view across the image's longer side is `fov_degrees`.
    """
    focal = 0.5 * max(width, height) / math.tan(math.radians(fov_degrees) / 2)
    ppm = screen_scale(image_xy, world, visibility, fps, smoothing)
    distance = focal / ppm
    hip = image_xy[:, [LM["left_hip"], LM["right_hip"]]].mean(axis=1)
    x = (hip[:, 0] - width / 2) / ppm
    y = (height / 2 - hip[:, 1]) / ppm  # the hips' height relative to the camera's
    z = -distance
    path = np.stack([x - x[0], y - y[0], z - z[0]], axis=1)
    return path
