"""Floor, foot contacts and foot locking on synthetic motions."""

from __future__ import annotations

import numpy as np
import synthetic
from scipy.spatial.transform import Rotation

from container_workers.common import skeleton
from container_workers.gpu_worker.mocap import feet
from container_workers.gpu_worker.mocap.estimation import LM
from container_workers.gpu_worker.mocap.feet import (
    SOLE_LOCAL,
    detect_contacts,
    flight_lift,
    fold_legs,
    foot_slide,
    ground_flights,
    lock_feet,
    sole_points,
    stand_on_floor,
    stand_unseen_legs,
)
from container_workers.gpu_worker.mocap.solve import forward_kinematics, world_rotations

J = skeleton.INDEX
FPS = 30.0


def _standing(frames: int, wobble_deg: float = 3.0) -> np.ndarray:
    """Local rotations of someone standing, legs wobbling slowly (so the feet slide a little)."""
    t = np.arange(frames) / FPS
    R = np.tile(np.eye(3), (frames, len(skeleton.NAMES), 1, 1))
    for k, side in enumerate(("Left", "Right")):
        R[:, J[f"{side}UpLeg"]] = synthetic.rot("x", -10 + wobble_deg * np.sin(2 * np.pi * 0.4 * t + k))
        R[:, J[f"{side}Leg"]] = synthetic.rot("x", 20 + wobble_deg * np.sin(2 * np.pi * 0.3 * t))
        R[:, J[f"{side}Foot"]] = synthetic.rot("x", -10 + wobble_deg * np.cos(2 * np.pi * 0.5 * t))
    return R


def test_sole_points_touch_the_floor_in_the_rest_pose():
    G = np.tile(np.eye(3), (1, len(skeleton.NAMES), 1, 1))
    soles = sole_points(G, forward_kinematics(G, skeleton.rest_positions()[:1]))
    np.testing.assert_allclose(soles[..., 1], 0.0, atol=1e-12)
    assert SOLE_LOCAL[0, 2] < 0 < SOLE_LOCAL[2, 2]  # heel behind, toes in front
    root = stand_on_floor(G, np.zeros((1, 3)))
    np.testing.assert_allclose(root[0], [0.0, skeleton.rest_positions()[0, 1], 0.0], atol=1e-12)


def test_the_lowest_foot_is_on_the_floor_in_every_frame():
    G = world_rotations(synthetic.random_pose_locals(40, seed=11))
    root = stand_on_floor(G, np.random.default_rng(0).normal(0, 1, (40, 3)))
    lowest = sole_points(G, forward_kinematics(G, root))[..., 1].min(axis=(1, 2))
    np.testing.assert_allclose(lowest, 0.0, atol=1e-12)


def test_a_lifted_swinging_foot_is_not_in_contact_and_a_planted_one_is():
    R = _standing(90, wobble_deg=0.5)
    swing = np.arange(30, 60)
    phase = np.sin(np.pi * (swing - 30) / 29)
    R[swing, J["LeftUpLeg"]] = synthetic.rot("x", -10 - 50 * phase)  # hip flexion lifts the knee forward
    R[swing, J["LeftLeg"]] = synthetic.rot("x", 20 + 70 * phase)
    G = world_rotations(R)
    contacts = detect_contacts(G, stand_on_floor(G, np.zeros((90, 3))), FPS)
    assert contacts[:, 1].all()
    assert contacts[:25, 0].all() and contacts[65:, 0].all()
    assert not contacts[38:55, 0].any()  # released a few frames into the swing (hysteresis)


