"""Clean-up functions on synthetic landmark arrays whose truth is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import synthetic

from container_workers.gpu_worker.mocap import cleanup
from container_workers.gpu_worker.mocap.estimation import LM
from container_workers.gpu_worker.mocap.solve import local_rotations, solve_world_rotations


def test_short_gaps_are_interpolated_and_long_ones_held_and_flagged():
    values = np.arange(40, dtype=float)[:, None] * np.array([1.0, 2.0])
    detected = np.ones(40, bool)
    detected[[0, 1]] = False  # leading gap
    detected[10:13] = False  # short interior gap
    detected[20:30] = False  # long interior gap
    filled, status, gaps = cleanup.fill_gaps(np.where(detected[:, None], values, np.nan), detected, max_gap=5)
    assert [(g.start, g.end, g.flagged) for g in gaps] == [(0, 1, False), (10, 12, False), (20, 29, True)]
    np.testing.assert_allclose(filled[10:13], values[10:13])  # a straight line is interpolated exactly
    assert (status[10:13] == cleanup.INTERPOLATED).all()
    np.testing.assert_allclose(filled[20:30], np.tile(values[19], (10, 1)))
    np.testing.assert_allclose(filled[:2], np.tile(values[2], (2, 1)))
    assert (status[20:30] == cleanup.HELD).all() and (status[:2] == cleanup.HELD).all()
    assert (status[detected] == cleanup.DETECTED).all()


def test_one_euro_removes_jitter_without_lag():
    fps = 30.0
    t = np.arange(300) / fps
    truth = 0.3 * np.sin(2 * math.pi * 0.5 * t)
    noisy = truth + np.random.default_rng(1).normal(0, 0.01, t.shape)
    x = noisy[:, None, None]
    smoothed = cleanup.smooth(x, fps, 0.5)[:, 0, 0]
    raw_error = np.sqrt(np.mean((noisy - truth) ** 2))
    error = np.sqrt(np.mean((smoothed - truth)[30:-30] ** 2))
    assert error < raw_error  # closer to the truth (BETA is tuned on bench/mocap_quality for jitter vs accuracy)
    assert np.abs(np.diff(smoothed, 2)).mean() < 0.2 * np.abs(np.diff(noisy, 2)).mean()  # and a fifth of the jitter
    lags = range(-5, 6)
    best = max(lags, key=lambda k: np.corrcoef(np.roll(smoothed, k)[30:-30], truth[30:-30])[0, 1])
    assert best == 0
    assert np.array_equal(cleanup.smooth(x, fps, 0.0), x)  # smoothing 0 is off
    still = np.random.default_rng(2).normal(0, 0.01, (300, 1, 1))  # a joint that does not move
    jitter = [np.std(cleanup.smooth(still, fps, s)) for s in (0.0, 0.3, 0.6, 0.9)]
    assert jitter == sorted(jitter, reverse=True) and jitter[-1] < 0.3 * jitter[0]


def test_a_clip_that_starts_on_one_stray_sample_is_not_pulled_after_it():
    fps = 30.0
    truth = np.linspace(0.0, 0.3, 90)  # a joint moving steadily
    x = truth.copy()
    x[0] += 0.08  # MediaPipe's first frame, found from the whole picture, is off (the harness's hand wave: 8 cm)
    pad = 20
    ends = cleanup.reflect_ends(x[:, None], pad, fps)[:, 0]
    line = np.arange(-pad, 90 + pad) * 0.3 / 89
    assert np.abs(ends[:pad] - line[:pad]).max() < 0.07  # about the end sample itself: 0.16 off
    assert np.allclose(ends[-pad:], line[-pad:])  # a clean end reflects onto the line
    smoothed = cleanup.smooth(x[:, None, None], fps, 0.5)[:, 0, 0]
    assert np.abs(smoothed[:3] - truth[:3]).max() < 0.045  # (7.6 cm about the end sample)
    assert np.abs(np.diff(smoothed[:12], 2)).max() < 0.005  # no kick at the start (1.4 cm)


def test_depth_twice_as_noisy_is_filtered_harder_and_ends_about_as_jittery_as_x_and_y():
    fps = 30.0
    t = np.arange(300) / fps
    truth = 0.05 * np.sin(2 * math.pi * 0.3 * t)[:, None, None] * np.ones((1, 4, 3))  # a slow move
    noise = np.random.default_rng(3).normal(0, 0.01, truth.shape) * [1.0, 1.0, 2.0]
    assert 1.7 < cleanup.depth_noise_ratio(truth + noise) < 2.3
    plain = cleanup.whittaker(cleanup.smooth(truth + noise, fps, 0.5), fps, cleanup.CEILING_HZ)
    world = cleanup.smooth_world(truth + noise, fps, 0.5)
    np.testing.assert_array_equal(world[..., :2], plain[..., :2])  # X and Y as before

    def jitter(p, axes):
        return np.abs(np.diff(p[..., axes], 2, axis=0)).mean()

    assert jitter(world, 2) < 0.7 * jitter(plain, 2)  # (0.6)
    assert jitter(world, 2) < 1.3 * jitter(world, [0, 1])
    assert np.sqrt(np.mean((world - truth)[30:-30, :, 2] ** 2)) < 0.01  # still on the move, not flattened
    even = truth + noise * [1.0, 1.0, 0.25]  # depth half as noisy: filtered like X and Y
    np.testing.assert_array_equal(
        cleanup.smooth_world(even, fps, 0.5), cleanup.whittaker(cleanup.smooth(even, fps, 0.5), fps, cleanup.CEILING_HZ)
    )


@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_the_ceiling_keeps_half_of_a_motion_at_its_cutoff_and_slower_ones_whole_at_any_rate(fps):
    t = np.arange(int(4 * fps)) / fps
    middle = slice(int(fps), -int(fps))

    def kept(hz):
        return np.abs(cleanup.whittaker(np.sin(2 * math.pi * hz * t)[:, None], fps, 4.0)[middle]).max()

    assert kept(1.0) > 0.99 and 0.45 < kept(4.0) < 0.55 and kept(10.0) < 0.02
    bend = np.linspace(-1.0, 1.0, 50)[:, None, None] ** 2 * np.ones((1, 2, 3))  # a quadratic passes, ends included
    np.testing.assert_allclose(cleanup.whittaker(bend, fps, 4.0), bend, atol=1e-9)
    assert np.array_equal(cleanup.whittaker(bend[:3], fps, 4.0), bend[:3])  # too short to smooth


def test_a_fast_swing_comes_out_without_the_one_euro_ripple_and_its_noise():
    fps = 30.0
    t = np.arange(150) / fps
    truth = 0.5 * np.sin(2 * math.pi * 1.5 * t)[:, None, None] * np.ones((1, 2, 3))  # an arm swinging to and fro
    noisy = truth + np.random.default_rng(4).normal(0, 0.01, truth.shape)
    inner = slice(15, -15)

    def error(p):
        return np.sqrt(np.mean((p - truth)[inner] ** 2))

    one_euro = cleanup.smooth(noisy, fps, 0.5)
    world = cleanup.smooth_world(noisy, fps, 0.5)
    assert error(cleanup.smooth(truth, fps, 0.5)) > 0.02  # held at each turn, let go after: a ripple
    assert error(cleanup.smooth_world(truth, fps, 0.5)) < 0.01
    assert error(world) < 0.5 * error(one_euro) and error(world) < error(noisy)
    assert np.abs(np.diff(world, 2, axis=0)).mean() < np.abs(np.diff(one_euro, 2, axis=0)).mean()


def test_online_filter_matches_the_offline_forward_pass():
    x = np.random.default_rng(2).normal(0, 1, (50, 4, 2))
    online = cleanup.OnlineOneEuro(30.0, 1.0)
    np.testing.assert_allclose(np.stack([online(f) for f in x]), cleanup.one_euro(x, 30.0, 1.0, cleanup.BETA))


def test_bone_lengths_are_held_at_their_median_and_directions_kept():
    G, pos = synthetic.posed(synthetic.random_pose_locals(60, seed=3))
    truth = synthetic.landmarks_from_skeleton(G, pos, hips_on_outline=False)  # rigid bones
    rng = np.random.default_rng(4)
    stretched = truth * rng.uniform(0.85, 1.15, (60, 1, 1))  # the whole body's size wobbles
    out = cleanup.constrain_bone_lengths(stretched, cleanup.median_bone_lengths(stretched, np.ones((60, 33))))
    p_in, p_out = cleanup.with_midpoints(stretched), cleanup.with_midpoints(out)
    for a, b in cleanup.BONE_TREE:
        length = np.linalg.norm(p_out[:, b] - p_out[:, a], axis=-1)
        assert np.ptp(length) < 1e-9
        d_in, d_out = p_in[:, b] - p_in[:, a], p_out[:, b] - p_out[:, a]
        cos = np.sum(d_in * d_out, -1) / np.linalg.norm(d_in, axis=-1) / np.linalg.norm(d_out, axis=-1)
        assert cos.min() > 1 - 1e-9
    thigh_in = np.linalg.norm(stretched[:, LM["left_knee"]] - stretched[:, LM["left_hip"]], axis=-1)
    thigh_out = np.linalg.norm(out[:, LM["left_knee"]] - out[:, LM["left_hip"]], axis=-1)
    np.testing.assert_allclose(thigh_out, np.median(thigh_in), rtol=1e-9)
    # Constant lengths on unchanged poses leave the rotations alone.
    np.testing.assert_allclose(
        local_rotations(solve_world_rotations(out)), local_rotations(solve_world_rotations(truth)), atol=1e-9
    )


def test_root_translation_follows_a_person_walking_in_front_of_a_pinhole_camera():
    fps, width, height, fov = 30.0, 640, 480, 60.0
    focal = 0.5 * width / math.tan(math.radians(fov) / 2)
    T = 90
    G, pos = synthetic.posed(synthetic.random_pose_locals(1, seed=5).repeat(T, axis=0))
    world = synthetic.landmarks_from_skeleton(G, pos)
    path_x = np.linspace(-0.8, 0.8, T)
    distance = np.linspace(4.0, 3.0, T)  # walks towards the camera
    cam = world + np.stack([path_x, np.full(T, 0.3), -distance], 1)[:, None]  # skeleton axes, camera at the origin
    image = np.stack(
        [width / 2 + focal * cam[..., 0] / -cam[..., 2], height / 2 - focal * cam[..., 1] / -cam[..., 2]], -1
    )
    root = cleanup.root_translation(image, world, np.ones((T, 33)), width, height, fps, fov, smoothing=0.5)
    np.testing.assert_allclose(root[:, 0], path_x - path_x[0], atol=0.03)
    np.testing.assert_allclose(root[:, 2], distance[0] - distance, atol=0.1)  # depth from apparent size: a few %
    np.testing.assert_allclose(root[:, 1], 0.0, atol=0.02)  # the hips stay 0.3 m above the camera: no rise

    rising = cam + np.stack([np.zeros(T), np.linspace(0.0, 0.4, T), np.zeros(T)], 1)[:, None]  # a 40 cm jump
    image = np.stack(
        [width / 2 + focal * rising[..., 0] / -rising[..., 2], height / 2 - focal * rising[..., 1] / -rising[..., 2]],
        -1,
    )
    root = cleanup.root_translation(image, world, np.ones((T, 33)), width, height, fps, fov, smoothing=0.5)
    np.testing.assert_allclose(root[:, 1], np.linspace(0.0, 0.4, T), atol=0.03)


def test_a_limb_put_elsewhere_for_two_frames_is_dropped_and_a_fast_swing_kept():
    T, fps = 60, 30.0
    t = np.arange(T) / fps
    swing = 0.4 * np.sin(2 * np.pi * 1.5 * t)  # a running foot: 40 cm either way, up to 3.8 m/s
    points = np.zeros((T, 2, 3))
    points[:, 0, 0] = swing
    points[:, 1, 1] = 0.05 * np.sin(2 * np.pi * 0.5 * t)  # a wrist moving slowly...
    glitch = points.copy()
    glitch[30:32, 1, 2] += 0.3  # ... put 30 cm away for two frames
    out = cleanup.drop_outliers(glitch, fps)
    np.testing.assert_allclose(out[:, 0], points[:, 0])  # the swing's extremes stay
    assert np.abs(out[:, 1] - points[:, 1]).max() < 0.01


def test_matching_the_image_keeps_an_upright_spine_and_level_pelvis_in_the_image_plane():
    T, ppm = 60, 500.0
    G, pos = synthetic.posed(np.tile(np.eye(3), (T, len(synthetic.J), 1, 1)))  # standing, facing the camera
    truth = synthetic.landmarks_from_skeleton(G, pos)
    rng = np.random.default_rng(7)
    estimate = truth + np.concatenate([np.zeros((T, 33, 2)), rng.normal(0, 0.003, (T, 33, 1))], -1)  # depth noise
    image = np.stack([320 + ppm * truth[..., 0], 240 - ppm * truth[..., 1]], -1) + rng.normal(0, 2.0, (T, 33, 2))
    vis = np.ones((T, 33))
    out = cleanup.match_image(estimate, image, vis, cleanup.median_bone_lengths(truth, vis), np.full(T, ppm), 30.0)
    mid = cleanup.with_midpoints(out)
    # Pixel noise on bones lying in the image plane must not become depth (the length would leave 5-15 cm).
    for joint in (cleanup.SHOULDER_MID, LM["left_hip"], LM["right_hip"]):
        assert np.abs(mid[:, joint, 2]).max() < 0.01


def test_matching_the_image_takes_depth_from_the_length_only_where_the_image_can_tell_it():
    T, ppm = 30, 500.0
    R = np.tile(np.eye(3), (T, len(synthetic.J), 1, 1))
    R[:, synthetic.J["LeftUpLeg"]] = synthetic.rot("x", np.full(T, -70.0))  # the left thigh raised towards the camera
    truth = synthetic.landmarks_from_skeleton(*synthetic.posed(R))
    R[:, synthetic.J["LeftUpLeg"]] = synthetic.rot("x", np.full(T, -40.0))  # which the 3D estimate under-raises,
    R[:, synthetic.J["RightUpLeg"]] = synthetic.rot("x", np.full(T, -3.0))  # and it tilts the standing leg by 3°
    estimate = synthetic.landmarks_from_skeleton(*synthetic.posed(R))
    # On screen everything is 6 % short of what `ppm` says (the scale is a per-frame estimate).
    image = np.stack([320 + 0.94 * ppm * truth[..., 0], 240 - 0.94 * ppm * truth[..., 1]], -1)
    vis = np.ones((T, 33))
    out = cleanup.match_image(estimate, image, vis, cleanup.median_bone_lengths(truth, vis), np.full(T, ppm), 30.0)
    knee, ankle = LM["left_knee"], LM["left_ankle"]
    # The raised thigh is foreshortened on screen, so its length tells its depth: the knee comes towards the truth.
    assert (
        np.abs(out[:, knee, 2] - truth[:, knee, 2]).max() < 0.5 * np.abs(estimate[:, knee, 2] - truth[:, knee, 2]).min()
    )
    # The standing shin lies in the image plane: 6 % short on screen, its length would leave 14 cm of depth.
    shin = out[:, LM["right_ankle"], 2] - out[:, LM["right_knee"], 2]
    assert np.abs(shin).max() < 0.04
    assert np.abs((out[:, ankle] - out[:, knee])[:, 2] - (truth[:, ankle] - truth[:, knee])[:, 2]).max() < 0.05


def _walking_track(T: int, heading_degrees, seed: int = 3, fps: float = 30.0):
    """Landmarks of a person striding (legs and arms swinging) on the spot, turned by `heading_degrees` per frame,
    and their image (orthographic, 300 px a metre, drifting right), visibility and detected flags."""
    t = np.arange(T) / fps
    R = np.tile(np.eye(3), (T, len(synthetic.J), 1, 1))
    R[:, synthetic.J["Hips"]] = synthetic.rot("y", np.broadcast_to(heading_degrees, (T,)))
    for side, sign in (("Left", 1), ("Right", -1)):
        swing = 30 * sign * np.sin(2 * np.pi * t)
        R[:, synthetic.J[f"{side}UpLeg"]] = synthetic.rot("x", -swing)
        R[:, synthetic.J[f"{side}Arm"]] = synthetic.rot("x", swing) @ synthetic.rot("z", -sign * 70)
    G, pos = synthetic.posed(R)
    world = synthetic.landmarks_from_skeleton(G, pos)
    rng = np.random.default_rng(seed)
    image = np.stack([320 + 300 * world[..., 0] + 2 * np.arange(T)[:, None], 300 - 300 * world[..., 1]], -1)
    image += rng.normal(0, 1.0, image.shape)
    visibility = np.linspace(0.5, 1.0, 33)[None].repeat(T, 0)
    return image, world, visibility, np.ones(T, dtype=bool)


def _mirror(values: np.ndarray, frames, landmarks=None) -> np.ndarray:
    out = values.copy()
    sided = cleanup.SIDED if landmarks is None else landmarks
    out[np.ix_(frames, sided)] = values[np.ix_(frames, cleanup.MIRROR[sided])]
    return out


def _standing(frames: int = 60) -> np.ndarray:
    """Landmarks (T, 33, 3) of the shared skeleton standing at rest, hip-centred."""
    G, pos = synthetic.posed(np.tile(np.eye(3), (frames, len(synthetic.J), 1, 1)))
    return synthetic.landmarks_from_skeleton(G, pos)


def test_mediapipes_lean_towards_the_camera_is_taken_out_where_the_person_stays_on_the_spot():
    fps, upright = 30.0, _standing()
    leaned = upright.copy()
    leaned[..., 2] += math.tan(math.radians(9.0)) * upright[..., 1]  # the top towards the camera, the feet as they were
    seen, still = np.ones(upright.shape[:2]), np.zeros((len(upright), 3))
    out, lean = cleanup.level(leaned, seen, still, fps)
    assert lean == pytest.approx(9.0, abs=0.1)
    assert np.abs(out - upright).max() < 1e-9  # the feet keep their place and height
    walking = np.stack([np.arange(len(upright)) * 1.4 / fps, np.zeros(len(upright)), np.zeros(len(upright))], 1)
    assert cleanup.level(leaned, seen, walking, fps)[1] == 0.0  # a walk leans into its motion: kept
    unseen = seen.copy()
    unseen[:, [LM["left_ankle"], LM["right_ankle"]]] = 0.0  # a waist-up shot: the legs are guesses
    assert cleanup.level(leaned, unseen, still, fps)[1] == 0.0
    seated = upright.copy()
    seated[..., 2] += math.tan(math.radians(30.0)) * upright[..., 1]  # hips far off the feet: the person's own
    assert np.array_equal(cleanup.level(seated, seen, still, fps)[0], seated)


def test_left_right_label_swaps_are_undone_in_image_world_and_visibility():
    image, world, vis, detected = _walking_track(60, 10.0)
    swapped = [3, 4, 5, 6, 7, 20, 41, 42]  # MediaPipe's whole-body swaps: a run, one frame, two
    legs = [f"{s}_{n}" for s in ("left", "right") for n in ("knee", "ankle", "heel", "foot_index")]
    bad = [_mirror(v, swapped) for v in (image, world, vis)]
    bad = [_mirror(v, [30, 31], np.array([LM[n] for n in legs])) for v in bad]  # and the legs alone
    *out, mirrored = cleanup.unswap_sides(*bad, detected, 15)
    for got, want in zip(out, (image, world, vis)):
        np.testing.assert_array_equal(got, want)
    assert mirrored[swapped][:, cleanup.SIDED].all() and mirrored[30:32, LM["left_knee"]].all()
    assert mirrored.sum() == len(swapped) * len(cleanup.SIDED) + 2 * len(legs)


def test_a_long_whole_body_swap_is_undone_at_60_fps_as_at_30():
    for fps in (30.0, 60.0):  # the same 2.5 s swapped out of 6: at 60 fps twice the frames, each moving half as much
        T, start = int(6 * fps), int(2 * fps)  # (with a cost per mirrored frame, not per second, 60 fps kept it)
        image, world, vis, detected = _walking_track(T, 10.0, fps=fps)
        bad = [_mirror(v, list(range(start, start + int(2.5 * fps)))) for v in (image, world, vis)]
        *out, mirrored = cleanup.unswap_sides(*bad, detected, 15, fps)
        for got, want in zip(out, (image, world, vis)):
            np.testing.assert_array_equal(got, want)


def test_a_clip_mediapipe_saw_facing_away_throughout_is_turned_round_where_a_face_was_seen():
    image, world, vis, detected = _walking_track(60, 10.0)
    assert (image[:, LM["left_shoulder"], 0] > image[:, LM["right_shoulder"], 0]).all()  # facing the camera
    bad = [_mirror(v, list(range(60))) for v in (image, world, vis)]  # labelled facing away, 2D and 3D alike
    *_, mirrored = cleanup.unswap_sides(*bad, detected, 15)
    assert not mirrored.any()  # nothing jumps: the motion alone cannot tell
    face = np.zeros(60, dtype=bool)
    face[[12, 40]] = True  # a frontal face seen in two frames
    *out, mirrored = cleanup.unswap_sides(*bad, detected, 15, 30.0, face)
    for got, want in zip(out, (image, world, vis)):
        np.testing.assert_array_equal(got, want)
    *_, mirrored = cleanup.unswap_sides(image, world, vis, detected, 15, 30.0, face)
    assert not mirrored.any()  # labelled facing the camera, a face changes nothing


def test_a_person_turning_round_spinning_or_striding_sideways_is_not_a_swap():
    T = 60
    spin = np.concatenate([np.zeros(20), np.linspace(0, 720, 20), np.full(20, 720.0)])  # two turns in 2/3 s
    for heading in (np.linspace(0, 180, T), spin, 90.0):  # facing away; a pirouette; a side view, legs crossing
        image, world, vis, detected = _walking_track(T, heading)
        *out, mirrored = cleanup.unswap_sides(image, world, vis, detected, 15)
        for got, want in zip(out, (image, world, vis)):
            np.testing.assert_array_equal(got, want)
        assert not mirrored.any()


def test_frames_without_a_person_are_left_out_of_the_swap_search():
    image, world, vis, detected = _walking_track(40, 10.0)
    detected[10:15] = False
    image[10:15] = world[10:15] = np.nan
    bad = [_mirror(v, [20, 21]) for v in (image, world, vis)]
    out = cleanup.unswap_sides(*bad, detected, 15)
    np.testing.assert_array_equal(out[0][~detected], image[~detected])
    np.testing.assert_array_equal(out[1][detected], world[detected])


def test_a_person_who_comes_back_turned_round_after_a_long_gap_is_not_relabelled():
    heading = np.concatenate([np.full(30, 10.0), np.full(30, 170.0)])  # left the picture, came back facing away
    image, world, vis, detected = _walking_track(60, heading)
    detected[20:40] = False  # 20 frames away, more than the 15 allowed
    image[20:40] = world[20:40] = np.nan
    *out, mirrored = cleanup.unswap_sides(image, world, vis, detected, 15)
    assert not mirrored.any()
    *_, linked = cleanup.unswap_sides(image, world, vis, detected, 30)  # linked across it, one side is mirrored
    assert linked[:, cleanup.SIDED].any()


def test_a_body_mediapipe_turned_round_for_a_few_frames_and_back_is_refilled_from_the_frames_around():
    image, world, vis, detected = _walking_track(60, 60.0)  # three-quarters side on
    bad = world.copy()
    bad[20:23, :, 2] *= -1  # depth mirrored: the labels are right, the body faces 120 degrees away
    assert np.flatnonzero(cleanup.spun_frames(bad, detected, 15)).tolist() == [20, 21, 22]
    fixed, count = cleanup.refill_spun(bad, detected, 15)
    assert count == 3
    np.testing.assert_array_equal(np.delete(fixed, [20, 21, 22], axis=0), np.delete(world, [20, 21, 22], axis=0))
    assert np.abs(fixed[20:23] - world[20:23]).max() < 0.1 * np.abs(bad[20:23] - world[20:23]).max()
    for frames in (slice(20, None), slice(20, 40)):  # turned for good, or for longer than a gap may last
        turned = world.copy()
        turned[frames, :, 2] *= -1
        assert cleanup.refill_spun(turned, detected, 15)[1] == 0
    spin = np.concatenate([np.zeros(20), np.linspace(0, 720, 20), np.full(20, 720.0)])  # two turns in 2/3 s
    assert cleanup.refill_spun(_walking_track(60, spin)[1], detected, 15)[1] == 0


def _collapse(values: np.ndarray, frames, pair: tuple[str, str], amount: float = 0.8) -> np.ndarray:
    """`values` with the two landmarks of `pair` pulled `amount` of the way together in `frames` (MediaPipe unsure)."""
    out = values.copy()
    a, b = LM[pair[0]], LM[pair[1]]
    mid = 0.5 * (values[frames, a] + values[frames, b])
    out[frames, a] += amount * (mid - values[frames, a])
    out[frames, b] += amount * (mid - values[frames, b])
    return out


def test_frames_with_collapsed_hips_or_shoulders_are_refilled_from_the_frames_around():
    image, world, _, detected = _walking_track(60, 10.0)
    hips, shoulders = [20, 21, 22], [40]
    bad_world = _collapse(
        _collapse(world, hips, ("left_hip", "right_hip")), shoulders, ("left_shoulder", "right_shoulder")
    )
    bad_image = _collapse(
        _collapse(image, hips, ("left_hip", "right_hip")), shoulders, ("left_shoulder", "right_shoulder")
    )
    got_world, got_image, refilled = cleanup.refill_collapsed(bad_world, bad_image, detected, 15)
    assert refilled == 4
    legs, arms = (group for _, group in cleanup.COLLAPSE_GROUPS)
    w = (np.arange(1, 4) / 4)[:, None, None]  # linear between the frames either side, for the whole group
    np.testing.assert_allclose(got_world[20:23][:, legs], (1 - w) * world[19][legs] + w * world[23][legs])
    np.testing.assert_allclose(got_image[40][arms], 0.5 * (image[39][arms] + image[41][arms]))
    others = np.setdiff1d(np.arange(33), legs)
    np.testing.assert_array_equal(got_world[20:23][:, others], world[20:23][:, others])  # the rest is kept
    keep = np.setdiff1d(np.arange(60), hips + shoulders)
    np.testing.assert_array_equal(got_world[keep], world[keep])


def test_a_person_turning_side_on_is_not_collapsed():
    image, world, _, detected = _walking_track(60, np.linspace(0, 90, 60))  # the hips' width turns into depth
    got_world, got_image, refilled = cleanup.refill_collapsed(world, image, detected, 15)
    assert refilled == 0
    np.testing.assert_array_equal(got_world, world)
    np.testing.assert_array_equal(got_image, image)


def test_one_euro_forgets_at_the_same_pace_per_second_at_any_frame_rate():
    step = {fps: np.concatenate([np.zeros(1), np.ones(int(fps))])[:, None, None] for fps in (15.0, 30.0, 60.0)}
    out = {fps: cleanup.one_euro(x, fps, 4.0, 0.0)[:, 0, 0] for fps, x in step.items()}
    np.testing.assert_allclose(
        out[60.0][::2], out[30.0], atol=1e-12
    )  # the 1/(1 + 1/(2 pi f Te)) rule: 0.05 apart (0.08 at 15)
    np.testing.assert_allclose(out[15.0], out[30.0][::2], atol=1e-12)


def test_one_euro_lets_the_same_noise_through_per_second_at_30_and_60_fps():
    rng = np.random.default_rng(0)  # landmarks still but for noise of the same size in every frame, 20 s
    left = {}
    for fps in (30.0, 60.0):
        x = rng.normal(0.0, 0.01, (int(20 * fps), 50, 3))
        left[fps] = cleanup.one_euro(x, fps, 1.0, cleanup.BETA)[int(fps) :].std()
    # The same cutoff in Hz passes half the noise power at twice the rate; beta unscaled for the rate opened it: 0.74.
    assert abs(left[60.0] / left[30.0] - math.sqrt(0.5)) < 0.02


def _arm_clip(bend_degrees: np.ndarray, ppm: float = 500.0, seed: int = 5):
    """A T-posed person whose left forearm bends towards the camera by `bend_degrees` (T,): landmarks and image."""
    T = len(bend_degrees)
    G, pos = synthetic.posed(np.tile(np.eye(3), (T, len(synthetic.J), 1, 1)))
    truth = synthetic.landmarks_from_skeleton(G, pos)
    elbow, wrist = LM["left_elbow"], LM["left_wrist"]
    forearm = np.linalg.norm(truth[0, wrist] - truth[0, elbow])
    out = np.radians(bend_degrees)
    along = (truth[0, wrist] - truth[0, elbow]) / forearm
    truth[:, wrist] = truth[:, elbow] + forearm * (np.cos(out)[:, None] * along + np.sin(out)[:, None] * [0, 0, 1])
    rng = np.random.default_rng(seed)
    image = np.stack([320 + ppm * truth[..., 0], 240 - ppm * truth[..., 1]], -1) + rng.normal(0, 1.0, (T, 33, 2))
    return truth, image, np.full(T, ppm)


def _elbow_flexion(points: np.ndarray) -> np.ndarray:
    """The left elbow's flexion (T,) in degrees: 0 for a straight arm."""
    upper = points[:, LM["left_elbow"]] - points[:, LM["left_shoulder"]]
    fore = points[:, LM["left_wrist"]] - points[:, LM["left_elbow"]]
    cos = np.sum(upper * fore, -1) / np.linalg.norm(upper, axis=-1) / np.linalg.norm(fore, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_matching_the_image_straightens_a_straight_arm_that_the_3d_estimate_bends_towards_the_camera():
    T = 60
    truth, image, ppm = _arm_clip(np.zeros(T))
    vis = np.ones((T, 33))
    # MediaPipe's 3D arm: the elbow 8 % nearer the shoulder, the forearm that much longer and tipped 20° at the camera.
    estimate, _, _ = _arm_clip(np.full(T, 20.0))
    shoulder, elbow, wrist = (LM[f"left_{n}"] for n in ("shoulder", "elbow", "wrist"))
    shift = 0.08 * (estimate[:, elbow] - estimate[:, shoulder])
    estimate[:, elbow] -= shift
    estimate[:, wrist] += 0.08 * (estimate[:, wrist] - estimate[:, elbow]) / 1.08
    lengths = cleanup.median_bone_lengths(estimate, vis)
    assert _elbow_flexion(estimate).mean() > 15.0
    out = cleanup.match_image(estimate, image, vis, lengths, ppm, 30.0)
    # A pixel of noise leaves a forearm lying in the image plane 4 cm of depth (10°); the 3D lengths made it 22°.
    assert _elbow_flexion(out).mean() < 12.5
    # The arm takes its lengths from the screen: its upper arm and forearm split as in the picture.
    upper = np.linalg.norm(out[:, elbow] - out[:, shoulder], axis=-1)
    fore = np.linalg.norm(out[:, wrist] - out[:, elbow], axis=-1)
    true_ratio = np.linalg.norm(truth[0, elbow] - truth[0, shoulder]) / np.linalg.norm(
        truth[0, wrist] - truth[0, elbow]
    )
    np.testing.assert_allclose(upper / fore, true_ratio, rtol=0.03)


def test_matching_the_image_keeps_a_forearm_that_really_bends_towards_the_camera():
    T = 90
    # Straight for the first 15 % of the clip, then curling 60° towards the camera and held there.
    bend = 60.0 * np.clip((np.linspace(0, 1, T) - 0.15) / 0.2, 0, 1)
    truth, image, ppm = _arm_clip(bend)
    vis = np.ones((T, 33))
    out = cleanup.match_image(truth, image, vis, cleanup.median_bone_lengths(truth, vis), ppm, 30.0)
    bent = bend > 30
    np.testing.assert_allclose(_elbow_flexion(out)[bent], bend[bent], atol=6.0)
