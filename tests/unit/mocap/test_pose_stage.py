"""The pose stage end to end on videos of the astronaut made in code, with known motion."""

from __future__ import annotations

import json
import math

import cv2
import media
import numpy as np
import pytest
from conftest import FPS, SIZE, run_stage

from container_workers.common import skeleton
from container_workers.common.stage import BadInputError
from container_workers.gpu_worker.exchange.bvh import parse_bvh
from container_workers.gpu_worker.mocap.feet import sole_points
from container_workers.gpu_worker.mocap.solve import forward_kinematics, world_rotations
from container_workers.gpu_worker.mocap.stage import PoseParams, parse_params, pose


def _skeleton_from_bvh(path):
    bvh = parse_bvh(path)
    G = world_rotations(bvh.local_rotations())
    root = bvh.root_positions() / skeleton.BVH_UNITS_PER_METRE
    return bvh, G, forward_kinematics(G, root)


def test_outputs_and_metadata(walk_run):
    result, workdir = walk_run.result, walk_run.workdir
    assert [(o.role, o.kind, o.path.name) for o in result.outputs] == [
        ("bvh", "ANIMATION", "motion.bvh"),
        ("preview", "VIDEO", "preview.mp4"),
        ("landmarks", "ANIMATION", "landmarks.json"),
    ]
    assert all(o.path.parent == workdir and o.path.stat().st_size > 0 for o in result.outputs)
    meta = result.metadata
    assert (meta["frames"], meta["fps"], meta["width"], meta["height"], meta["rotation"]) == (75, FPS, 320, 240, 0)
    assert meta["durationSeconds"] == pytest.approx(2.5)
    assert meta["detectedFrames"] >= 70 and meta["flaggedGaps"] == []
    assert meta["detectedFrames"] + meta["interpolatedFrames"] + meta["heldFrames"] == 75
    assert 0 <= meta["collapsedFrames"] <= meta["detectedFrames"] and 0 <= meta["spunFrames"] <= meta["detectedFrames"]
    assert 0 < meta["meanConfidence"] <= 1
    assert meta["previewCodec"] == "h264"
    json.dumps(meta)


def test_progress_is_reported_as_frames_are_tracked(walk_run):
    pcts = [p for p, _ in walk_run.progress]
    assert pcts == sorted(pcts) and pcts[-1] == 100.0
    assert len([p for p in pcts if 0 < p < 90]) >= 20


def test_root_follows_the_person_across_the_frame(walk_run):
    _, _, pos = _skeleton_from_bvh(walk_run.workdir / "motion.bvh")
    x = pos[:, 0, 0]
    assert np.corrcoef(walk_run.known, x)[0, 1] > 0.95
    assert x[-1] - x[0] > 0.2  # moved right (the skeleton's +X is the viewer's right for a person facing the camera)


def test_bvh_reparses_to_the_stage_joints(walk_run):
    bvh, _, pos = _skeleton_from_bvh(walk_run.workdir / "motion.bvh")
    assert bvh.frames == walk_run.result.metadata["frames"]
    assert bvh.names == list(skeleton.NAMES)
    assert bvh.frame_time == pytest.approx(1 / FPS)
    doc = json.loads((walk_run.workdir / "landmarks.json").read_text())
    np.testing.assert_allclose(pos, np.array(doc["cleaned"]["joints"]), atol=2e-3)


def test_output_stands_on_the_floor_and_locked_feet_do_not_slide(walk_run):
    _, G, pos = _skeleton_from_bvh(walk_run.workdir / "motion.bvh")
    soles = sole_points(G, pos)
    np.testing.assert_allclose(soles[..., 1].min(axis=(1, 2)), 0.0, atol=1e-3)
    contacts = json.loads((walk_run.workdir / "landmarks.json").read_text())["contacts"]
    for k, side in enumerate(("LeftFoot", "RightFoot")):
        for a, b in contacts[side]:
            span = soles[a : b + 1, k]
            pivot = span[..., 1].argmin(axis=1)  # the foot may roll heel to toe, but its lowest point stays put
            steps = span[1:][np.arange(b - a), pivot[1:]] - span[:-1][np.arange(b - a), pivot[1:]]
            assert np.linalg.norm(steps[:, [0, 2]], axis=-1).sum() < 2e-3, (side, a, b)
    assert walk_run.result.metadata["maxFootSlideCm"] < 0.2


def test_landmarks_json_has_raw_and_cleaned_data(walk_run):
    doc = json.loads((walk_run.workdir / "landmarks.json").read_text())
    T = walk_run.result.metadata["frames"]
    assert doc["frames"] == T and len(doc["landmarkNames"]) == 33 and doc["jointNames"] == list(skeleton.NAMES)
    assert (
        len(doc["raw"]["image"]) == len(doc["raw"]["world"]) == len(doc["confidence"]) == len(doc["frameStatus"]) == T
    )
    first = next(f for f in doc["raw"]["image"] if f is not None)
    assert len(first) == 33 and all(0 <= p[3] <= 1 for p in first)
    assert np.array(doc["cleaned"]["world"]).shape == (T, 33, 3)
    assert all(0 <= c <= 1 for c in doc["confidence"])