def test_locked_feet_do_not_slide_and_stay_on_the_floor():
    T = 120
    G = world_rotations(_standing(T))
    t = np.arange(T) / FPS
    root = stand_on_floor(G, np.stack([0.03 * np.sin(2 * np.pi * 0.25 * t), np.zeros(T), np.zeros(T)], 1))
    contacts = detect_contacts(G, root, FPS)
    assert contacts.all()
    assert foot_slide(G, root, contacts) > 0.01  # before: the wobble and the sway slide the feet
    G2, root2 = lock_feet(G, root, contacts, FPS)
    assert foot_slide(G2, root2, contacts) < 0.01  # a 4 s stance: the feet follow only the legs' slow drift
    soles = sole_points(G2, forward_kinematics(G2, root2))
    np.testing.assert_allclose(soles[..., 1].min(axis=(1, 2)), 0.0, atol=1e-9)
    # Only the legs changed; the upper body is untouched and the root keeps its slow sway (smoothed: a stance).
    legs = [J[f"{s}{n}"] for s in ("Left", "Right") for n in ("UpLeg", "Leg", "Foot", "ToeBase")]
    others = [j for j in range(len(skeleton.NAMES)) if j not in legs]
    np.testing.assert_allclose(G2[:, others], G[:, others], atol=1e-12)
    np.testing.assert_allclose(root2[:, [0, 2]], root[:, [0, 2]], atol=1e-3)
    # The legs keep the skeleton's bone lengths (rotations stay rotations).
    np.testing.assert_allclose(np.linalg.det(G2[:, legs]), 1.0, atol=1e-9)


def test_a_jump_leaves_the_floor_but_noise_and_the_clip_ends_do_not():
    T = 90
    G = world_rotations(_standing(T))
    t = np.arange(T)
    hop = 0.4 * np.clip(1 - ((t - 45) / 8) ** 2, 0, None)  # 40 cm up and down again in the middle
    noise = 0.03 * np.sin(t)
    root = np.stack([np.zeros(T), 0.95 + hop + noise, np.zeros(T)], 1)
    lift = flight_lift(G, root, FPS)
    assert lift[:30].max() == 0 and lift[60:].max() == 0
    assert 0.2 < lift[45] < 0.4
    root[:20, 1] += 0.5  # high at the start: no take-off seen, so no flight
    assert flight_lift(G, root, FPS)[:20].max() == 0
    contacts = np.ones((T, 2), dtype=bool)
    contacts[38:53] = False  # both feet leave the floor
    np.testing.assert_array_equal(ground_flights(lift, contacts), lift)
    contacts[38:53, 0] = True  # one foot stays planted through it: the hips stretched, the body did not jump
    assert ground_flights(lift, contacts).max() == 0


def test_a_foot_that_lands_on_its_planted_spot_keeps_its_captured_approach_and_lift_off():
    T = 90
    G = world_rotations(_standing(T, wobble_deg=0.0))
    t = np.arange(T) / FPS
    x = np.minimum(t, 1.0) + np.maximum(t - 2.0, 0.0)  # moves at 1 m/s, stands still for frames 30-60, moves again
    root = stand_on_floor(G, np.stack([x, np.zeros(T), np.zeros(T)], 1))
    contacts = np.zeros((T, 2), dtype=bool)
    contacts[30:61, 0] = True
    G2, root2 = lock_feet(G, root, contacts, FPS)
    before = forward_kinematics(G, root)[:, J["LeftFoot"]]
    after = forward_kinematics(G2, root2)[:, J["LeftFoot"]]
    # The lock has nothing to correct, so the eased frames around it follow the captured foot, not the planted spot.
    np.testing.assert_allclose(after[:, [0, 2]], before[:, [0, 2]], atol=1e-6)


def test_a_swinging_foot_carries_its_lock_correction_from_one_contact_to_the_next(monkeypatch):
    T = 90
    R = _standing(T, wobble_deg=0.0)
    swing = np.arange(35, 50)
    phase = np.sin(np.pi * (swing - 34) / 16)
    R[swing, J["LeftUpLeg"]] = synthetic.rot("x", -10 - 30 * phase)
    R[swing, J["LeftLeg"]] = synthetic.rot("x", 20 + 40 * phase)
    G = world_rotations(R)
    t = np.arange(T) / FPS
    # The body travels 0.3 m/s while the captured foot stays under the hips: a captured stride too short, so each
    # planted spot is behind the captured foot when its contact ends and ahead of it when the next one begins.
    root = stand_on_floor(G, np.stack([np.zeros(T), np.zeros(T), 0.3 * t], 1))
    contacts = np.zeros((T, 2), dtype=bool)
    contacts[:35, 0] = contacts[50:, 0] = True

    def swung(carry: float) -> tuple[np.ndarray, np.ndarray]:
        monkeypatch.setattr(feet, "SWING_CARRY_SECONDS", carry)
        G2, root2 = lock_feet(G, root, contacts, FPS)
        return forward_kinematics(G2, root2)[:, J["LeftFoot"]], _knee_angles(G2, root2)[:, 0]

    (carried, knee), (faded, _) = swung(1.0), swung(0.0)
    captured = forward_kinematics(G, root)[:, J["LeftFoot"]]
    rate = lambda ankle: np.abs(np.diff(ankle[34:51, 2] - captured[34:51, 2])).max()  # noqa: E731
    assert rate(carried) < 0.6 * rate(faded)  # the correction changes over the whole swing, not the lock's blend
    np.testing.assert_allclose(carried[[34, 50], 2], faded[[34, 50], 2], atol=1e-9)  # the contacts are as before
    np.testing.assert_allclose(knee[39:46], _knee_angles(G, root)[39:46, 0], atol=0.5)  # the swing keeps its bend


