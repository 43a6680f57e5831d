"""The `pose` stage: a video of a person -> a clean BVH of the shared skeleton, a preview video and landmarks."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from chalicelib.contract.jobtypes import STAGE_PARAMS
from container_workers.common import skeleton
from container_workers.common.stage import BadInputError, Output, ProgressFn, StageResult, params_for
from container_workers.gpu_worker.exchange.bvh import ROTATION_ORDER, write_bvh
from container_workers.gpu_worker.mocap import cleanup, facing, tracking
from container_workers.gpu_worker.mocap.estimation import (
    BODY,
    LANDMARK_NAMES,
    LIMB_BONES,
    LM,
    NUM_LANDMARKS,
    PoseEstimator,
)
from container_workers.gpu_worker.mocap.feet import (
    FIRST_PASS_SPEED,
    SIDES,
    detect_contacts,
    flight_lift,
    fold_legs,
    foot_slide,
    ground_flights,
    lock_feet,
    runs,
    stand_on_floor,
    stand_unseen_legs,
    walk_root,
)
from container_workers.gpu_worker.mocap.hands import FINGER_LANDMARKS, HAND_POINTS, HandEstimator, finger_rotations
from container_workers.gpu_worker.mocap.solve import (
    forward_kinematics,
    local_rotations,
    performer_offsets,
    performer_scale,
    solve_world_rotations,
)
from container_workers.gpu_worker.mocap.video import PreviewWriter, VideoReader

MAX_DURATION_SECONDS = 600.0
PREVIEW_MAX_SIDE = 1280
TRACKING_SHARE = 90.0  # percent of the stage's progress spent decoding and tracking
QUEUE_FRAMES = 4


def _too_long() -> BadInputError:
    return BadInputError("VIDEO_TOO_LONG", f"The video is longer than {MAX_DURATION_SECONDS:.0f} seconds.")


# The preview draws the limbs and torso that give the person's scale, plus feet, hands and the head's lines.
PREVIEW_BONES: tuple[tuple[int, int], ...] = LIMB_BONES + tuple(
    (LM[a], LM[b])
    for a, b in (
        ("left_ankle", "left_heel"),
        ("left_heel", "left_foot_index"),
        ("left_ankle", "left_foot_index"),
        ("right_ankle", "right_heel"),
        ("right_heel", "right_foot_index"),
        ("right_ankle", "right_foot_index"),
        ("left_wrist", "left_index"),
        ("right_wrist", "right_index"),
        ("left_ear", "right_ear"),
        ("left_eye", "right_eye"),
    )
)
PREVIEW_POINTS = tuple(sorted({i for bone in PREVIEW_BONES for i in bone} | {LM["nose"]}))


J_INDEX = skeleton.INDEX
_SPEC = STAGE_PARAMS["pose"]  # bounds, defaults and what each param does


@dataclass(frozen=True)
class PoseParams:
    """The stage's validated parameters (defaults from the contract)."""

    smoothing: float = _SPEC["smoothing"].default
    rootMotion: bool = _SPEC["rootMotion"].default
    footLock: bool = _SPEC["footLock"].default
    maxGapSeconds: float = _SPEC["maxGapSeconds"].default
    cameraFovDegrees: float = _SPEC["cameraFovDegrees"].default
    performer: str = _SPEC["performer"].default
    hands: bool = _SPEC["hands"].default
    skeleton: str = _SPEC["skeleton"].default
    poseModel: str = _SPEC["poseModel"].default


def parse_params(params: dict | None) -> PoseParams:
    """The job's params checked and completed by the contract (unknown keys ignored); BadInputError INVALID_PARAMS otherwise."""
    checked = params_for("pose", params)
    try:
        tracking.parse_choice(checked["performer"])
    except ValueError:
        raise BadInputError(
            "INVALID_PARAMS",
            "params.performer must be largest, center, or a box x0,y0,x1,y1 of fractions of the frame (x0<x1, y0<y1).",
        ) from None
    return PoseParams(**{f.name: checked[f.name] for f in fields(PoseParams)})