def test_preview_is_the_video_with_the_skeleton_drawn(walk_run, walk_across):
    cap = cv2.VideoCapture(str(walk_run.workdir / "preview.mp4"))
    source = cv2.VideoCapture(str(walk_across[0]))
    frames = 0
    drawn = 0
    while True:
        ok, frame = cap.read()
        ok_src, src = source.read()
        if not ok:
            break
        frames += 1
        assert frame.shape[:2] == (240, 320)
        drawn += np.mean(np.all(frame > 235, axis=2) & ~np.all(src > 235, axis=2)) > 0.002  # white bones added
    assert frames == 75 and drawn >= 70


def test_without_root_motion_the_hips_stay_over_the_origin(walk_across, tmp_path):
    run = run_stage(walk_across[0], tmp_path, {"rootMotion": False})
    _, _, pos = _skeleton_from_bvh(tmp_path / "motion.bvh")
    np.testing.assert_allclose(pos[:, 0, [0, 2]], 0.0, atol=1e-6)
    assert run.result.metadata["rootTravelMetres"] == 0


def test_tilting_the_person_tilts_the_torso(media_dir, tmp_path):
    angles = 25 * np.sin(2 * math.pi * np.arange(60) / 59)  # counter-clockwise on screen
    video = media.write_video(media_dir / "tilt.mp4", (media.astronaut_frame(SIZE, (160, 120), 180, a) for a in angles))
    run_stage(video, tmp_path)
    _, G, _ = _skeleton_from_bvh(tmp_path / "motion.bvh")
    up = G[:, skeleton.INDEX["Spine2"]] @ np.array([0.0, 1.0, 0.0])
    lean_left_on_screen = np.degrees(np.arctan2(-up[:, 0], up[:, 1]))
    assert np.corrcoef(angles, lean_left_on_screen)[0, 1] > 0.8


def test_growing_on_screen_means_walking_towards_the_camera(media_dir, tmp_path):
    sides = np.linspace(140, 220, 60)
    video = media.write_video(media_dir / "zoom.mp4", (media.astronaut_frame(SIZE, (160, 120), s) for s in sides))
    run_stage(video, tmp_path)
    _, _, pos = _skeleton_from_bvh(tmp_path / "motion.bvh")
    assert np.corrcoef(sides, pos[:, 0, 2])[0, 1] > 0.9 and pos[-1, 0, 2] - pos[0, 0, 2] > 0.2


def test_a_phone_video_with_rotation_metadata_is_tracked_upright(walk_across, media_dir, tmp_path):
    xs = walk_across[1]
    stored = (cv2.rotate(media.astronaut_frame(SIZE, (x, 120), 180), cv2.ROTATE_90_COUNTERCLOCKWISE) for x in xs)
    video = media.write_video(media_dir / "portrait_stored.mp4", stored)
    media.set_rotation(video, 90)
    run = run_stage(video, tmp_path)
    meta = run.result.metadata
    assert (meta["width"], meta["height"], meta["rotation"]) == (320, 240, 90)
    assert meta["detectedFrames"] >= 70
    _, _, pos = _skeleton_from_bvh(tmp_path / "motion.bvh")
    assert np.corrcoef(xs, pos[:, 0, 0])[0, 1] > 0.95


def test_short_gaps_are_interpolated_and_long_ones_flagged(media_dir, tmp_path):
    person = [media.astronaut_frame(SIZE, (160, 120), 180)] * 30
    blank = media.blank_frame(SIZE)
    frames = person + [blank] * 4 + person[:26] + [blank] * 30 + person[:15]  # 105 frames
    video = media.write_video(media_dir / "gaps.mp4", frames)
    run = run_stage(video, tmp_path)
    meta = run.result.metadata
    assert meta["frames"] == 105
    assert 4 <= meta["interpolatedFrames"] <= 8
    assert len(meta["flaggedGaps"]) == 1
    gap = meta["flaggedGaps"][0]
    assert 58 <= gap["startFrame"] <= 61 and 89 <= gap["endFrame"] <= 93
    assert gap["startSeconds"] == pytest.approx(gap["startFrame"] / FPS, abs=1e-3)
    status = json.loads((tmp_path / "landmarks.json").read_text())["frameStatus"]
    assert set(status[31:34]) == {"interpolated"} and set(status[62:89]) == {"held"}


def test_a_video_without_a_person_is_rejected(media_dir, tmp_path):
    video = media.write_video(media_dir / "empty_room.mp4", [media.blank_frame(SIZE)] * 20)
    with pytest.raises(BadInputError) as err:
        pose({"video": video}, {}, tmp_path, lambda *_: None)
    assert err.value.code == "NO_PERSON_DETECTED"


