"""Feet on the ground: sole points, standing on the floor, contact detection and foot locking (two-bone IK)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.ndimage import correlate1d, gaussian_filter1d, maximum_filter1d, minimum_filter1d, uniform_filter1d
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap.cleanup import floor_speed, heading, reflect_ends
from container_workers.gpu_worker.mocap.estimation import LM
from container_workers.gpu_worker.mocap.solve import J, X, Y, align, forward_kinematics, leg_lengths, twist_cue

SIDES = ("Left", "Right")
CONTACT_HEIGHT = 0.04  # metres: a heel or sole front this close to the floor, and
CONTACT_SPEED = 0.7  # metres per second: slower than this over the floor, goes down
RELEASE_HEIGHT = 0.06  # it comes up when higher than this, or
RELEASE_SPEED = 0.7  # faster than this
CONTACT_MIN_SECONDS = 0.1
WALK_DRIFT_SECONDS = 1.5  # the feet drive the root's steps; the image path corrects it over about this long
FIRST_PASS_SPEED = 2.0  # contact speeds are this much looser before the root path agrees with the feet
FLOOR_PERCENTILE = 20  # the floor is the lowest sole's height in this percentile of frames
FLIGHT_MARGIN = 0.12  # metres above that floor before a body counts as off the ground (a jump)
HEEL_SLACK_DEGREES = 10.0  # a planted leg may straighten this far past its captured knee bend before the heel rises
HEEL_LIFT_MAX_DEGREES = 40.0  # the heel rises by at most this (then the hips come down for the rest)
BLEND_SECONDS = 0.1  # ease in/out of a lock over this long, outside the contact
SWING_CARRY_SECONDS = 1.0  # a swing no longer than this carries the lock's correction from one contact to the next
STANCE_SECONDS = 1.5  # a contact longer than this, with both feet down, is a stance (standing, squatting):
STANCE_DRIFT_SECONDS = 5.0  # its planted foot follows the captured foot's drift, smoothed over this long (sigma),
STANCE_DRIFT_MARGIN = 0.01  # beyond this many metres (noise moves no planted foot)
PIVOT_TOLERANCE = 0.005  # metres: a planted foot's pivot moves to another sole point only when that is this much lower
TURN_REPLANT_DEGREES = 45.0  # a planted foot turning about the vertical by more than this is planted anew (a pivot)
STANCE_SMOOTH_SECONDS = 0.15  # through a stance the hips' path and the planted ankles are smoothed over this (sigma),
STANCE_EDGE_SECONDS = 0.3  # fading out over this long before the stance ends (a take-off is not blurred)
FOLD_REFERENCE_PERCENTILE = 90  # frames where the legs are this straight, relative to the image, are taken as right
FOLD_FEET_APART = (0.03, 0.06)  # metres: folds fade out as one foot rises this much over the other,
FOLD_STEP_SPEEDS = (0.3, 0.6)  # m/s: if that foot moves over the floor this fast (a step; held still, it is not)
FOLD_KNEE_DEGREES = (20.0, 40.0)  # folds fade in as the straighter knee's captured flexion grows over this range
UNSEEN_VISIBILITY = (0.2, 0.5)  # a leg whose landmarks' mean visibility is below this range is not in the picture:
UNSEEN_SECONDS = 0.2  # it stands straight under the hips instead (eased over this long, sigma)
FOLD_MARGIN = 0.03  # metres: the hips come down only by what the image says beyond this (noise bends no knee)
STRAIGHTEN_SHARE = 1.0  # a planted knee's captured flexion f is cut by up to this share of it, fading out as
STRAIGHTEN_DEGREES = 40.0  # exp(-(f / this)^2): MediaPipe bends near-straight standing legs, not bent ones,
STRAIGHTEN_SPEEDS = (60.0, 160.0)  # and as the knee bends or unbends this fast (degrees per second: passing through)
RISE_SECONDS = 0.1  # the hips' rise for it is smoothed over this long (never above what a frame needs)
RISE_EASE = 0.05  # metres: a leg easing out of its lock lets the hips rise this much more per unit of weight lost


def sole_local(offsets: np.ndarray | None = None) -> np.ndarray:
    """Heel, ball and toe tip in the Foot joint's frame (the same for both feet), all on y=0 in the rest pose.

    `offsets` are the skeleton's rest offsets (default the standard skeleton's; the performer's own otherwise).
    """
    standard = skeleton.offsets()[J["LeftToeBase"]]
    toe_offset = (skeleton.offsets() if offsets is None else offsets)[J["LeftToeBase"]]
    ratio = np.linalg.norm(toe_offset) / np.linalg.norm(standard)
    toe_gap = skeleton.rest_positions()[J["LeftToeBase"], 1] * ratio  # the ball joint's height over the floor
    ball = toe_offset + np.array([0.0, -toe_gap, 0.0])
    heel = np.array([0.0, toe_offset[1] - toe_gap, -0.03 * ratio])
    return np.array([heel, ball, ball + np.array(skeleton.END_SITES["LeftToeBase"]) * ratio])


SOLE_LOCAL = sole_local()


def sole_points(G: np.ndarray, pos: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """World heel, ball and toe-tip points of both feet, (T, 2, 3, 3) (the toe bone turns with the foot)."""
    local = SOLE_LOCAL if offsets is None else sole_local(offsets)
    out = np.empty((len(G), 2, 3, 3))
    for k, side in enumerate(SIDES):
        f = J[f"{side}Foot"]
        out[:, k] = pos[:, f, None] + np.einsum("tij,pj->tpi", G[:, f], local)
    return out


def stand_on_floor(G: np.ndarray, root: np.ndarray, offsets: np.ndarray | None = None) -> np.ndarray:
    """The root path with its height set so the lowest sole point is at y=0 in every frame."""
    out = root.copy()
    out[:, 1] = 0.0
    soles = sole_points(G, forward_kinematics(G, out, offsets), offsets)
    out[:, 1] = -soles[..., 1].min(axis=(1, 2))
    return out


def flight_lift(G: np.ndarray, root: np.ndarray, fps: float, offsets: np.ndarray | None = None) -> np.ndarray:
    """How far (T,) above the floor the lowest sole is, from a root path whose Y is the hips' measured height.

    The floor is where the lowest sole usually is (a low percentile over the clip); heights within
    FLIGHT_MARGIN of it are noise and count as on the floor, so only real jumps leave the ground (and only
    between frames on the ground).
    """
    rel = sole_points(G, forward_kinematics(G, np.zeros_like(root), offsets), offsets)[..., 1].min(axis=(1, 2))
    lowest = gaussian_filter1d(root[:, 1] + rel, max(1.0, 0.05 * fps), mode="nearest")
    floor = np.percentile(lowest, FLOOR_PERCENTILE)
    lift = np.maximum(lowest - floor - FLIGHT_MARGIN, 0.0)
    for a, b in runs(lift > 0):  # a flight takes off and lands within the clip; at its ends, it is doubt
        if a == 0 or b == len(lift) - 1:
            lift[a : b + 1] = 0.0
    return lift


def ground_flights(lift: np.ndarray, contacts: np.ndarray) -> np.ndarray:
    """`flight_lift`'s lift (T,) without the flights through which a foot stays in contact (T, 2): a planted foot
    is on the floor, so the hips' rise there was a stretch, not a jump."""
    out = lift.copy()
    for a, b in runs(lift > 0):
        if contacts[a : b + 1].all(axis=0).any():
            out[a : b + 1] = 0.0
    return out


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive (start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def _hysteresis(on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """A state that switches on where `on` holds and stays on until `off` holds, (T,) bool."""
    state = np.zeros(len(on), dtype=bool)
    current = False
    for t in range(len(on)):
        current = (current and not off[t]) or bool(on[t])
        state[t] = current
    return state


def detect_contacts(
    G: np.ndarray, root: np.ndarray, fps: float, speed_scale: float = 1.0, offsets: np.ndarray | None = None
) -> np.ndarray:
    """Per frame and foot (T, 2): the heel or the front of the sole is down on the floor and not moving over it.

    Each part goes down when it is lower than CONTACT_HEIGHT and slower than CONTACT_SPEED (either foot: a planted
    foot's estimate wobbles as the root moves; 0.5 m/s for the upper one cut bench/mocap_quality's planted feet short),
    and comes up only when it is higher than RELEASE_HEIGHT or faster than RELEASE_SPEED (hysteresis, so noise does
    not chop contacts).
    `speed_scale` multiplies both speeds (a first pass on a root path that is not yet consistent with the legs).
    """
    soles = sole_points(G, forward_kinematics(G, root, offsets), offsets)  # heel, ball, toe tip
    parts = np.stack([soles[:, :, 0], soles[:, :, 1:].mean(axis=2)], axis=2)  # heel, front: (T, 2, 2, 3)
    height = np.stack([soles[:, :, 0, 1], soles[:, :, 1:, 1].min(axis=2)], axis=2)
    if len(G) > 2:
        speed = floor_speed(uniform_filter1d(parts, 3, axis=0, mode="nearest"), fps)
    else:
        speed = np.zeros(height.shape)
    contact = np.zeros((len(G), 2), dtype=bool)
    for k in range(2):
        for part in range(2):
            h, v = height[:, k, part], speed[:, k, part]
            on = (h < CONTACT_HEIGHT) & (v < CONTACT_SPEED * speed_scale)
            contact[:, k] |= _hysteresis(on, (h > RELEASE_HEIGHT) | (v > RELEASE_SPEED * speed_scale))
    min_frames = max(2, int(round(CONTACT_MIN_SECONDS * fps)))
    for k in range(2):
        for a, b in runs(~contact[:, k]):  # close one- or two-frame holes inside a contact
            if a > 0 and b < len(G) - 1 and b - a + 1 <= 2:
                contact[a : b + 1, k] = True
        for a, b in runs(contact[:, k]):
            if b - a + 1 < min_frames:
                contact[a : b + 1, k] = False
    return contact


def walk_root(
    G: np.ndarray, root: np.ndarray, contacts: np.ndarray, fps: float, offsets: np.ndarray | None = None
) -> np.ndarray:
    """The root path moved, frame to frame, as the feet on the floor push it (no slide), kept on the given path.

    While a foot is down, the root steps by minus its lowest sole point's motion relative to the hips (both feet:
    the mean); with no foot down it follows `root`. The difference between this walked path and `root` is then
    high-passed (WALK_DRIFT_SECONDS, `_local_trend`): steps come from the feet, the long-term path from `root`.

    MediaPipe's legs sweep too little in depth, so the feet's steps fall short of the body's travel (walking
    towards the camera, 2.39 m of the 3.13 walked), and a Gaussian of the difference lags a drift that grows all
    clip long: over a few seconds the path kept 76-86 % of the travel. A local line follows it to the clip's ends
    (bench/mocap_quality: the root path's error over the walks and runs 29.6 -> 15.8 cm mean); the planted feet then
    make the stance legs sweep the rest.
    """
    if len(G) < 3:
        return root.copy()
    rel = sole_points(
        G, forward_kinematics(G, np.zeros_like(root), offsets), offsets
    )  # (T, 2, 3, 3) relative to the hips
    low = rel[..., 1].argmin(axis=2)
    step = np.diff(root, axis=0)
    for t in range(1, len(G)):
        down = [k for k in range(2) if contacts[t, k] and contacts[t - 1, k]]
        if down:
            moves = [rel[t, k, low[t, k]] - rel[t - 1, k, low[t, k]] for k in down]
            step[t - 1, [0, 2]] = -np.mean(moves, axis=0)[[0, 2]]
    walked = np.concatenate([root[:1], root[:1] + np.cumsum(step, axis=0)])
    out = walked + _local_trend(root - walked, WALK_DRIFT_SECONDS * fps)
    out[:, 1] = root[:, 1]
    return out


def _local_trend(x: np.ndarray, sigma: float) -> np.ndarray:
    """(T, D) `x` at each frame from a line fitted to it by least squares with Gaussian weights (`sigma` frames) over
    the frames there are: a Gaussian filter where `x` curves, but a drift that keeps growing is followed to the ends
    (a padded Gaussian flattens it there)."""
    radius = int(4 * sigma + 0.5)
    u = np.arange(-radius, radius + 1, dtype=float)
    w = np.exp(-0.5 * (u / sigma) ** 2)

    def weighted(y: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return correlate1d(y, kernel, axis=0, mode="constant", cval=0.0)

    ones = np.ones(len(x))
    s0, s1, s2 = weighted(ones, w), weighted(ones, w * u), weighted(ones, w * u * u)
    det = np.maximum(s0 * s2 - s1 * s1, 1e-12)[:, None]
    return (s2[:, None] * weighted(x, w) - s1[:, None] * weighted(x, w * u)) / det


def _two_bone_ik(
    hip: np.ndarray, knee: np.ndarray, target: np.ndarray, upleg_rot: np.ndarray, thigh_len: float, shin_len: float
) -> tuple[np.ndarray, np.ndarray]:
    """World rotations of thigh and shin putting the ankle on `target`, the knee bending forwards about the thigh's
    hinge axis (its X).

    The knee goes to the side of the hip-to-target line that the hinge bends it to, not to the side the captured
    knee is on: a near-straight captured knee lies on that line, on either side of it from frame to frame, and
    following it flipped the knee backwards for a frame or two where a lock stretched the leg (bench/mocap_quality:
    walking towards the camera, knee acceleration 7.7x the truth's). The captured knee only breaks the tie when the
    leg points along its own hinge axis.
    """
    d_vec = target - hip
    dist = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    axis = d_vec / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(thigh_len - shin_len) + 1e-6, (thigh_len + shin_len) * (1 - 1e-6))
    along = (thigh_len**2 - shin_len**2 + dist**2) / (2 * dist)
    out = np.sqrt(np.maximum(thigh_len**2 - along**2, 0.0))
    captured = knee - hip
    captured = captured - np.sum(captured * axis, axis=-1, keepdims=True) * axis
    pole = np.cross(axis, upleg_rot @ X) + 1e-3 * captured / np.maximum(
        np.linalg.norm(captured, axis=-1, keepdims=True), 1e-12
    )
    pole /= np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-12)
    new_knee = hip + along * axis + out * pole
    thigh, shin = new_knee - hip, hip + dist * axis - new_knee
    bend = twist_cue(np.cross(thigh / thigh_len, shin / shin_len), upleg_rot, X)
    return align(thigh, bend, -Y, X), align(shin, bend, -Y, X)


def _smoothstep(w: np.ndarray) -> np.ndarray:
    return w * w * (3 - 2 * w)


def _reach_drop(hip: np.ndarray, target: np.ndarray, reach: float) -> np.ndarray:
    """How far (T,) the hip must come down so `target` is within `reach` of it (0 if it already is)."""
    d = target - hip
    across = np.minimum(d[:, 0] ** 2 + d[:, 2] ** 2, reach**2)
    return np.maximum(0.0, -d[:, 1] - np.sqrt(reach**2 - across))


def _ramp(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 below `start`, 1 above `end`, linear between."""
    return np.clip((x - start) / (end - start), 0.0, 1.0)


def _knee_flexion(pos: np.ndarray, side: str) -> np.ndarray:
    """Knee flexion (T,) in degrees: 0 with the leg straight."""
    thigh = pos[:, J[f"{side}Leg"]] - pos[:, J[f"{side}UpLeg"]]
    shin = pos[:, J[f"{side}Foot"]] - pos[:, J[f"{side}Leg"]]
    cos = np.sum(thigh * shin, axis=-1) / np.maximum(
        np.linalg.norm(thigh, axis=-1) * np.linalg.norm(shin, axis=-1), 1e-12
    )
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _leg_reach(flexion: np.ndarray, leg: tuple[float, float]) -> np.ndarray:
    """Hip-to-ankle distance (T,) of a leg with `leg` = (thigh, shin) lengths, its knee bent by `flexion` degrees."""
    thigh, shin = leg
    return np.sqrt(thigh**2 + shin**2 + 2 * thigh * shin * np.cos(np.radians(flexion)))


def stand_unseen_legs(
    G: np.ndarray, visibility: np.ndarray, image_xy: np.ndarray, width: int, height: int, fps: float
) -> np.ndarray:
    """World rotations (T, J, 3, 3) with each leg out of the picture straight under the hips (its rest pose).

    MediaPipe always returns 33 landmarks, guessing those out of the picture: on a waist-up shot it invents bent,
    wandering legs (bench/mocap_quality's `hands` clip: knees 47 degrees off). A leg whose knee, ankle, heel and toe
    have a mean visibility under UNSEEN_VISIBILITY and lie outside the `width` x `height` frame (`image_xy`, (T, 33,
    2) pixels) stands in the rest pose relative to the hips, blended in by that visibility and the share of those
    landmarks outside, smoothed over UNSEEN_SECONDS, so a leg leaving the picture eases into the pose. A leg hidden
    inside the picture (behind the other, seen from the side) keeps its capture: standing the far leg of a squat
    seen side on made it 73.9 -> 80.9 mm PA-MPJPE, worse than raw MediaPipe.
    """
    G = G.copy()
    for side in SIDES:
        s = side.lower()
        marks = [LM[f"{s}_{n}"] for n in ("knee", "ankle", "heel", "foot_index")]
        seen = _ramp(visibility[:, marks].mean(axis=1), *UNSEEN_VISIBILITY)
        x, y = image_xy[:, marks, 0], image_xy[:, marks, 1]
        outside = 1.0 - ((x >= 0) & (x < width) & (y >= 0) & (y < height)).mean(axis=1)
        weight = gaussian_filter1d(1.0 - (1.0 - seen) * outside, max(1.0, UNSEEN_SECONDS * fps), mode="nearest")
        if weight.min() > 1.0 - 1e-3:
            continue
        hips = G[:, J["Hips"]]
        for joint in (f"{side}UpLeg", f"{side}Leg", f"{side}Foot", f"{side}ToeBase"):
            turn = Rotation.from_matrix(np.swapaxes(hips, 1, 2) @ G[:, J[joint]]).as_rotvec() * weight[:, None]
            G[:, J[joint]] = hips @ Rotation.from_rotvec(turn).as_matrix()
    return G


def fold_legs(
    G: np.ndarray, root: np.ndarray, measured: np.ndarray, fps: float, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bend the legs where the hips stand higher over the feet than the image says (MediaPipe under-bends knees).

    `measured` (T,) is the hips' height over the lowest point of the feet on screen, in the skeleton's metres. Its
    ratio to the skeleton's own (hips over the lowest sole) is taken as right in the clip's straightest frames
    (FOLD_REFERENCE_PERCENTILE), which cancels the scale's bias; where the ratio is lower, the hips come down by the
    difference beyond FOLD_MARGIN and two-bone IK keeps both ankles where they were. Only with both feet down
    (FOLD_FEET_APART) and both knees already bent (FOLD_KNEE_DEGREES): MediaPipe under-bends bent knees, it does
    not straighten a crouch, while the image's hip height varies by several centimetres on its own (a foot turning
    towards the camera sits lower on screen). Without these gates bench/mocap_quality's run knees were 5 degrees
    and the standing wave's 9 degrees over-bent. A foot held up but still over the floor (FOLD_STEP_SPEEDS) is not
    a step: seen side on, a squat's far leg under-bent by 34 degrees held the near foot 14 cm up, and the gate kept
    both knees under-bent (bench/mocap_quality's squat-side, knees 12.5 -> 7.3 degrees off). Returns (G, root).
    """
    G, root = G.copy(), root.copy()
    pos = forward_kinematics(G, root, offsets)
    soles = sole_points(G, pos, offsets)
    lowest = soles[..., 1].min(axis=2)  # (T, 2) per foot
    standing = pos[:, J["Hips"], 1] - lowest.min(axis=1)
    ratio = measured / np.maximum(standing, 1e-6)
    ref = np.percentile(ratio, FOLD_REFERENCE_PERCENTILE)
    drop = np.maximum(standing * (1.0 - np.minimum(ratio / ref, 1.0)) - FOLD_MARGIN, 0.0)
    speed = floor_speed(soles.mean(axis=2), fps)[np.arange(len(G)), lowest.argmax(axis=1)]  # the higher foot's
    raised = gaussian_filter1d(speed, max(1.0, 0.05 * fps), mode="nearest")
    apart = np.abs(lowest[:, 0] - lowest[:, 1]) * _ramp(raised, *FOLD_STEP_SPEEDS)
    drop *= _ramp(FOLD_FEET_APART[1] - apart, 0.0, FOLD_FEET_APART[1] - FOLD_FEET_APART[0])
    drop *= _ramp(np.min([_knee_flexion(pos, side) for side in SIDES], axis=0), *FOLD_KNEE_DEGREES)
    drop = gaussian_filter1d(drop, max(1.0, 0.05 * fps), mode="nearest")
    fold = drop > 1e-4
    if not fold.any():
        return G, root
    root[:, 1] -= drop
    bent = forward_kinematics(G, root, offsets)
    thigh, shin = leg_lengths(offsets)
    for side in SIDES:
        up, leg, foot = J[f"{side}UpLeg"], J[f"{side}Leg"], J[f"{side}Foot"]
        G[fold, up], G[fold, leg] = _two_bone_ik(
            bent[fold, up], bent[fold, leg], pos[fold, foot], G[fold, up], thigh, shin
        )
    return G, root


def _pivots(height: np.ndarray) -> np.ndarray:
    """Which sole point (n,) a planted foot turns about, from the points' heights (n, P) relative to the ankle.

    The lowest, but the pivot moves on to another point only when that is lower by over PIVOT_TOLERANCE: on a flat
    foot heel and ball are level to a hair, and a knife-edge choice would step the foot between them on noise (a
    flat foot turning 40 degrees: 3.0 cm).
    """
    pivot = np.empty(len(height), dtype=int)
    current = int(height[0].argmin())
    for t, row in enumerate(height):
        lowest = int(row.argmin())
        if row[lowest] < row[current] - PIVOT_TOLERANCE:
            current = lowest
        pivot[t] = current
    return pivot


def _planted_ankle(pos: np.ndarray, rot: np.ndarray, local: np.ndarray, stance: np.ndarray, fps: float) -> np.ndarray:
    """Ankle positions (n, 3) through one contact that keep its lowest sole point still on the floor.

    The foot keeps its captured rotation, so it can roll from heel to toe; the lowest sole point is the
    pivot. A new pivot is pinned where it was when it takes over, so the ankle path stays continuous; the whole
    planted path is then placed, over the floor, at the median of where the captured foot was through the
    contact (not where it touched down: the first frames are the least certain). Through a long stance (contact
    over STANCE_SECONDS; `stance` (n,) weighs the frames with both feet down) it follows the captured foot's slow
    drift (STANCE_DRIFT_SECONDS) beyond STANCE_DRIFT_MARGIN: there the drift is the legs' own (a squat's feet move
    centimetres in depth relative to the hips, in the image's estimate), and a foot pinned against it bends the
    knee wrong (bench/mocap_quality's squat 67.5 -> 64.3 mm).
    """
    sole = np.einsum("tij,pj->tpi", rot, local)  # (n, 3 points, 3) relative to the ankle
    pivot = _pivots(sole[..., 1])
    n = len(pos)
    ankle = np.empty((n, 3))
    anchor = np.zeros(3)
    for t in range(n):
        if t and pivot[t] != pivot[t - 1]:
            anchor = ankle[t - 1] + sole[t - 1, pivot[t]]  # where the new pivot was: it does not move
        ankle[t] = anchor - sole[t, pivot[t]]
    ankle[:, 1] = -sole[..., 1].min(axis=1)  # the lowest point on the floor, the pivot or not: none goes through it
    offset = pos[:, [0, 2]] - ankle[:, [0, 2]]
    median = np.median(offset, axis=0)
    ankle[:, [0, 2]] += median
    if n > STANCE_SECONDS * fps:
        drift = gaussian_filter1d(offset, STANCE_DRIFT_SECONDS * fps, axis=0, mode="nearest") - median
        drift = np.sign(drift) * np.maximum(np.abs(drift) - STANCE_DRIFT_MARGIN, 0.0)
        ankle[:, [0, 2]] += stance[:, None] * drift
    ankle[:, 1] = np.maximum(ankle[:, 1], pos[:, 1])  # never pulled down: bending the knees to reach is worse
    return ankle


def _turn_pieces(rot: np.ndarray, start: int) -> list[tuple[int, int]]:
    """One contact (the foot's world rotations (n, 3, 3) from frame `start`) cut where the foot has turned about the
    vertical by more than TURN_REPLANT_DEGREES since the piece began: inclusive frame ranges."""
    # the foot's left-right axis stays level as it rolls heel to toe, so its heading is the turn
    yaw = np.unwrap(heading(rot[:, :, 0]))
    limit = np.radians(TURN_REPLANT_DEGREES)
    pieces, first = [], 0
    for k in range(1, len(yaw)):
        if abs(yaw[k] - yaw[first]) > limit:
            pieces.append((start + first, start + k - 1))
            first = k
    return pieces + [(start + first, start + len(yaw) - 1)]


def _foot_targets(
    G: np.ndarray,
    pos: np.ndarray,
    contacts: np.ndarray,
    side: str,
    blend: int,
    local: np.ndarray,
    stance: np.ndarray,
    fps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Lock weight (T,) and ankle target (T, 3) of one foot over its contacts (`stance`: both feet down, (T,))."""
    foot = J[f"{side}Foot"]
    T = len(G)
    weight = np.zeros(T)
    target = pos[:, foot].copy()
    pieces = [piece for a, b in runs(contacts) for piece in _turn_pieces(G[a : b + 1, foot], a)]
    for a, b in pieces:
        planted = _planted_ankle(pos[a : b + 1, foot], G[a : b + 1, foot], local, stance[a : b + 1], fps)
        ramp_in = np.arange(max(0, a - blend), a)
        ramp_out = np.arange(b + 1, min(T, b + 1 + blend))
        frames = np.concatenate([ramp_in, np.arange(a, b + 1), ramp_out])
        # Outside the contact the correction (planted minus captured) fades, so the foot keeps its captured swing.
        spot = np.concatenate(
            [
                pos[ramp_in, foot] + (planted[0] - pos[a, foot]),
                planted,
                pos[ramp_out, foot] + (planted[-1] - pos[b, foot]),
            ]
        )
        w = np.concatenate(
            [
                _smoothstep((ramp_in - (a - blend - 1)) / (blend + 1)),
                np.ones(b - a + 1),
                _smoothstep(((b + 1 + blend) - ramp_out) / (blend + 1)),
            ]
        )
        stronger = w > weight[frames]
        frames, w, spot = frames[stronger], w[stronger], spot[stronger]
        if not len(frames):
            continue
        weight[frames] = w
        target[frames] = (1 - w[:, None]) * pos[frames, foot] + w[:, None] * spot
    _carry_through_swings(pieces, weight, target, pos, foot, J[f"{side}UpLeg"], fps)
    cuts = [a for (_, end), (a, _) in pairwise(pieces) if a == end + 1]  # a turning foot is planted anew:
    if cuts:  # it steps to the next spot over half the lock's blend instead of jumping
        step = 0.5 * blend
        near = np.zeros(T)
        reach = int(np.ceil(4 * step))
        for cut in cuts:
            frames = np.arange(max(0, cut - reach), min(T, cut + reach))
            near[frames] = np.maximum(near[frames], np.exp(-0.5 * ((frames - cut + 0.5) / step) ** 2))
        target += near[:, None] * (gaussian_filter1d(target, step, axis=0, mode="nearest") - target)
    # Keep a blended foot's sole above the floor.
    lowest = np.einsum("tij,pj->tpi", G[:, foot], local)[..., 1].min(axis=1)
    target[:, 1] = np.where(weight > 0, np.maximum(target[:, 1], -lowest), target[:, 1])
    return weight, target


def _carry_through_swings(
    pieces: list[tuple[int, int]],
    weight: np.ndarray,
    target: np.ndarray,
    pos: np.ndarray,
    foot: int,
    hip: int,
    fps: float,
) -> None:
    """Between two contacts (`pieces`) at most SWING_CARRY_SECONDS apart, the swinging foot's correction (target minus
    captured ankle) goes smoothly from the one the last contact ended with to the one the next begins with, instead of
    fading out and back in over the lock's blend; `weight` and `target` (T,), (T, 3) are changed in place.

    A planted foot's spot is the median of where the captured foot was through the contact, so a captured stride
    shorter than the body's travel leaves it behind at the end of each contact and ahead at the start of the next:
    faded over the blend alone, that difference swung the leg in a few frames. The swinging leg is turned about its
    hip joint towards the corrected spot and keeps its captured reach, so the knee keeps its captured bend; inside the
    blend it is mixed with the lock's own target by the lock's weight. Swing frames get a weight of 1e-6: the leg IK
    runs there, while the weight-driven straightening and hip drop for planted legs do not count them.
    (bench/mocap_quality: PA-MPJPE summed over 19 clips 1006.2 -> 1003.6 mm, knees 7.90 -> 7.79 degrees.)
    """
    for (_, end), (start, _) in pairwise(pieces):
        if not 0 < start - end - 1 <= SWING_CARRY_SECONDS * fps:  # touching pieces (a turning foot) or a long flight
            continue
        frames = np.arange(end + 1, start)
        s = _smoothstep((frames - end) / (start - end))[:, None]
        spot = pos[frames, foot] + (1 - s) * (target[end] - pos[end, foot]) + s * (target[start] - pos[start, foot])
        leg, reach = spot - pos[frames, hip], np.linalg.norm(pos[frames, foot] - pos[frames, hip], axis=-1)
        turned = pos[frames, hip] + (reach / np.maximum(np.linalg.norm(leg, axis=-1), 1e-9))[:, None] * leg
        w = weight[frames, None]
        target[frames] = w * target[frames] + (1 - w) * turned
        weight[frames] = np.maximum(weight[frames], 1e-6)


def _rotate_about(axis: np.ndarray, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectors v (..., 3) turned by theta (...) radians about unit axes (..., 3) (Rodrigues)."""
    c, s_ = np.cos(theta)[..., None], np.sin(theta)[..., None]
    return v * c + np.cross(axis, v) * s_ + axis * np.sum(axis * v, axis=-1, keepdims=True) * (1 - c)


def _lift_heel(
    rot: np.ndarray,
    target: np.ndarray,
    hip: np.ndarray,
    flexion: np.ndarray,
    frames: np.ndarray,
    leg: tuple[float, float],
    local: np.ndarray,
    blend: int,
) -> np.ndarray:
    """A planted foot's world rotations (T, 3, 3) with its heel raised where the leg cannot reach; `target` (T, 3),
    its ankle target, is moved with it in place.

    In `frames`, where the target is further from the hip joint (`hip`) than the leg reaches with the captured knee
    bend (`flexion`, degrees) less HEEL_SLACK_DEGREES, the foot rolls about its toe tip by the least
    angle that brings the ankle within that reach, as a foot does at the end of a step. Otherwise the hips
    came down until the leg reached at full stretch, and the knee snapped straight for a frame at each contact's end
    (a knee at 10 degrees went to 1.6 and back). The angle is eased over the lock's blend so the heel rises smoothly.
    """
    reach = _leg_reach(np.maximum(flexion - HEEL_SLACK_DEGREES, 0.0), leg) * (1 - 1e-4)
    over = frames & (np.linalg.norm(target - hip, axis=-1) > reach)
    if not over.any():
        return rot
    pivot = target + np.einsum("tij,j->ti", rot, local[2])  # the toe tip: heel and ball rise, nothing goes down
    axis, lever = rot[:, :, 0], target - pivot  # the foot's left-right axis; ankle about the pivot
    up = _rotate_about(axis, np.full(len(rot), 0.01), lever)[:, 1] > lever[:, 1]
    sign = np.where(up, 1.0, -1.0)  # the way that raises the ankle (and the heel)
    grid = np.radians(np.arange(0.0, HEEL_LIFT_MAX_DEGREES + 0.01, 0.25))
    idx = np.flatnonzero(over)
    ankles = pivot[idx, None] + _rotate_about(axis[idx, None], sign[idx, None] * grid, lever[idx, None])
    fits = np.linalg.norm(ankles - hip[idx, None], axis=-1) <= reach[idx, None]
    theta = np.zeros(len(rot))
    theta[idx] = grid[np.where(fits.any(axis=1), fits.argmax(axis=1), len(grid) - 1)]
    theta = np.maximum(theta, gaussian_filter1d(theta, max(1.0, blend / 2), mode="nearest"))
    moved = theta > 0
    angle = sign[moved] * theta[moved]
    target[moved] = pivot[moved] + _rotate_about(axis[moved], angle, lever[moved])
    out = rot.copy()
    for column in range(3):
        out[moved, :, column] = _rotate_about(axis[moved], angle, rot[moved, :, column])
    return out


def _straightened(flexion: np.ndarray, weight: np.ndarray, fps: float) -> np.ndarray:
    """The knee flexion (T,) in degrees a planted leg is given: its captured `flexion` f cut to
    f (1 - STRAIGHTEN_SHARE w c exp(-(f / STRAIGHTEN_DEGREES)^2)), with w its lock's weight and c fading out as the
    knee bends or unbends faster than STRAIGHTEN_SPEEDS (a squat passing through).

    MediaPipe pulls knee angles towards the middle of their range: a leg standing near straight comes out bent
    (bench/mocap_quality: planted knees 4-12 degrees bent in the truth were 13-30 in the stage's output, on every
    clip seen from the front; walking towards the camera, 5-9 degrees came out 25-35). A near-straight planted knee
    is straightened (a captured 20 degrees becomes 4.4: a standing person's knees are 0-5 degrees bent); bent knees
    (a squat, a crouch) keep most of their bend (45 degrees keeps 72 %, 60 degrees 89 %).
    """
    speed = np.abs(np.gradient(gaussian_filter1d(flexion, max(1.0, 0.05 * fps), mode="nearest"))) * fps
    calm = _ramp(-speed, -STRAIGHTEN_SPEEDS[1], -STRAIGHTEN_SPEEDS[0])
    return flexion * (1.0 - STRAIGHTEN_SHARE * weight * calm * np.exp(-((flexion / STRAIGHTEN_DEGREES) ** 2)))


def _straighten_rise(
    pos: np.ndarray,
    locks: list[tuple[np.ndarray, np.ndarray]],
    flexions: list[np.ndarray],
    wants: list[np.ndarray],
    leg: tuple[float, float],
) -> np.ndarray:
    """How far (T,) the hips rise so that the planted legs straighten from their captured `flexions` to the ones they
    want (`wants`, degrees): the least, over the planted legs, of how much higher the hip joint then reaches over its
    target. A leg easing out of its lock allows RISE_EASE more per unit of weight lost, so the rise does not jump
    when a foot lifts."""
    rise = np.full(len(pos), np.inf)
    for (weight, target), flexion, want, side in zip(locks, flexions, wants, SIDES):
        d = pos[:, J[f"{side}UpLeg"]] - target
        across = d[:, 0] ** 2 + d[:, 2] ** 2
        captured, wanted = (np.sqrt(np.maximum(_leg_reach(f, leg) ** 2 - across, 0.0)) for f in (flexion, want))
        need = wanted - np.maximum(captured, d[:, 1])  # never past the want, where the lock already stretches the leg
        rise = np.where(weight > 0, np.minimum(rise, need + (1 - weight) * RISE_EASE), rise)
    return np.where(np.isfinite(rise), np.maximum(rise, 0.0), 0.0)


def _settled(contacts: np.ndarray, fps: float) -> np.ndarray:
    """Weight (T,) of a long stance: 1 inside a both-feet contact over STANCE_SECONDS, eased to 0 over
    STANCE_EDGE_SECONDS towards the ends where a foot lifts (not at the clip's ends)."""
    T = len(contacts)
    weight = np.zeros(T)
    edge = max(1.0, STANCE_EDGE_SECONDS * fps)
    for a, b in runs(contacts.all(axis=1)):
        if b - a + 1 > STANCE_SECONDS * fps:
            k = np.arange(a, b + 1, dtype=float)
            inside = np.minimum(k - a if a > 0 else np.inf, b - k if b < T - 1 else np.inf)
            weight[a : b + 1] = _smoothstep(np.clip(inside / edge, 0.0, 1.0))
    return weight


def _smooth_where(x: np.ndarray, weight: np.ndarray, fps: float) -> np.ndarray:
    """(T, ...) `x` moved towards its Gaussian-smoothed self (STANCE_SMOOTH_SECONDS, ends reflected) by `weight` (T,)."""
    sigma = STANCE_SMOOTH_SECONDS * fps
    pad = min(len(x) - 1, int(np.ceil(3 * sigma)))
    smooth = gaussian_filter1d(reflect_ends(x, pad, fps), sigma, axis=0, mode="nearest")[pad : pad + len(x)]
    w = weight.reshape((-1,) + (1,) * (x.ndim - 1))
    return x + w * (smooth - x)


def _nearest_rotations(m: np.ndarray) -> np.ndarray:
    """The rotation matrices nearest to (..., 3, 3) matrices `m` (SVD projection)."""
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, -1] *= d[..., None]
    return u @ vt


def lock_feet(
    G: np.ndarray, root: np.ndarray, contacts: np.ndarray, fps: float, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pin each foot through its contacts with leg IK (its lowest sole point stays put, the foot keeps its captured
    rotation so it can roll heel to toe), lowering the hips where a leg cannot reach; then stand the result on the
    floor. Returns (G, root).

    Through a long stance (both feet down over STANCE_SECONDS: standing, squatting) the hips' path, the feet's
    rotations and the planted ankles' height are smoothed (STANCE_SMOOTH_SECONDS) before the legs reach: a body on
    both feet moves smoothly, while the captured legs' noise moved the hips over the pinned feet and the ankles'
    height with them (bench/mocap_quality's squat: jitter 1.86 -> 1.47x the truth's, PA-MPJPE 61.7 -> 61.3 mm, knee
    error 15.5 -> 13.2 degrees). A foot's rotation is smoothed with its ankle, so its lowest sole point stays put.

    Near-straight planted legs are straightened (`_straightened`): the hips rise by the least that the planted legs
    allow, before the drop for legs that cannot reach (bench/mocap_quality: knee error 8.5 -> 7.1 degrees on the
    walk, 15.5 -> 11.0 on the standing wave).
    """
    G, root = G.copy(), root.copy()
    settled = _settled(contacts, fps)
    if settled.any():  # the planted feet's rotations too, so their ankles, pinned by the sole, move smoothly
        root = _smooth_where(root, settled, fps)
        for side in SIDES:
            for name in (f"{side}Foot", f"{side}ToeBase"):
                G[:, J[name]] = _nearest_rotations(_smooth_where(G[:, J[name]], settled, fps))
    pos = forward_kinematics(G, root, offsets)
    blend = max(1, int(round(BLEND_SECONDS * fps)))
    thigh, shin = leg_lengths(offsets)
    local = SOLE_LOCAL if offsets is None else sole_local(offsets)
    stance = gaussian_filter1d(contacts.all(axis=1).astype(float), blend, mode="nearest")
    locks = [_foot_targets(G, pos, contacts[:, k], side, blend, local, stance, fps) for k, side in enumerate(SIDES)]
    if settled.any():  # the captured ankle's height, which the lock keeps when it is higher, is as noisy as the legs
        for _, target in locks:
            target[:, 1] = _smooth_where(target[:, 1], settled, fps)
    flexions = [
        _knee_flexion(pos, side) for side in SIDES
    ]  # as captured: the heel-off and the straightening start there
    for k, side in enumerate(SIDES):  # a trailing foot the leg cannot reach rolls onto its ball (heel-off)
        weight, target = locks[k]
        trailing = np.zeros(len(G), dtype=bool)
        for a, b in runs(contacts[:, k]):  # the second half of each contact and its ease out; not a long stance
            trailing[(a + b + 1) // 2 : min(len(G), b + 1 + blend)] = True
        foot = J[f"{side}Foot"]
        G[:, foot] = _lift_heel(
            G[:, foot],
            target,
            pos[:, J[f"{side}UpLeg"]],
            flexions[k],
            trailing & (weight > 0) & (settled == 0),
            (thigh, shin),
            local,
            blend,
        )
    wants = [_straightened(flexion, weight, fps) for (weight, _), flexion in zip(locks, flexions)]
    rise = _straighten_rise(pos, locks, flexions, wants, (thigh, shin))
    width = max(1, int(round(RISE_SECONDS * fps))) | 1  # a moving minimum, then a moving average of the same width:
    rise = uniform_filter1d(minimum_filter1d(rise, width, mode="nearest"), width, mode="nearest")  # never over it
    if settled.any():
        rise = _smooth_where(rise, settled, fps)
    if rise.any():  # near-straight planted legs straighten: the hips rise, a free foot's captured share with them
        root[:, 1] += rise
        pos = forward_kinematics(G, root, offsets)
        for weight, target in locks:
            target[:, 1] += (1 - weight) * rise
    drop = np.zeros(len(G))
    for (weight, target), side in zip(locks, SIDES):
        need = _reach_drop(pos[:, J[f"{side}UpLeg"]], target, (thigh + shin) * (1 - 1e-4))
        drop = np.maximum(drop, np.where(weight > 0, need, 0.0))
    if drop.any():  # ease in and out over the lock's blend: a moving maximum, then a moving average of the same
        width = blend | 1  # width, which never goes below what is needed (each average includes the frame's need)
        drop = uniform_filter1d(maximum_filter1d(drop, width, mode="nearest"), width, mode="nearest")
        root[:, 1] -= drop
        pos = forward_kinematics(G, root, offsets)
        for weight, target in locks:  # the captured share of a target comes down with the hips, as a free foot does
            target[:, 1] -= (1 - weight) * drop  # (else a foot easing into its lock bent its knee by the drop at once)
    for (weight, target), side in zip(locks, SIDES):
        up, leg = J[f"{side}UpLeg"], J[f"{side}Leg"]
        moving = weight > 0
        if not moving.any():
            continue
        G[moving, up], G[moving, leg] = _two_bone_ik(
            pos[moving, up], pos[moving, leg], target[moving], G[moving, up], thigh, shin
        )
    return G, stand_on_floor(G, root, offsets)


def foot_slide(G: np.ndarray, root: np.ndarray, contacts: np.ndarray, offsets: np.ndarray | None = None) -> float:
    """The longest way (metres) a foot's lowest sole point travels over the floor during one of its contacts."""
    soles = sole_points(G, forward_kinematics(G, root, offsets), offsets)
    worst = 0.0
    for k in range(2):
        for a, b in runs(contacts[:, k]):
            span = soles[a : b + 1, k]
            low = span[..., 1].argmin(axis=1)
            steps = span[1:, :, [0, 2]][np.arange(b - a), low[1:]] - span[:-1, :, [0, 2]][np.arange(b - a), low[1:]]
            worst = max(worst, float(np.linalg.norm(steps, axis=-1).sum()))
    return worst
