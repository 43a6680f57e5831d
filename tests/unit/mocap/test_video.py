"""Video decoding: rotation metadata is honoured, bad files are refused, the preview codec works."""

from __future__ import annotations

import cv2
import media
import numpy as np
import pytest

from container_workers.common.stage import BadInputError
from container_workers.gpu_worker.mocap.video import PreviewWriter, VideoReader

TURN_STORED = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_frames_come_out_upright_when_the_file_says_to_rotate_them(tmp_path, degrees):
    upright = np.zeros((240, 320, 3), np.uint8)
    upright[:40, :80] = (0, 0, 255)  # a red block in the top-left corner
    path = media.write_video(tmp_path / "phone.mp4", [cv2.rotate(upright, TURN_STORED[degrees])] * 3)
    media.set_rotation(path, degrees)
    with VideoReader(path) as reader:
        frames = list(reader.frames())
        assert (reader.info.width, reader.info.height, reader.info.rotation) == (320, 240, degrees)
    assert len(frames) == 3
    ys, xs = np.nonzero(frames[0][:, :, 2] > 128)
    assert xs.max() < 90 and ys.max() < 50


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, bytes(range(256)) * 64])
def test_unreadable_files_are_bad_input(tmp_path, content):
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as err:
        VideoReader(path)
    assert err.value.code == "UNREADABLE_VIDEO"


def test_preview_writer_produces_a_browser_playable_h264_mp4(tmp_path):
    writer = PreviewWriter(tmp_path / "p.mp4", 25.0, (161, 121))  # odd sizes are padded for yuv420p
    for i in range(10):
        writer.write(np.full((121, 161, 3), 20 * i, np.uint8))
    writer.close()
    cap = cv2.VideoCapture(str(tmp_path / "p.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 10 and cap.get(cv2.CAP_PROP_FPS) == 25.0
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc in ("avc1", "h264")
    data = (tmp_path / "p.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: playable while downloading
