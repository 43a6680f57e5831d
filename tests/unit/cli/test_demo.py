"""The demo's made-up video (a person moving left to right) and its choice of outputs."""

import cv2
import numpy as np
import pytest

from ai3d.client import CliError
from ai3d.demo import BACKGROUND_BGR, person_frames, pick_output, write_video


def test_the_person_moves_across_the_frame(tmp_path):
    frames = list(person_frames())
    assert len(frames) == 75 and frames[0].shape == (240, 320, 3)
    xs = []
    for frame in frames[::10]:
        person = np.any(np.abs(frame.astype(int) - BACKGROUND_BGR) > 12, axis=2)
        xs.append(np.nonzero(person)[1].mean())
    assert xs == sorted(xs) and xs[-1] - xs[0] > 80
    video = write_video(tmp_path / "walk.mp4", frames)
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 75 and capture.get(cv2.CAP_PROP_FPS) == 30
    capture.release()


def test_pick_output_prefers_formats_in_order():
    job = {
        "id": "j",
        "outputs": [
            {"kind": "ANIMATION", "format": "json", "role": "landmarks"},
            {"kind": "ANIMATION", "format": "glb", "role": "glb"},
            {"kind": "ANIMATION", "format": "bvh", "role": "bvh"},
        ],
    }
    assert pick_output(job, ("ANIMATION",), ("bvh", "glb"))["role"] == "bvh"
    assert pick_output(job, ("ANIMATION",), ("fbx", "glb"))["role"] == "glb"
    with pytest.raises(CliError):
        pick_output(job, ("MODEL_3D",), ("glb",))
