"""Known motions for the quality harness: walk, run, jump, squat, arm waves, hands opening and closing.

Each motion is local rotations (T, J, 3, 3) of the shared skeleton with fingers (identity = T-pose) and a Hips path
(T, 3) in metres for a figure with given rest offsets. Feet are planted by construction: the path moves so that the
lower foot does not slide, and the lowest sole point is on the floor, unless the motion is airborne (jump, run).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton

J = skeleton.INDEX
NAMES = skeleton.names(hands=True)
PARENTS = np.array([J[skeleton.PARENTS[n]] if skeleton.PARENTS[n] else -1 for n in NAMES])
FPS = 30.0


def rx(deg) -> np.ndarray:
    """Rotations about X by `deg` degrees (scalar or (T,)), (..., 3, 3)."""
    return Rotation.from_euler("x", np.reshape(deg, (-1, 1)), degrees=True).as_matrix()


def ry(deg) -> np.ndarray:
    """Rotations about Y."""
    return Rotation.from_euler("y", np.reshape(deg, (-1, 1)), degrees=True).as_matrix()


def rz(deg) -> np.ndarray:
    """Rotations about Z."""
    return Rotation.from_euler("z", np.reshape(deg, (-1, 1)), degrees=True).as_matrix()


class Pose:
    """Local rotations of every joint over T frames, composed joint by joint."""

    def __init__(self, frames: int):
        self.R = np.tile(np.eye(3), (frames, len(NAMES), 1, 1))

    def set(self, name: str, *rotations: np.ndarray) -> None:
        """The joint's local rotation = the product of `rotations` (each (T or 1, 3, 3)), left to right."""
        out = np.eye(3)
        for r in rotations:
            out = out @ r
        self.R[:, J[name]] = out


def world_rotations(R: np.ndarray) -> np.ndarray:
    """World rotations (T, J, 3, 3) from local ones."""
    G = R.copy()
    for j, p in enumerate(PARENTS):
        if p >= 0:
            G[:, j] = G[:, p] @ R[:, j]
    return G