def test_the_walked_path_keeps_the_body_travel_the_captured_steps_fall_short_of():
    T = 120
    G = world_rotations(_standing(T, wobble_deg=0.0))
    t = np.arange(T) / FPS
    root = stand_on_floor(G, np.stack([0.2 * t, np.zeros(T), 1.0 * t], 1))  # 4 m in 4 s on the image's path
    contacts = np.ones((T, 2), dtype=bool)  # the captured feet never move under the hips: steps of nothing
    walked = feet.walk_root(G, root, contacts, FPS)
    np.testing.assert_allclose(walked, root, atol=1e-6)  # the image's path, to the clip's last frame


def test_the_knee_bends_forwards_about_its_hinge_whichever_side_of_the_leg_the_captured_knee_is_on():
    thigh, shin = 0.45, 0.42
    hip, target = np.zeros((2, 3)), np.array([[0.0, -0.85, 0.0]] * 2)  # a little nearer than the leg reaches
    knee = np.array([[0.0, -0.45, -0.01], [0.0, -0.45, 0.01]])  # near straight, just behind or in front of the line
    up, leg = feet._two_bone_ik(hip, knee, target, np.tile(np.eye(3), (2, 1, 1)), thigh, shin)
    new_knee = hip + thigh * up @ np.array([0.0, -1.0, 0.0])
    assert (new_knee[:, 2] > 0.05).all()  # both in front: the knee never bends backwards
    np.testing.assert_allclose(new_knee + shin * leg @ np.array([0.0, -1.0, 0.0]), target, atol=1e-9)


def _squat(frames: int, depth_scale: float) -> np.ndarray:
    """Local rotations of two squats, hips and knees bent `depth_scale` times as deep (0.8: an under-bent capture)."""
    depth = depth_scale * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frames) / (2 * FPS)))
    R = np.tile(np.eye(3), (frames, len(skeleton.NAMES), 1, 1))
    for side in ("Left", "Right"):
        R[:, J[f"{side}UpLeg"]] = synthetic.rot("x", -80 * depth)
        R[:, J[f"{side}Leg"]] = synthetic.rot("x", 110 * depth)
        R[:, J[f"{side}Foot"]] = synthetic.rot("x", -30 * depth)
    return R


