"""One performer held (choosing, refusing someone else) and finger rotations from hand landmarks."""

from __future__ import annotations

import json

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


def _arm_across(rgb: np.ndarray, det: Detection, share: float) -> np.ndarray:
    """`rgb` with the first `share` of `det`'s torso, left to right, covered by a bare arm."""
    x0, x1 = det.image[tracking.TORSO, 0].min(), det.image[tracking.TORSO, 0].max()
    band = rgb[:, int(x0) : int(x0 + share * (x1 - x0))]
    band[(band != 90).any(axis=-1)] = (220, 170, 130)
    return rgb


@pytest.mark.parametrize("fps, kept", [(30.0, False), (15.0, True)])
def test_a_runner_half_covered_by_an_arm_is_kept_at_low_frame_rates(monkeypatch, fps, kept):
    me = [_person(200 + 40 * t, 240, 250) for t in range(3)]  # 40 px a frame: a third of a torso off the guess
    estimator = _Scripted([me[0][0], me[1][0], me[2][0]])
    monkeypatch.setattr(tracking.PerformerTracker, "_enumerate", lambda self, rgb: [me[0][0]])
    tracker = tracking.PerformerTracker(estimator, 640, 480, fps, "largest")
    assert tracker.detect(_frame(me[0])) is not None and tracker.detect(_frame(me[1])) is not None
    covered = _arm_across(_frame(me[2]), me[2][0], 0.4)  # looks 0.46 away from the reference
    assert (tracker.detect(covered) is not None) is kept


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


def _two_astronauts(
    frames: int, passer_from: float, passer_to: float, size=(480, 240), side: float = 210
) -> list[np.ndarray]:
    """The astronaut standing at x=130, and a green-tinted, larger one sliding across in front of them."""
    import media

    out = []
    for t in range(frames):
        frame = media.astronaut_frame(size, (130, 120), 170)
        x = passer_from + (passer_to - passer_from) * t / (frames - 1)
        other = media.astronaut_frame(size, (x, 120), side)
        other = (other * np.array([0.6, 1.0, 0.6])).astype(np.uint8)  # a green suit
        mask = np.any(np.abs(other.astype(int) - np.array(media.BACKGROUND) * [0.6, 1.0, 0.6]) > 20, axis=2)
        frame[mask] = other[mask]
        out.append(frame)
    return out


def test_a_person_passing_in_front_never_takes_the_performers_place(media_dir, tmp_path):
    import media
    from conftest import run_stage

    video = media.write_video(media_dir / "passer_by.mp4", _two_astronauts(60, 560, -120), 30.0)
    run = run_stage(video, tmp_path / "passer")
    joints = np.array(json.loads((run.workdir / "landmarks.json").read_text())["cleaned"]["joints"])
    steps = np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1)
    assert steps.max() < 0.5  # no jump to the other person (a body height is ~1.7 m)
    assert np.ptp(joints[:, 0, 0]) < 1.0  # the standing performer stays (about) put; the other crosses ~4 m


def test_the_user_picks_the_performer_with_a_box(media_dir, tmp_path):
    import media
    from conftest import run_stage

    video = media.write_video(media_dir / "two_still.mp4", _two_astronauts(20, 340, 340, side=230), 30.0)
    picked = run_stage(video, tmp_path / "left", {"performer": "0.0,0.0,0.5,1.0"})
    assert picked.result.metadata["peopleAtStart"] == 2
    doc = json.loads((picked.workdir / "landmarks.json").read_text())
    hips = np.array([f for f in doc["raw"]["image"] if f is not None])[:, [23, 24], 0].mean(axis=1)
    assert hips.max() < 240  # the left one, not the larger one on the right
    largest = run_stage(video, tmp_path / "largest", {})
    doc = json.loads((largest.workdir / "landmarks.json").read_text())
    hips = np.array([f for f in doc["raw"]["image"] if f is not None])[:, [23, 24], 0].mean(axis=1)
    assert hips.min() > 240