@dataclass
class Track:
    """Per-frame MediaPipe output for a whole clip (NaN where no person was found)."""

    world: np.ndarray  # (T, 33, 3) metres, skeleton axes, hip-centred
    image: np.ndarray  # (T, 33, 3) pixels x, y and MediaPipe's relative z
    visibility: np.ndarray  # (T, 33)
    detected: np.ndarray  # (T,) bool
    hand_world: np.ndarray | None = None  # (T, 2, 21, 3) left, right hand landmarks, metres, skeleton axes; NaN unseen
    face: np.ndarray | None = None  # (T,) bool: a frontal face was found (checked only where the facing jumped)


class _Worker(threading.Thread):
    """A daemon thread that remembers the exception that ended it."""

    def __init__(self, target: Callable[[], None]):
        super().__init__(daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # handed to the main thread
            self.error = exc


_END = object()


def _put(q: queue.Queue, item: object, stop: threading.Event, peer: threading.Thread | None = None) -> bool:
    """Put unless `stop` is set or `peer` died; False if the item was dropped."""
    while not stop.is_set() and (peer is None or peer.is_alive()):
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(q: queue.Queue, stop: threading.Event, peer: threading.Thread) -> Iterator[Any]:
    """Items until the end marker (or the producer's death)."""
    while True:
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            if peer.is_alive() and not stop.is_set():
                continue
            if q.empty():
                return
            continue
        if item is _END:
            return
        yield item


HAND_BONES = tuple((0 if k == 0 else marks[k - 1], marks[k]) for marks in FINGER_LANDMARKS.values() for k in range(4))


def _draw(
    frame: np.ndarray,
    points: np.ndarray | None,
    visibility: np.ndarray | None,
    scale: float,
    size: tuple[int, int],
    hand_points: np.ndarray | None = None,
) -> np.ndarray:
    """The frame (resized to `size`) with the skeleton drawn over it, or a 'no person' label."""
    if frame.shape[1::-1] != size:
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    thickness = max(2, round(size[1] / 240))
    if points is None:
        cv2.putText(
            frame,
            "no person",
            (10, 10 + 12 * thickness),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thickness,
            (0, 0, 255),
            thickness,
        )
        return frame
    px = np.round(points * scale).astype(np.int32)
    for a, b in PREVIEW_BONES:
        cv2.line(frame, tuple(px[a]), tuple(px[b]), (255, 255, 255), thickness, cv2.LINE_AA)
    for i in PREVIEW_POINTS:
        v = float(visibility[i])
        cv2.circle(frame, tuple(px[i]), thickness + 1, (0, int(255 * v), int(255 * (1 - v))), -1, cv2.LINE_AA)
    for hand in () if hand_points is None else hand_points:
        if np.isnan(hand).any():
            continue
        hx = np.round(hand * scale).astype(np.int32)
        for a, b in HAND_BONES:
            cv2.line(frame, tuple(hx[a]), tuple(hx[b]), (255, 220, 120), max(1, thickness // 2), cv2.LINE_AA)
    return frame


def track_video(
    reader: VideoReader, preview_path: Path, params: PoseParams, progress: ProgressFn
) -> tuple[Track, str, tracking.TrackStats]:
    """Decode, track and draw the preview in one streamed pass (decoder and encoder in their own threads)."""
    info = reader.info
    if info.frame_count and info.frame_count / info.fps > MAX_DURATION_SECONDS * 1.01:
        raise _too_long()
    scale = min(1.0, PREVIEW_MAX_SIDE / max(info.width, info.height))
    size = (2 * max(1, round(info.width * scale / 2)), 2 * max(1, round(info.height * scale / 2)))
    writer = PreviewWriter(preview_path, info.fps, size)
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(QUEUE_FRAMES)
    drawn: queue.Queue = queue.Queue(QUEUE_FRAMES)

    def decode() -> None:
        for bgr in reader.frames():
            if not _put(decoded, (bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)), stop):
                return
        _put(decoded, _END, stop)

    decoder = _Worker(decode)

    def encode() -> None:
        for frame, points, vis, hand_points in _drain(drawn, stop, threading.main_thread()):
            writer.write(_draw(frame, points, vis, scale, size, hand_points))

    encoder = _Worker(encode)
    preview_filter = cleanup.OnlineOneEuro(info.fps, cleanup.one_euro_min_cutoff(params.smoothing))
    half_height = info.height / 2  # the preview filters in half frame heights, roughly metres for a full-body shot
    world, image, vis, detected, hand_world = [], [], [], [], []
    no_hands = np.full((2, HAND_POINTS, 3), np.nan)
    nan33 = np.full((NUM_LANDMARKS, 3), np.nan)
    last_pct = -1
    decoder.start()
    encoder.start()
    try:
        with (
            PoseEstimator(model=params.poseModel) as estimator,
            HandEstimator() if params.hands else nullcontext() as hand_estimator,
            closing(facing.FlipWatch()) as flips,
        ):
            performer = tracking.PerformerTracker(
                estimator, info.width, info.height, info.fps, tracking.parse_choice(params.performer)
            )
            for bgr, rgb in _drain(decoded, stop, decoder):
                if len(detected) >= MAX_DURATION_SECONDS * info.fps:
                    raise _too_long()
                det = performer.detect(rgb)
                detected.append(det is not None)
                world.append(nan33 if det is None else det.world)
                image.append(nan33 if det is None else det.image)
                vis.append(np.zeros(NUM_LANDMARKS) if det is None else det.visibility)
                flips.add(rgb, det)  # where the pose's facing jumps, the face detector says which frame is right
                hand_points = None
                if hand_estimator is not None:
                    found, hand_points = hand_estimator.detect(rgb, det) if det is not None else (no_hands, None)
                    hand_world.append(found)
                if det is None:
                    preview_filter.reset()
                    shown = None
                else:
                    shown = preview_filter(det.image[:, :2] / half_height) * half_height
                if not _put(drawn, (bgr, shown, vis[-1], hand_points), stop, encoder):
                    break
                done = len(detected)
                if info.frame_count:  # each new percent when the container says how long the video is
                    pct = int(TRACKING_SHARE * min(1.0, done / info.frame_count))
                    report = pct != last_pct
                else:  # else a frame count every second of video
                    pct, report = 0, done % max(1, round(info.fps)) == 0
                if report:
                    progress(float(pct), f"tracked {done} frames")
                    last_pct = pct
        _put(drawn, _END, stop, encoder)
        encoder.join()
    finally:
        stop.set()
        decoder.join()
        encoder.join()
        writer.close()
    for worker in (decoder, encoder):
        if worker.error is not None:
            raise worker.error
    if not detected:
        raise BadInputError("UNREADABLE_VIDEO", "The video has no decodable frames.")
    hands = np.array(hand_world) if params.hands else None
    track = Track(
        np.array(world), np.array(image), np.array(vis), np.array(detected), hands, np.array(flips.face, dtype=bool)
    )
    return track, writer.codec, performer.stats


@dataclass
class Motion:
    """The cleaned clip: landmarks, skeleton rotations, root path, contacts and bookkeeping."""

    status: np.ndarray
    gaps: list[cleanup.Gap]
    world: np.ndarray  # cleaned landmarks, (T, 33, 3) metres, hip-centred
    world_rot: np.ndarray  # (T, J, 3, 3)
    root: np.ndarray  # (T, 3) metres of the shared skeleton
    contacts: np.ndarray  # (T, 2)
    scale: float
    collapsed: int  # detected frames whose hips or shoulders collapsed and were refilled
    spun: int  # detected frames where MediaPipe turned the body round and back, refilled
    offsets: np.ndarray | None = None  # the performer's rest offsets (J, 3) metres; None: the standard skeleton


def clean_motion(track: Track, fps: float, width: int, height: int, params: PoseParams) -> Motion:
    """Undo label swaps, fill gaps and collapsed frames, smooth, fix bone lengths, solve rotations, move the root,
    stand on the floor, lock the feet."""
    max_gap = int(round(params.maxGapSeconds * fps))
    image, world, vis, mirrored = cleanup.unswap_sides(
        track.image[..., :2], track.world, track.visibility, track.detected, max_gap, fps, track.face
    )
    hand_world = track.hand_world
    if hand_world is not None:  # each hand's crop followed the wrist of its label: a mirrored wrist swaps them
        hand_world = np.where(mirrored[:, LM["left_wrist"], None, None, None], hand_world[:, ::-1], hand_world)
    world, status, gaps = cleanup.fill_gaps(world, track.detected, max_gap)
    image, _, _ = cleanup.fill_gaps(image, track.detected, max_gap)
    vis, _, _ = cleanup.fill_gaps(vis, track.detected, max_gap)
    world, image, collapsed = cleanup.refill_collapsed(world, image, track.detected, max_gap)
    world, spun = cleanup.refill_spun(world, track.detected, max_gap)
    lengths = cleanup.median_bone_lengths(world, vis)
    frame_ppm = cleanup.smooth(cleanup.pixels_per_metre(image, world, vis)[:, None, None], fps, 1.0, beta=0.0)[:, 0, 0]
    world = cleanup.match_image(world, image, vis, lengths, frame_ppm, fps)
    world = cleanup.smooth_world(cleanup.drop_outliers(world, fps), fps, params.smoothing)
    # 2D smoothing in metres at the person's depth, so the filter behaves as it does on world landmarks.
    ppm = float(np.median(cleanup.pixels_per_metre(image, world, vis)))
    image = cleanup.smooth(image / ppm, fps, params.smoothing) * ppm
    lengths = cleanup.median_bone_lengths(world, vis)
    world = cleanup.constrain_bone_lengths(world, lengths)
    path = cleanup.root_translation(image, world, vis, width, height, fps, params.cameraFovDegrees, params.smoothing)
    world, _ = cleanup.level(world, vis, path, fps)  # MediaPipe leans a person facing the camera towards it
    world = cleanup.constrain_bone_lengths(world, lengths)
    named = dict(zip(cleanup.BONE_TREE, lengths))
    scale = performer_scale(
        {
            "torso": named[(cleanup.HIP_MID, cleanup.SHOULDER_MID)],
            "thigh": 0.5 * (named[(LM["left_hip"], LM["left_knee"])] + named[(LM["right_hip"], LM["right_knee"])]),
            "shin": 0.5 * (named[(LM["left_knee"], LM["left_ankle"])] + named[(LM["right_knee"], LM["right_ankle"])]),
        }
    )
    G = stand_unseen_legs(solve_world_rotations(world), vis, image, width, height, fps)
    own = params.skeleton == "performer"
    offsets = performer_offsets(named_lengths(lengths), scale) if own else None
    if params.rootMotion:  # in the standard skeleton's steps unless the skeleton is the performer's own
        root = path / (1.0 if own else scale)
    else:
        root = np.zeros((len(world), 3))
    lift = flight_lift(G, root, fps, offsets) if params.rootMotion else np.zeros(len(root))
    height = cleanup.hip_height(image, world, vis, fps, params.smoothing) / (1.0 if own else scale)
    G, root = fold_legs(G, root, height, fps, offsets)  # knees as bent as the image's hip height says
    root = stand_on_floor(G, root, offsets)
    air = np.stack([np.zeros_like(lift), lift, np.zeros_like(lift)], axis=1)  # jumps leave the floor
    contacts = np.zeros((len(world), 2), dtype=bool)
    if params.footLock:
        if params.rootMotion:  # the feet on the floor move the body; then find the contacts again on that path
            first = detect_contacts(G, root + air, fps, FIRST_PASS_SPEED, offsets)
            root = walk_root(G, root, first, fps, offsets)
        contacts = detect_contacts(G, root + air, fps, offsets=offsets)
        air[:, 1] = ground_flights(lift, contacts)
        G, root = lock_feet(G, root, contacts, fps, offsets)
    root = root + air
    if hand_world is not None:
        G = np.concatenate([G, _finger_rotations(hand_world, G, fps, max_gap, params.smoothing)], axis=1)
    if offsets is not None and hand_world is not None:  # fingers scale with the forearm
        fingers = skeleton.offsets(hands=True)[len(skeleton.NAMES) :]
        hand = J_INDEX["LeftHand"]
        ratio = np.linalg.norm(offsets[hand]) / np.linalg.norm(skeleton.offsets()[hand])
        offsets = np.concatenate([offsets, fingers * ratio])
    return Motion(status, gaps, world, G, root, contacts, scale, collapsed, spun, offsets)


def named_lengths(lengths: np.ndarray) -> dict[tuple[str, str], float]:
    """Measured landmark bone lengths keyed by their ends' names ("left_hip", "left_knee")."""
    names = {**{i: n for n, i in LM.items()}, cleanup.HIP_MID: "hip_mid", cleanup.SHOULDER_MID: "shoulder_mid"}
    return {(names[a], names[b]): float(v) for (a, b), v in zip(cleanup.BONE_TREE, lengths)}


def _finger_rotations(hand_world: np.ndarray, G: np.ndarray, fps: float, max_gap: int, smoothing: float) -> np.ndarray:
    """World rotations (T, 30, 3, 3) of both hands' finger joints; the hands themselves are turned in G (in place).

    Each hand's landmarks have their gaps filled and are smoothed like the body's; a hand never seen keeps its
    fingers straight.
    """
    out = []
    for k, side in enumerate(SIDES):
        seen = ~np.isnan(hand_world[:, k]).any(axis=(1, 2))
        hand = J_INDEX[f"{side}Hand"]
        if not seen.any():
            out.append(np.repeat(G[:, hand, None], 15, axis=1))
            continue
        points, _, _ = cleanup.fill_gaps(hand_world[:, k], seen, max_gap)
        points = cleanup.smooth(points, fps, smoothing)
        G[:, hand], fingers = finger_rotations(points, G[:, hand], side)
        out.append(fingers)
    return np.concatenate(out, axis=1)


def _contact_runs(mask: np.ndarray) -> list[list[int]]:
    return [[int(a), int(b)] for a, b in runs(mask)]


def _frames_json(rows: np.ndarray, digits: int, present: np.ndarray | None = None) -> Iterator[str]:
    """A (T, ...) array as a JSON list, one frame at a time (null where `present` is False)."""
    yield "["
    for t, row in enumerate(rows):
        yield ("," if t else "") + (
            json.dumps(np.round(row, digits).tolist()) if present is None or present[t] else "null"
        )
    yield "]"


def write_landmarks(
    path: Path, track: Track, motion: Motion, joints: np.ndarray, fps: float, width: int, height: int
) -> None:
    """landmarks.json: raw MediaPipe output and the cleaned landmarks and joints, with confidences (streamed to disk)."""
    head = {
        "version": 1,
        "fps": fps,
        "frames": len(track.detected),
        "width": width,
        "height": height,
        "landmarkNames": list(LANDMARK_NAMES),
        "jointNames": list(skeleton.names(hands=track.hand_world is not None)),
        "frameStatus": [cleanup.STATUS_NAMES[s] for s in motion.status],
        "confidence": np.round(np.where(track.detected, track.visibility[:, BODY].mean(axis=1), 0.0), 3).tolist(),
        "contacts": {f"{side}Foot": _contact_runs(motion.contacts[:, k]) for k, side in enumerate(SIDES)},
        "gaps": [{"startFrame": g.start, "endFrame": g.end, "flagged": g.flagged} for g in motion.gaps],
    }
    raw_image = np.concatenate([track.image, track.visibility[..., None]], axis=-1)
    with path.open("w") as fh:
        fh.write(json.dumps(head, separators=(",", ":"))[:-1])
        fh.write(',"raw":{"image":')
        fh.writelines(_frames_json(raw_image, 2, track.detected))
        fh.write(',"world":')
        fh.writelines(_frames_json(track.world, 4, track.detected))
        fh.write('},"cleaned":{"world":')
        fh.writelines(_frames_json(motion.world, 4))
        fh.write(',"joints":')
        fh.writelines(_frames_json(joints, 4))
        fh.write("}}")


def pose(inputs: dict[str, Path], params: dict, workdir: Path, progress: ProgressFn) -> StageResult:
    """Motion capture: `inputs["video"]` -> motion.bvh (role bvh), preview.mp4 (role preview), landmarks.json (role landmarks)."""
    settings = parse_params(params)
    video = inputs.get("video")
    if video is None or not Path(video).is_file():
        raise BadInputError("MISSING_INPUT", "The stage needs a video file as input 'video'.")
    workdir.mkdir(parents=True, exist_ok=True)
    bvh, preview, landmarks = workdir / "motion.bvh", workdir / "preview.mp4", workdir / "landmarks.json"
    progress(0.0, "opening video")
    with VideoReader(Path(video)) as reader:
        info = reader.info
        track, codec, tracked = track_video(reader, preview, settings, progress)
    if not track.detected.any():
        raise BadInputError("NO_PERSON_DETECTED", "No person was found in any frame of the video.")
    progress(TRACKING_SHARE + 2, "cleaning up the motion")
    motion = clean_motion(track, info.fps, info.width, info.height, settings)
    joints = forward_kinematics(motion.world_rot, motion.root, motion.offsets)
    body_offsets = None if motion.offsets is None else motion.offsets[: len(skeleton.NAMES)]
    progress(TRACKING_SHARE + 6, "writing BVH and landmarks")
    write_bvh(bvh, local_rotations(motion.world_rot), motion.root, info.fps, motion.offsets)
    write_landmarks(landmarks, track, motion, joints, info.fps, info.width, info.height)
    frames = len(track.detected)
    fps = info.fps
    metadata = {
        "frames": frames,
        "fps": round(fps, 4),
        "durationSeconds": round(frames / fps, 3),
        "width": info.width,
        "height": info.height,
        "rotation": info.rotation,
        "detectedFrames": int(track.detected.sum()),
        "interpolatedFrames": int((motion.status == cleanup.INTERPOLATED).sum()),
        "heldFrames": int((motion.status == cleanup.HELD).sum()),
        "collapsedFrames": motion.collapsed,
        "spunFrames": motion.spun,
        "flaggedGaps": [
            {
                "startFrame": g.start,
                "endFrame": g.end,
                "startSeconds": round(g.start / fps, 3),
                "endSeconds": round((g.end + 1) / fps, 3),
            }
            for g in motion.gaps
            if g.flagged
        ],
        "peopleAtStart": tracked.people,
        "otherPersonFrames": tracked.refused,
        "handFrames": None
        if track.hand_world is None
        else {f"{side}Hand": int((~np.isnan(track.hand_world[:, k, 0, 0])).sum()) for k, side in enumerate(SIDES)},
        "meanConfidence": round(float(track.visibility[track.detected, BODY].mean()), 3),
        "performerScale": round(motion.scale, 3),
        "footContacts": {f"{side}Foot": len(_contact_runs(motion.contacts[:, k])) for k, side in enumerate(SIDES)},
        "maxFootSlideCm": round(
            100 * foot_slide(motion.world_rot[:, : len(skeleton.NAMES)], motion.root, motion.contacts, body_offsets), 2
        ),
        "rootTravelMetres": round(float(np.linalg.norm(np.diff(motion.root[:, [0, 2]], axis=0), axis=1).sum()), 3),
        "bvhRotationOrder": ROTATION_ORDER,
        "previewCodec": codec,
        "params": asdict(settings),
    }
    progress(100.0, "done")
    return StageResult(
        outputs=[
            Output(path=bvh, kind="ANIMATION", role="bvh"),
            Output(path=preview, kind="VIDEO", role="preview"),
            Output(path=landmarks, kind="ANIMATION", role="landmarks"),
        ],
        metadata=metadata,
    )
