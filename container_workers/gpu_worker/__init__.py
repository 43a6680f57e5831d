"""The GPU worker: MediaPipe and OpenCV stages (motion capture's `pose` stage lives in pose_capture.py)."""
