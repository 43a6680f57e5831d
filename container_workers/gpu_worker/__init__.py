"""The GPU worker: MediaPipe and OpenCV stages, grouped by feature (mocap/, image_to_3d/, avatar/; exchange/ holds the file formats)."""