def _knee_angles(G: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Interior knee angles (T, 2) in degrees."""
    pos = forward_kinematics(G, root)
    out = []
    for side in ("Left", "Right"):
        u = pos[:, J[f"{side}UpLeg"]] - pos[:, J[f"{side}Leg"]]
        v = pos[:, J[f"{side}Foot"]] - pos[:, J[f"{side}Leg"]]
        cos = np.sum(u * v, -1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, axis=1)


def test_fold_legs_bends_under_bent_knees_to_the_hip_height_the_image_measures():
    T = 120
    G_true = world_rotations(_squat(T, 1.0))
    root_true = stand_on_floor(G_true, np.zeros((T, 3)))
    soles = sole_points(G_true, forward_kinematics(G_true, root_true))
    measured = root_true[:, 1] - soles[..., 1].min(axis=(1, 2))  # the hips over the feet, as the image shows them
    G = world_rotations(_squat(T, 0.75))  # the capture under-bends hips and knees, so it stands too tall
    root = stand_on_floor(G, np.zeros((T, 3)))
    ankles = forward_kinematics(G, root)[:, [J["LeftFoot"], J["RightFoot"]]]
    G2, root2 = fold_legs(G, root, measured, FPS)
    want, before, after = _knee_angles(G_true, root_true), _knee_angles(G, root), _knee_angles(G2, root2)
    deep = np.abs(want - 180).max(axis=1) > 60
    assert np.abs(before - want)[deep].mean() > 20
    assert np.abs(after - want)[deep].mean() < 8
    # The feet stay where they were, the upper body keeps its rotations, and a standing pose is left alone.
    np.testing.assert_allclose(forward_kinematics(G2, root2)[:, [J["LeftFoot"], J["RightFoot"]]], ankles, atol=1e-4)
    legs = [J[f"{s}{n}"] for s in ("Left", "Right") for n in ("UpLeg", "Leg")]
    others = [j for j in range(len(skeleton.NAMES)) if j not in legs]
    np.testing.assert_allclose(G2[:, others], G[:, others], atol=1e-12)
    np.testing.assert_allclose(G2[:3], G[:3], atol=1e-12)


def test_a_foot_held_still_above_the_other_does_not_stop_the_fold():
    T = 120
    G_true = world_rotations(_squat(T, 1.0))
    root_true = stand_on_floor(G_true, np.zeros((T, 3)))
    measured = root_true[:, 1] - sole_points(G_true, forward_kinematics(G_true, root_true))[..., 1].min(axis=(1, 2))
    R = _squat(T, 0.75)
    R[:, [J["LeftUpLeg"], J["LeftLeg"], J["LeftFoot"]]] = _squat(T, 0.5)[
        :, [J["LeftUpLeg"], J["LeftLeg"], J["LeftFoot"]]
    ]
    G = world_rotations(R)  # the left leg under-bent more (seen side on, behind the other): it holds the right foot up
    root = stand_on_floor(G, np.zeros((T, 3)))
    lowest = sole_points(G, forward_kinematics(G, root))[..., 1].min(axis=2)
    deep = np.abs(_knee_angles(G_true, root_true) - 180).max(axis=1) > 60
    assert (lowest[deep, 1] - lowest[deep, 0]).max() > 0.1  # the right foot is up (the fold gate: 6 cm), but still
    G2, root2 = fold_legs(G, root, measured, FPS)
    want, before, after = _knee_angles(G_true, root_true), _knee_angles(G, root), _knee_angles(G2, root2)
    assert np.abs(after - want)[deep].mean() < 0.6 * np.abs(before - want)[deep].mean()


def test_a_rolling_foot_is_planted_at_the_median_of_its_captured_place_through_the_contact():
    T = 60
    R = _standing(T, wobble_deg=0.0)
    roll = np.linspace(25, -25, T)  # heel down first, then the ball, then the toes: the pivot changes
    R[:, J["LeftFoot"]] = synthetic.rot("x", roll)
    G = world_rotations(R)
    drift = np.stack([np.linspace(0.0, 0.1, T), np.zeros(T), np.zeros(T)], 1)  # the capture slides 10 cm forwards
    root = stand_on_floor(G, drift)
    contacts = np.zeros((T, 2), dtype=bool)
    contacts[:, 0] = True
    G2, root2 = lock_feet(G, root, contacts, FPS)
    before = forward_kinematics(G, root)[:, J["LeftFoot"]]
    after = forward_kinematics(G2, root2)[:, J["LeftFoot"]]
    np.testing.assert_allclose(np.median(after[:, [0, 2]] - before[:, [0, 2]], axis=0), 0.0, atol=0.005)
    assert foot_slide(G2, root2, contacts) < 1e-4  # the lowest point: the pivot hands over within PIVOT_TOLERANCE


def test_a_long_stance_follows_the_captured_feet_slow_drift_and_a_single_planted_foot_does_not():
    T = 90  # 3 s with both feet down: a stance (standing, squatting)
    G = world_rotations(_standing(T, wobble_deg=0.0))
    drift = np.stack([np.zeros(T), np.zeros(T), np.linspace(0.0, 0.3, T)], 1)  # the captured feet drift 30 cm
    root = stand_on_floor(G, drift)
    both = np.ones((T, 2), dtype=bool)
    G2, root2 = lock_feet(G, root, both, FPS)
    feet = [J["LeftFoot"], J["RightFoot"]]
    after = forward_kinematics(G2, root2)[:, feet]
    travel = after[-1, :, 2] - after[0, :, 2]
    assert np.all(travel > 0.02)  # follows the drift (smoothed, less the margin) ...
    assert np.abs(np.diff(after[..., 2], axis=0)).max() < 0.003  # ... slowly: under 9 cm/s
    one = both.copy()
    one[:, 1] = False  # one foot down: pinned
    G3, root3 = lock_feet(G, root, one, FPS)
    assert foot_slide(G3, root3, one) < 1e-6
    short = both[:30]  # a 1 s contact: pinned
    G4, root4 = lock_feet(G[:30], root[:30], short, FPS)
    assert foot_slide(G4, root4, short) < 1e-6


def test_a_long_stance_smooths_the_hips_path_and_feet_and_a_short_contact_does_not():
    T = 90  # 3 s with both feet down
    G = world_rotations(_standing(T, wobble_deg=0.0))
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 0.01, (T, 3))  # the captured hips shake by a centimetre over the pinned feet
    root = stand_on_floor(G, noise)
    both = np.ones((T, 2), dtype=bool)

    def shake(r):
        return float(np.linalg.norm(np.diff(r, 2, axis=0), axis=1).mean())

    G2, root2 = lock_feet(G, root, both, FPS)
    assert shake(root2) < 0.2 * shake(root)
    assert foot_slide(G2, root2, both) < 0.01
    soles = sole_points(G2, forward_kinematics(G2, root2))
    assert np.abs(soles[..., 1].min(axis=(1, 2))).max() < 1e-6  # still on the floor
    short = both[:30]  # a 1 s contact (a step, a take-off): not smoothed
    _, root3 = lock_feet(G[:30], root[:30], short, FPS)
    assert shake(root3) > 0.8 * shake(root[:30])


def test_a_foot_turning_on_the_spot_is_planted_anew_as_it_turns_and_one_that_does_not_turn_stays_pinned():
    T = 60  # 2 s on both feet, the body turning 120 degrees: the captured feet swing round the hips
    R = _standing(T, wobble_deg=0.0)
    R[:, J["Hips"]] = synthetic.rot("y", np.linspace(0.0, 120.0, T))
    G = world_rotations(R)
    root = stand_on_floor(G, np.zeros((T, 3)))
    both = np.ones((T, 2), dtype=bool)
    G2, root2 = lock_feet(G, root, both, FPS)
    feet = [J["LeftFoot"], J["RightFoot"]]
    captured = forward_kinematics(G, root)[:, feet][..., [0, 2]]
    locked = forward_kinematics(G2, root2)[:, feet][..., [0, 2]]
    off = np.linalg.norm(locked - captured, axis=-1)
    assert off.mean() < 0.05 and off.max() < 0.10  # pinned at one spot: 12.5 cm off on average, 18.2 at most
    still = world_rotations(_standing(T, wobble_deg=0.0))  # the same stance without the turn: one spot throughout
    G4, root4 = lock_feet(still, stand_on_floor(still, np.zeros((T, 3))), both, FPS)
    assert foot_slide(G4, root4, both) < 1e-6


def test_both_feet_of_a_capture_slowing_to_0_6_m_per_s_on_the_floor_go_down():
    T = 40
    R = np.tile(np.eye(3), (T, len(skeleton.NAMES), 1, 1))
    R[:, J["RightUpLeg"]] = synthetic.rot("z", np.full(T, 5.0))  # the right foot a few millimetres over the left
    G = world_rotations(R)
    speed = np.where(np.arange(T) < 10, 1.0, 0.6)  # m/s: sliding fast (up), then slower
    root = stand_on_floor(G, np.stack([np.cumsum(speed) / FPS, np.zeros(T), np.zeros(T)], 1))
    contacts = detect_contacts(G, root, FPS)
    assert not contacts[:8].any()
    assert contacts[15:].all()  # both: not only the lower foot


def test_legs_out_of_the_picture_stand_under_the_hips_and_ease_in_and_out():
    T, fps = 90, 30.0
    G = world_rotations(synthetic.random_pose_locals(T, seed=5))
    vis = np.ones((T, 33))
    left = [LM[f"left_{n}"] for n in ("knee", "ankle", "heel", "foot_index")]
    vis[:, [LM[f"right_{n}"] for n in ("knee", "ankle", "heel", "foot_index")]] = 0.02  # a waist-up shot's right leg
    vis[30:60][:, left] = 0.05  # the left leg leaves the picture for a second
    image = np.full((T, 33, 2), 100.0)  # 2D landmarks in a 640x480 frame...
    image[:, [LM[f"right_{n}"] for n in ("knee", "ankle", "heel", "foot_index")], 1] = 600.0  # ...but the legs below it
    image[30:60][:, left, 1] = 600.0
    out = stand_unseen_legs(G, vis, image, 640, 480, fps)
    legs = [J[f"{side}{part}"] for side in ("Left", "Right") for part in ("UpLeg", "Leg", "Foot", "ToeBase")]
    others = [j for j in range(len(skeleton.NAMES)) if j not in legs]
    np.testing.assert_allclose(out[:, others], G[:, others])
    hips = G[:, [J["Hips"]]]
    for part in ("UpLeg", "Leg", "Foot", "ToeBase"):
        np.testing.assert_allclose(out[:, J[f"Right{part}"]], hips[:, 0], atol=1e-6)  # rest pose under the hips
        turned = [
            np.linalg.norm(Rotation.from_matrix(np.swapaxes(hips[40:50, 0], 1, 2) @ g).as_rotvec(), axis=-1)
            for g in (out[40:50, J[f"Left{part}"]], G[40:50, J[f"Left{part}"]])
        ]
        assert (turned[0] <= 0.1 * turned[1] + 1e-9).all()  # away from the rest pose: a tenth of the capture's at most
        np.testing.assert_allclose(out[:10, J[f"Left{part}"]], G[:10, J[f"Left{part}"]], atol=1e-3)
    step = np.linalg.norm(np.diff(out[:, J["LeftLeg"]], axis=0), axis=(1, 2))
    assert step[25:35].max() < 3 * np.linalg.norm(np.diff(G[:, J["LeftLeg"]], axis=0), axis=(1, 2)).max()


def test_a_leg_hidden_inside_the_picture_keeps_its_capture():
    T, fps = 60, 30.0
    G = world_rotations(synthetic.random_pose_locals(T, seed=6))
    vis = np.ones((T, 33))
    vis[:, [LM[f"left_{n}"] for n in ("knee", "ankle", "heel", "foot_index")]] = 0.05  # behind the other leg (side on)
    out = stand_unseen_legs(G, vis, np.full((T, 33, 2), 200.0), 640, 480, fps)
    np.testing.assert_allclose(out, G)


def test_a_flat_foot_turns_about_one_sole_point_however_closely_heel_and_ball_tie():
    T = 30  # 1 s on the left foot, flat, turning 40 degrees (under TURN_REPLANT_DEGREES: one plant)
    R = np.tile(np.eye(3), (T, len(skeleton.NAMES), 1, 1))
    R[:, J["Hips"]] = synthetic.rot("y", np.linspace(0.0, 40.0, T))
    R[:, J["LeftFoot"]] = synthetic.rot("x", 1e-7 * (-1.0) ** np.arange(T))  # heel, then ball, lowest by a hair
    G = world_rotations(R)
    root = stand_on_floor(G, np.zeros((T, 3)))
    contacts = np.zeros((T, 2), dtype=bool)
    contacts[:, 0] = True
    G2, root2 = lock_feet(G, root, contacts, FPS)
    sole = sole_points(G2, forward_kinematics(G2, root2))[:, 0]  # (T, heel/ball/toe, 3)
    travel = np.linalg.norm(sole[:, :, [0, 2]] - sole[:1, :, [0, 2]], axis=-1).max(axis=0)
    assert travel.min() < 1e-4  # one point stays put: the foot turns about it (it stepped between them: 3.0 cm)
    assert sole[..., 1].min() > -1e-9  # and no point goes through the floor


def _flexion(pos: np.ndarray, side: str) -> np.ndarray:
    thigh = pos[:, J[f"{side}Leg"]] - pos[:, J[f"{side}UpLeg"]]
    shin = pos[:, J[f"{side}Foot"]] - pos[:, J[f"{side}Leg"]]
    cos = np.sum(thigh * shin, -1) / np.linalg.norm(thigh, axis=-1) / np.linalg.norm(shin, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _gliding(T: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(G, root, contacts): knees bent 16 degrees, gliding forwards at 0.6 m/s past the right foot, planted for 24
    frames, until the leg cannot reach it."""
    R = np.tile(np.eye(3), (T, len(skeleton.NAMES), 1, 1))
    for side in ("Left", "Right"):
        R[:, J[f"{side}UpLeg"]] = synthetic.rot("x", np.full(T, -8.0))
        R[:, J[f"{side}Leg"]] = synthetic.rot("x", np.full(T, 16.0))
        R[:, J[f"{side}Foot"]] = synthetic.rot("x", np.full(T, -8.0))
    G = world_rotations(R)
    root = stand_on_floor(G, np.stack([np.linspace(0.0, 0.8, T), np.zeros(T), np.zeros(T)], 1))
    contacts = np.zeros((T, 2), dtype=bool)
    contacts[:24, 1] = True
    return G, root, contacts


def test_a_planted_foot_the_leg_cannot_reach_lifts_its_heel_instead_of_the_knee_snapping_straight():
    G, root, contacts = _gliding()
    G2, root2 = lock_feet(G, root, contacts, FPS)
    pos = forward_kinematics(G2, root2)
    right, sole = _flexion(pos, "Right"), sole_points(G2, pos)[:, 1]
    wanted = 16.0 * (1 - feet.STRAIGHTEN_SHARE * np.exp(-((16.0 / feet.STRAIGHTEN_DEGREES) ** 2)))  # 5.1 degrees
    assert right[12:24].min() > min(16.0 - feet.HEEL_SLACK_DEGREES, wanted) - 0.5  # it snapped to 1.6
    assert sole[23, 0, 1] > 0.03  # the heel up (2.7 cm, as it was when the foot came down)
    toe = sole[:24, 2, [0, 2]]
    assert np.linalg.norm(toe - toe[0], axis=-1).max() < 1e-3  # the toe tip stays put
    assert (root2[:24, 1] > root[:24, 1] - 1e-3).all()  # and the hips stay up (they rise as the knee straightens)


def test_a_foot_easing_in_or_out_of_its_lock_while_the_hips_come_down_bends_its_knee_gradually(monkeypatch):
    monkeypatch.setattr(feet, "HEEL_LIFT_MAX_DEGREES", 0.0)  # no heel-off: the hips come down for the right leg
    G, root, contacts = _gliding()
    contacts[22:, 0] = True  # the left foot comes down as the hips come down for the right leg
    G2, root2 = lock_feet(G, root, contacts, FPS)
    pos = forward_kinematics(G2, root2)
    left, right = _flexion(pos, "Left"), _flexion(pos, "Right")
    assert np.abs(np.diff(left[15:23])).max() < 3.0  # easing in: it bent 8.4 degrees at once
    assert right[24:].max() < 16.5  # easing out, never bent past the capture: it bent to 21.2


def test_near_straight_planted_legs_straighten_and_bent_or_bending_ones_keep_their_bend(monkeypatch):
    T = 90  # standing still on both feet, knees captured 20 degrees bent (MediaPipe bends straight standing legs)
    G = world_rotations(_standing(T, wobble_deg=0.0))
    root = stand_on_floor(G, np.zeros((T, 3)))
    contacts = np.ones((T, 2), dtype=bool)
    G2, root2 = lock_feet(G, root, contacts, FPS)
    pos = forward_kinematics(G2, root2)
    for side in ("Left", "Right"):
        flexion = _flexion(pos, side)
        assert flexion.min() > 2.5 and flexion.max() < 7.0  # 20 * (1 - exp(-(20 / 40)^2)) = 4.4
    assert root2[:, 1].min() > root[:, 1].max() + 0.01  # the hips rose (by 12 mm)
    assert foot_slide(G2, root2, contacts) < 1e-3
    assert sole_points(G2, pos)[..., 1].min() > -1e-6  # and the feet stayed on the floor
    # Two squats on planted feet: the knees bend to 110 degrees and back within a second, passing 20-40 degrees fast.
    G = world_rotations(_squat(120, 1.0))
    root = stand_on_floor(G, np.zeros((120, 3)))
    contacts = np.ones((120, 2), dtype=bool)
    straight = forward_kinematics(*lock_feet(G, root, contacts, FPS))
    monkeypatch.setattr(feet, "STRAIGHTEN_SHARE", 0.0)
    captured = forward_kinematics(*lock_feet(G, root, contacts, FPS))
    for side in ("Left", "Right"):
        bent = _flexion(captured, side) > 25.0
        assert np.abs(_flexion(straight, side) - _flexion(captured, side))[bent].max() < 1.0
