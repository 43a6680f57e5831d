"""The facing check: MediaPipe's face detector on a crop of the head, where the pose's facing jumps."""

from __future__ import annotations

from contextlib import closing

import cv2
import media
import numpy as np

from container_workers.gpu_worker.mocap import facing
from container_workers.gpu_worker.mocap.estimation import LM, Detection, PoseEstimator


def test_a_frontal_face_is_found_in_the_head_crop_and_a_hidden_one_is_not():
    rgb = cv2.cvtColor(media.astronaut_frame((320, 240), (160, 120), 200), cv2.COLOR_BGR2RGB)
    with PoseEstimator(static=True) as pose:
        det = pose.detect(rgb)
    assert det is not None
    hidden = rgb.copy()
    x0, y0 = det.image[facing.HEAD, :2].min(axis=0).astype(int) - 25
    x1, y1 = det.image[facing.HEAD, :2].max(axis=0).astype(int) + 25
    hidden[max(y0, 0) : y1, max(x0, 0) : x1] = 114  # the head painted out, as the back of a head shows no face
    with closing(facing.FaceCheck()) as faces:
        assert faces.frontal(rgb, det)
        assert not faces.frontal(hidden, det)


def test_a_facing_flip_is_a_jump_of_the_shoulder_line_and_a_turn_is_not():
    det = type("D", (), {})()
    det.world = np.zeros((33, 3))
    det.world[LM["left_shoulder"]], det.world[LM["right_shoulder"]] = (0.2, 0, 0.0), (-0.2, 0, 0.0)
    front = facing.shoulder_heading(det)
    det.world[LM["left_shoulder"]], det.world[LM["right_shoulder"]] = (-0.2, 0, 0.02), (0.2, 0, -0.02)
    assert facing.turned(front, facing.shoulder_heading(det))  # the labels turned round in one frame
    assert not facing.turned(front, front + np.radians(40))  # a person spinning turns 36-40 degrees a frame
    assert facing.turned(np.radians(170), np.radians(-80))  # across the +-180 degree seam


def test_the_watch_checks_both_frames_of_a_facing_jump_and_no_others():
    rgb = cv2.cvtColor(media.astronaut_frame((320, 240), (160, 120), 200), cv2.COLOR_BGR2RGB)
    with PoseEstimator(static=True) as pose:
        det = pose.detect(rgb)
    turned_round = Detection(world=det.world * [-1.0, 1.0, -1.0], image=det.image, visibility=det.visibility)
    with closing(facing.FlipWatch()) as watch:
        for frame in (det, det, None, turned_round, turned_round):  # a jump across the frame nobody was found in
            watch.add(rgb, frame)
    assert watch.face == [False, True, False, True, False]