def test_an_unreadable_or_missing_video_is_rejected(tmp_path):
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00\x01garbage" * 1000)
    with pytest.raises(BadInputError) as err:
        pose({"video": junk}, {}, tmp_path / "w", lambda *_: None)
    assert err.value.code == "UNREADABLE_VIDEO"
    with pytest.raises(BadInputError) as err:
        pose({}, {}, tmp_path / "w", lambda *_: None)
    assert err.value.code == "MISSING_INPUT"


@pytest.mark.parametrize(
    "params",
    [
        {"smoothing": 1.5},
        {"smoothing": -0.1},
        {"smoothing": "high"},
        {"smoothing": True},
        {"smoothing": float("nan")},
        {"rootMotion": "yes"},
        {"rootMotion": 1},
        {"footLock": "no"},
        {"maxGapSeconds": -1},
        {"cameraFovDegrees": 5},
        {"performer": "tallest"},
        {"performer": "0.5,0.1,0.2,0.9"},
        {"hands": "yes"},
        {"skeleton": "mine"},
        {"poseModel": "ultra"},
        ["smoothing"],
    ],
)
def test_nonsense_params_are_rejected(params, walk_across, tmp_path):
    with pytest.raises(BadInputError) as err:
        pose({"video": walk_across[0]}, params, tmp_path, lambda *_: None)
    assert err.value.code == "INVALID_PARAMS"


def test_params_defaults_and_accepted_values():
    assert parse_params({}) == PoseParams() == parse_params(None)
    assert parse_params(
        {
            "smoothing": 0,
            "rootMotion": False,
            "footLock": False,
            "maxGapSeconds": 2,
            "cameraFovDegrees": 90,
            "somethingForAnotherStage": 1,
        }
    ) == PoseParams(0.0, False, False, 2.0, 90.0, "largest", False, "standard")
    assert parse_params({"smoothing": None}).smoothing == PoseParams().smoothing
    chosen = parse_params(
        {"performer": "0.1,0.2,0.5,0.9", "hands": True, "skeleton": "performer", "poseModel": "heavy"}
    )
    assert (chosen.performer, chosen.hands, chosen.skeleton, chosen.poseModel) == (
        "0.1,0.2,0.5,0.9",
        True,
        "performer",
        "heavy",
    )
    assert PoseParams().poseModel == "full"


def test_the_heavy_model_tracks_the_same_walk(walk_across, tmp_path):
    run = run_stage(walk_across[0], tmp_path / "heavy", {"poseModel": "heavy"})
    assert run.result.metadata["params"]["poseModel"] == "heavy"
    assert run.result.metadata["detectedFrames"] >= 70
    _, _, pos = _skeleton_from_bvh(run.workdir / "motion.bvh")
    assert np.corrcoef(walk_across[1], pos[:, 0, 0])[0, 1] > 0.95


def test_a_missing_heavy_model_fails_clearly(monkeypatch, tmp_path):
    from container_workers.gpu_worker.mocap import estimation

    monkeypatch.setattr(estimation, "landmark_model_path", lambda model: tmp_path / f"pose_landmark_{model}.tflite")
    with pytest.raises(RuntimeError, match="heavy pose model is not installed"):
        estimation.PoseEstimator(model="heavy")


def test_performer_skeleton_and_hands_give_their_own_bones(walk_across, tmp_path):
    run = run_stage(walk_across[0], tmp_path / "own", {"skeleton": "performer", "hands": True})
    bvh = parse_bvh(run.workdir / "motion.bvh")
    assert set(bvh.names) == set(skeleton.names(hands=True))
    doc = json.loads((run.workdir / "landmarks.json").read_text())
    assert doc["jointNames"] == list(skeleton.names(hands=True))
    scale = skeleton.BVH_UNITS_PER_METRE
    standard = dict(zip(skeleton.names(hands=True), skeleton.offsets(scale, hands=True)))
    own = dict(zip(bvh.names, bvh.offsets))
    assert not np.allclose(own["LeftLeg"], standard["LeftLeg"], atol=0.5)  # the thigh is the performer's
    np.testing.assert_allclose(own["LeftLeg"], own["RightLeg"])  # and the skeleton symmetric
    # It stands on its own floor: the lowest sole point at 0 in every frame.
    offsets = np.array([own[n] for n in skeleton.NAMES]) / scale
    order = [bvh.names.index(n) for n in skeleton.NAMES]
    G = world_rotations(bvh.local_rotations()[:, order])
    pos = forward_kinematics(G, bvh.root_positions() / scale, offsets)
    lowest = sole_points(G, pos, offsets)[..., 1].min(axis=(1, 2))
    np.testing.assert_allclose(lowest, 0.0, atol=2e-3)
    assert set(run.result.metadata["handFrames"]) == {"LeftHand", "RightHand"}
