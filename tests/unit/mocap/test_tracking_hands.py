"""One performer held (choosing, refusing someone else) and finger rotations from hand landmarks."""

from __future__ import annotations

import numpy as np
import pytest
import synthetic

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap import hands, tracking
from container_workers.gpu_worker.mocap.estimation import NUM_LANDMARKS, Detection
from container_workers.gpu_worker.mocap.solve import forward_kinematics, world_rotations

J = skeleton.INDEX


def _person(x: float, y: float, height: float, colour=(200, 30, 30)) -> tuple[Detection, tuple]:
    """A detection whose landmarks span a box of `height` pixels centred at (x, y), and its torso colour."""
    rng = np.random.default_rng(int(x + 7 * y))
    image = np.zeros((NUM_LANDMARKS, 3))
    image[:, 0] = x + rng.uniform(-0.2, 0.2, NUM_LANDMARKS) * height
    image[:, 1] = y + rng.uniform(-0.5, 0.5, NUM_LANDMARKS) * height
    for name, dx, dy in (("shoulder", 0.12, -0.3), ("hip", 0.1, 0.0)):
        for side, sign in (("left", 1), ("right", -1)):
            image[tracking.LM[f"{side}_{name}"], :2] = (x + sign * dx * height, y + dy * height)
    return Detection(world=np.zeros((NUM_LANDMARKS, 3)), image=image, visibility=np.ones(NUM_LANDMARKS)), colour


def _frame(*people) -> np.ndarray:
    rgb = np.full((480, 640, 3), 90, np.uint8)
    for det, colour in people:
        quad = det.image[tracking.TORSO, :2].astype(np.int32)
        import cv2

        cv2.fillConvexPoly(rgb, quad, colour)
    return rgb


class _Scripted:
    """A stand-in estimator that returns scripted detections in order."""

    def __init__(self, dets):
        self.dets, self.resets = list(dets), 0

    def detect(self, rgb):
        return self.dets.pop(0)

    def reset(self):
        self.resets += 1


def test_the_performer_is_chosen_by_size_centre_or_box():
    small, _ = _person(120, 240, 150)
    big, _ = _person(500, 240, 300)
    middle, _ = _person(330, 240, 200)
    people = [small, big, middle]
    assert tracking.choose(people, "largest", 640, 480) == 1
    assert tracking.choose(people, "center", 640, 480) == 2
    assert tracking.choose(people, tracking.parse_choice("0.05,0.2,0.35,0.8"), 640, 480) == 0
    for bad in ("biggest", "0.5,0.5,0.4,0.9", "0,0,1", "0,0,1,2"):
        with pytest.raises(ValueError):
            tracking.parse_choice(bad)


def test_someone_else_is_refused_and_the_performer_reacquired(monkeypatch):
    me = [_person(200 + 3 * t, 240, 250) for t in range(6)]
    other = _person(450, 260, 320, colour=(30, 160, 40))
    script = [me[0][0], me[1][0], other[0], other[0], me[4][0], me[5][0]]
    estimator = _Scripted(script)
    monkeypatch.setattr(tracking.PerformerTracker, "_enumerate", lambda self, rgb: [me[0][0]])
    tracker = tracking.PerformerTracker(estimator, 640, 480, 30.0, "largest")
    got = [tracker.detect(_frame(me[t], other)) for t in range(6)]
    assert [g is not None for g in got] == [True, True, False, False, True, True]
    assert tracker.stats.refused == 2 and tracker.stats.reacquired == 1 and estimator.resets == 2


def test_the_same_place_in_another_colour_is_someone_else(monkeypatch):
    me, red = _person(300, 240, 250)
    other, green = _person(305, 240, 250, colour=(30, 160, 40))
    estimator = _Scripted([me, other])
    monkeypatch.setattr(tracking.PerformerTracker, "_enumerate", lambda self, rgb: [me])
    tracker = tracking.PerformerTracker(estimator, 640, 480, 30.0, "largest")
    assert tracker.detect(_frame((me, red))) is not None
    assert tracker.detect(_frame((other, green))) is None


def _hand_landmarks(G: np.ndarray, side: str) -> np.ndarray:
    """MediaPipe Hands-style landmarks (T, 21, 3) of a posed skeleton with fingers (joints, then the tips)."""
    pos = forward_kinematics(G, np.zeros((len(G), 3)))
    out = np.empty((len(G), 21, 3))
    out[:, 0] = pos[:, J[f"{side}Hand"]]
    ends = skeleton.end_sites(hands=True)
    for finger, marks in hands.FINGER_LANDMARKS.items():
        for k in range(3):
            out[:, marks[k]] = pos[:, J[f"{side}Hand{finger}{k + 1}"]]
        tip = f"{side}Hand{finger}3"
        out[:, marks[3]] = pos[:, J[tip]] + G[:, J[tip]] @ np.array(ends[tip])
    return out


def test_finger_rotations_are_recovered_from_hand_landmarks():
    T = 12
    R = np.tile(np.eye(3), (T, len(skeleton.names(hands=True)), 1, 1))
    R[:, : len(skeleton.NAMES)] = synthetic.random_pose_locals(T, seed=5)
    curl = np.linspace(0, 80, T)
    for side, sign in (("Left", 1), ("Right", -1)):
        for finger in skeleton.FINGERS[1:]:
            for k in (1, 2, 3):
                R[:, J[f"{side}Hand{finger}{k}"]] = synthetic.rot("z", -sign * curl)
    G = world_rotations(R)
    for side in ("Left", "Right"):
        hand, fingers = hands.finger_rotations(_hand_landmarks(G, side), np.tile(np.eye(3), (T, 1, 1)), side)
        first = J[f"{side}HandThumb1"]
        np.testing.assert_allclose(hand, G[:, J[f"{side}Hand"]], atol=1e-6)
        for i in range(15):
            name = skeleton.HAND_NAMES[first - len(skeleton.NAMES) + i]
            if "Thumb" not in name:  # the thumb's rest bones are not straight, so only its direction is recovered
                np.testing.assert_allclose(fingers[:, i], G[:, J[name]], atol=1e-6, err_msg=name)