def joint_positions(R: np.ndarray, root: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Forward kinematics: joint positions (T, J, 3) from local rotations, the Hips path and rest offsets (J, 3)."""
    G = world_rotations(R)
    pos = np.empty(R.shape[:2] + (3,))
    pos[:, 0] = root
    for j in range(1, len(NAMES)):
        pos[:, j] = pos[:, PARENTS[j]] + G[:, PARENTS[j]] @ offsets[j]
    return pos


def sole_points(R: np.ndarray, root: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Heel (under the ankle) and toe tip of both feet, (T, 2, 2, 3)."""
    pos = joint_positions(R, root, offsets)
    G = world_rotations(R)
    out = np.empty((len(R), 2, 2, 3))
    for k, side in enumerate(("Left", "Right")):
        foot, toe = J[f"{side}Foot"], J[f"{side}ToeBase"]
        ankle_height = -offsets[toe][1] + 0.02
        out[:, k, 0] = pos[:, foot] + G[:, foot] @ np.array([0.0, -ankle_height, -0.04])
        out[:, k, 1] = pos[:, toe] + G[:, toe] @ np.array([0.0, -0.02, 0.07])
    return out


def plant(R: np.ndarray, offsets: np.ndarray, lift: np.ndarray | None = None, travel: bool = True) -> np.ndarray:
    """A Hips path that keeps the lower foot's lowest point still on the floor (no slide), plus `lift` (T,) in metres."""
    T = len(R)
    root = np.zeros((T, 3))
    soles = sole_points(R, root, offsets)  # relative to a fixed Hips
    low = soles[..., 1].min(axis=2)  # (T, 2)
    support = low.argmin(axis=1)
    if travel:
        for t in range(1, T):
            k = support[t]
            point = soles[t, k, soles[t, k, :, 1].argmin()]
            before = soles[t - 1, k, soles[t, k, :, 1].argmin()]
            root[t, [0, 2]] = root[t - 1, [0, 2]] - (point - before)[[0, 2]]
    root[:, 1] = -low.min(axis=1) + (0.0 if lift is None else lift)
    root[:, [0, 2]] -= 0.5 * (root[:, [0, 2]].min(axis=0) + root[:, [0, 2]].max(axis=0))  # centred on the origin
    return root


def _base(frames: int) -> Pose:
    pose = Pose(frames)
    pose.set("LeftArm", rz(-72))
    pose.set("RightArm", rz(72))
    pose.set("LeftForeArm", ry(-10))
    pose.set("RightForeArm", ry(10))
    return pose


def _arms(pose: Pose, down: float, swing_l, swing_r, elbow_l, elbow_r) -> None:
    """Arms lowered `down` degrees from the T-pose, swung forward (degrees, + = forward), elbows bent."""
    pose.set("LeftArm", rx(-np.asarray(swing_l)), rz(-down))
    pose.set("RightArm", rx(-np.asarray(swing_r)), rz(down))
    pose.set("LeftForeArm", ry(-np.asarray(elbow_l)))
    pose.set("RightForeArm", ry(np.asarray(elbow_r)))


def _legs(pose: Pose, side: str, hip, knee, ankle, spread: float = 0.0) -> None:
    """A leg: hip flexion (+ = thigh forward), knee flexion, ankle plantarflexion (+ = toes down), degrees."""
    sign = 1.0 if side == "Left" else -1.0
    pose.set(f"{side}UpLeg", rz(sign * spread), rx(-np.asarray(hip)))
    pose.set(f"{side}Leg", rx(np.asarray(knee)))
    pose.set(f"{side}Foot", rx(np.asarray(ankle)))


def gait(seconds: float, cadence: float, hip_amp: float, knee_amp: float, heading: float, run: bool):
    """A walk (or run): legs in antiphase, arms counter-swinging, heading degrees about Y (0 = towards the camera)."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS
    pose = _base(T)
    for side, phase in (("Left", 0.0), ("Right", np.pi)):
        w = 2 * np.pi * cadence * t + phase
        hip = hip_amp * np.sin(w) + (8 if run else 3)
        swing = np.clip(np.sin(w + 0.9), 0, None) ** 1.5  # knee bends as the leg swings through
        knee = 6 + knee_amp * swing + (12 if run else 4) * np.clip(np.sin(w - 1.2), 0, None)
        ankle = 0.35 * knee - 0.5 * hip + 5
        _legs(pose, side, hip, knee, ankle)
    w = 2 * np.pi * cadence * t
    elbow = 60 if run else 15
    _arms(
        pose, 75, -hip_amp * 0.8 * np.sin(w), hip_amp * 0.8 * np.sin(w), elbow + 10 * np.sin(w), elbow - 10 * np.sin(w)
    )
    lean = 10 if run else 3
    pose.set("Hips", ry(heading), ry(4 * np.sin(w)))
    pose.set("Spine", rx(lean), ry(-6 * np.sin(w)))
    return pose.R


def walk(offsets: np.ndarray, heading: float = 55.0, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """A walk across the frame."""
    R = gait(seconds, 0.9, 24, 55, heading, run=False)
    return R, plant(R, offsets)


def run(offsets: np.ndarray, heading: float = -70.0, seconds: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """A jog with a short flight phase (the Hips bob up when both feet are off the floor)."""
    R = gait(seconds, 1.4, 35, 85, heading, run=True)
    t = np.arange(len(R)) / FPS
    bob = 0.04 * np.clip(np.sin(2 * np.pi * 2.8 * t + 0.4), 0, None)
    return R, plant(R, offsets, lift=bob)


def squat(offsets: np.ndarray, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Two deep squats facing the camera at an angle, arms reaching forward."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS
    depth = 0.5 - 0.5 * np.cos(2 * np.pi * t / 2.0)
    pose = _base(T)
    for side in ("Left", "Right"):
        _legs(pose, side, 95 * depth, 120 * depth, -30 * depth, spread=6)
    pose.set("Hips", ry(25), rx(25 * depth))
    pose.set("Spine", rx(10 * depth))
    _arms(pose, 80 - 10 * depth, 80 * depth, 80 * depth, 10, 10)
    R = pose.R
    return R, plant(R, offsets, travel=False)


def jump(offsets: np.ndarray, seconds: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A countermovement jump: crouch, push off, 0.4 s in the air, land, stand."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS

    def bump(centre, width):
        return np.exp(-0.5 * ((t - centre) / width) ** 2)

    crouch = bump(0.9, 0.18) + 0.8 * bump(1.95, 0.14)
    flight = np.clip(1 - ((t - 1.45) / 0.2) ** 2, 0, None)  # 0.4 s parabola
    pose = _base(T)
    for side in ("Left", "Right"):
        _legs(pose, side, 70 * crouch, 95 * crouch, -25 * crouch + 30 * flight, spread=4)
    pose.set("Hips", ry(-20), rx(30 * crouch))
    swing = -50 * crouch + 150 * bump(1.35, 0.2)
    _arms(pose, 75, swing, swing, 15, 15)
    R = pose.R
    return R, plant(R, offsets, lift=0.35 * flight, travel=False)


def backflip(offsets: np.ndarray, seconds: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """A tucked standing backflip seen from the side: crouch, arms swing up, a full turn backwards in 0.7 s, land."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS
    up, down = 1.05, 1.75  # take-off and landing, seconds
    air = np.clip((t - up) / (down - up), 0.0, 1.0)  # 0..1 through the flight
    flying = (t > up) & (t < down)

    def bump(centre, width):
        return np.exp(-0.5 * ((t - centre) / width) ** 2)

    crouch = bump(0.8, 0.15) + 0.7 * bump(2.0, 0.14)
    tuck = np.where(flying, np.sin(np.pi * air) ** 2, 0.0)
    pose = _base(T)
    for side in ("Left", "Right"):
        _legs(pose, side, 70 * crouch + 110 * tuck, 95 * crouch + 120 * tuck, -25 * crouch + 20 * tuck, spread=4)
    turn = 360.0 * (3 * air**2 - 2 * air**3)  # eases in and out of the rotation
    pose.set("Hips", ry(80), rx(30 * crouch - turn))
    swing = -50 * crouch + 170 * bump(1.1, 0.15) + 60 * tuck
    _arms(pose, 75, swing, swing, 20 + 60 * tuck, 20 + 60 * tuck)
    R = pose.R
    root = plant(R, offsets, travel=False)
    a, b = int(np.searchsorted(t, up)), int(np.searchsorted(t, down))
    hips = np.interp(t, [t[a - 1], t[b]], [root[a - 1, 1], root[b, 1]])  # the Hips' height at take-off and landing,
    root[flying, 1] = hips[flying] + 0.5 * np.sin(np.pi * air[flying])  # 0.5 m over them at the top of the flight
    return R, root


def turn(offsets: np.ndarray, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Turning round once in 3 s on the left foot, arms out, the right knee lifting: front, side, back, front again."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS
    s = np.clip((t - 0.5) / 3.0, 0.0, 1.0)
    pose = _base(T)
    lift = np.sin(np.pi * s) ** 2
    _legs(pose, "Left", 0, 4, 0, spread=4)
    _legs(pose, "Right", 45 * lift, 90 * lift, 0, spread=4)
    _arms(pose, 45, 20 * lift, 20 * lift, 30, 30)
    pose.set("Hips", ry(360.0 * (3 * s**2 - 2 * s**3)))
    R = pose.R
    root = plant(R, offsets, travel=False)
    ball = joint_positions(R, np.zeros((T, 3)), offsets)[:, J["LeftToeBase"]]
    root[:, [0, 2]] = ball[0, [0, 2]] - ball[:, [0, 2]]  # the left foot pivots on its ball, which stays put
    return R, root


def wave(offsets: np.ndarray, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Standing, both arms waving: the right overhead, the left out to the side and forward."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS
    pose = _base(T)
    for side in ("Left", "Right"):
        _legs(pose, side, 0, 4, 0, spread=4)
    w = 2 * np.pi * 1.2 * t
    pose.set("RightArm", rz(-50 + 15 * np.sin(0.5 * w)))
    pose.set("RightForeArm", rx(-90), ry(60 + 35 * np.sin(w)))
    pose.set("LeftArm", rx(-40 - 35 * np.sin(0.6 * w)), rz(-20 - 30 * np.sin(0.8 * w)))
    pose.set("LeftForeArm", ry(-40 - 40 * np.sin(1.3 * w)))
    pose.set("Hips", ry(15 * np.sin(0.3 * w)))
    pose.set("Spine1", rz(5 * np.sin(0.5 * w)))
    R = pose.R
    return R, plant(R, offsets, travel=False)


def hands(offsets: np.ndarray, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Hands held up beside the shoulders, palms to the camera, fingers opening and closing one after another."""
    T = int(round(seconds * FPS))
    t = np.arange(T) / FPS
    pose = _base(T)
    for side in ("Left", "Right"):
        _legs(pose, side, 0, 4, 0, spread=4)
    # Upper arms out and turned outwards, forearms up: the palms face the camera.
    pose.set("LeftArm", rz(-25), rx(-90))
    pose.set("RightArm", rz(25), rx(-90))
    pose.set("LeftForeArm", ry(-75 - 10 * np.sin(2 * np.pi * 0.3 * t)))
    pose.set("RightForeArm", ry(75 + 10 * np.sin(2 * np.pi * 0.3 * t)))
    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        for f, finger in enumerate(skeleton.FINGERS):
            close = 0.5 - 0.5 * np.cos(2 * np.pi * (0.6 * t - 0.08 * f))
            for k in (1, 2, 3):
                bend = (70 if finger == "Thumb" else 85 if k == 1 else 95 if k == 2 else 70) * close
                if finger == "Thumb":
                    pose.set(f"{side}HandThumb{k}", ry(sign * 0.6 * bend), rz(-sign * 0.4 * bend))
                else:
                    pose.set(f"{side}Hand{finger}{k}", rz(-sign * bend))
    R = pose.R
    return R, plant(R, offsets, travel=False)


def turned(motion: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], yaw: float):
    """`motion` with the whole body turned by `yaw` degrees about the vertical (its path too): another view of it."""
    rot = ry(yaw)[0]

    def view(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        R, root = motion(offsets)
        R = R.copy()
        R[:, J["Hips"]] = rot @ R[:, J["Hips"]]
        return R, root @ rot.T

    return view


# The same motions seen from elsewhere: added after the clean-up was tuned on the ones below, to check it there.
VIEWS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "walk-toward": lambda offsets: walk(offsets, heading=10.0),
    "walk-side": lambda offsets: walk(offsets, heading=90.0),
    "run-side": lambda offsets: run(offsets, heading=95.0),
    "jump-angled": turned(jump, 50.0),
    "squat-side": turned(squat, 60.0),
    "wave-angled": turned(wave, -45.0),
    "backflip-front": turned(backflip, -90.0),
}

MOTIONS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "walk": walk,
    "run": run,
    "jump": jump,
    "backflip": backflip,
    "turn": turn,
    "squat": squat,
    "wave": wave,
    "hands": hands,
    **VIEWS,
}
