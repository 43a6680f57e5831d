"""MediaPipe Pose (legacy solution; the full landmark model ships in the wheel, the heavy one in npm's @mediapipe/pose)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
LM: dict[str, int] = {name: i for i, name in enumerate(LANDMARK_NAMES)}
NUM_LANDMARKS = len(LANDMARK_NAMES)
BODY = slice(LM["left_shoulder"], None)  # the body's landmarks (0-10 are the face's)
# The torso's sides and the limbs: the bones whose on-screen length gives a person's scale, and their stick figure.
LIMB_BONES: tuple[tuple[int, int], ...] = tuple(
    (LM[a], LM[b])
    for a, b in (
        ("left_shoulder", "right_shoulder"),
        ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"),
    )
)

# MediaPipe world axes (x: image right, y: image down, z: away from the camera) -> the skeleton's
# (+Y up, a person facing the camera faces +Z, their left on +X). A proper rotation (det +1).
MP_TO_SKELETON = np.array([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Detection:
    """One frame's person: world landmarks (skeleton axes, metres, hip-centred), image landmarks, visibility."""

    world: np.ndarray  # (33, 3) metres, skeleton axes
    image: np.ndarray  # (33, 3) x, y in pixels of the upright frame; z MediaPipe's relative depth
    visibility: np.ndarray  # (33,) 0..1


COMPLEXITY = {"full": 1, "heavy": 2}  # the landmark model -> MediaPipe Pose's model_complexity


def landmark_model_path(model: str) -> Path:
    """Where MediaPipe Pose loads the `model` ("full", "heavy") landmark network from: inside its package.

    The wheel ships only the full model; `make setup` (and the GPU worker's image) copy the heavy one there from
    the npm package @mediapipe/pose, since MediaPipe would otherwise try to download it at run time.
    """
    import mediapipe as mp

    return Path(mp.__file__).parent / "modules" / "pose_landmark" / f"pose_landmark_{model}.tflite"


class PoseEstimator:
    """A video-mode MediaPipe Pose that tracks one person across frames (`static`: per image).

    `model` is the landmark network: "full" (shipped with MediaPipe) or "heavy" (about 3x the compute).
    """

    def __init__(
        self,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        static: bool = False,
        model: str = "full",
    ):
        import mediapipe as mp

        if not landmark_model_path(model).is_file():
            raise RuntimeError(f"MediaPipe's {model} pose model is not installed at {landmark_model_path(model)}")

        # smooth_landmarks=False: the clean-up's One Euro filter is the only smoothing, so
        # `smoothing=0` really means raw landmarks and the two filters' lags do not add up.
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static,
            model_complexity=COMPLEXITY[model],
            smooth_landmarks=False,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def detect(self, rgb: np.ndarray) -> Detection | None:
        """Landmarks of the person in an RGB uint8 frame, or None when nobody is found."""
        result = self._pose.process(rgb)
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return None
        h, w = rgb.shape[:2]
        image = np.array([(p.x * w, p.y * h, p.z, p.visibility) for p in result.pose_landmarks.landmark])
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        return Detection(world=world * MP_TO_SKELETON, image=image[:, :3], visibility=np.clip(image[:, 3], 0.0, 1.0))

    def reset(self) -> None:
        """Forget the person being tracked: the next frame starts with a fresh detection."""
        self._pose.reset()

    def close(self) -> None:
        """Free the MediaPipe graph."""
        self._pose.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
