"""Motion-capture quality against known motion: render clips of a textured figure, run the pose stage, compare.

Run from the repo root:
.venv/bin/python -m bench.mocap_quality.run [--clips walk,run,...] [--work DIR] [--fresh] [--reuse-tracking]
[--model heavy]

Each clip's truth is a motion from motions.py played by an avatar with fingers (figure.py), rendered by Blender
(render.py, in its own process; cached in --work). Raw MediaPipe (Pose on the full frame, no clean-up) is scored
on the same frames beside the stage's joints. The stage runs as `pose` does: tracking (`track_video`), then
clean-up (`clean_motion`); both MediaPipe passes are saved in --work, and --reuse-tracking reads them back so
only the clean-up runs (for trying clean-up variants on the same renders). --model heavy runs MediaPipe's
heavy landmark model, in raw MediaPipe and in the stage alike. Prints a markdown table; writes results.json to
--work.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bench.mocap_quality import figure, metrics, motions
from chalicelib.contract.jobtypes import POSE_MODELS
from container_workers.common import skeleton
from container_workers.gpu_worker.exchange.bvh import write_bvh
from container_workers.gpu_worker.mocap import feet
from container_workers.gpu_worker.mocap.estimation import PoseEstimator
from container_workers.gpu_worker.mocap.solve import forward_kinematics
from container_workers.gpu_worker.mocap.stage import Motion, Track, clean_motion, parse_params, track_video
from container_workers.gpu_worker.mocap.video import VideoReader

ROOT = Path(__file__).resolve().parents[2]
FPS = motions.FPS
PERFORMER = ("a man in a red t-shirt, blue jeans and white sneakers, short black hair", 3)
PASSER_BY = ("a woman in a green jacket, black trousers and brown boots, long blond hair", 11)
FULL_BODY = (0.0, 1.0, 4.3, 0.0)  # cameras: position (glTF axes, metres), then pitch (degrees down)
UPPER_BODY = (0.0, 1.4, 1.4, 0.0)
HIGH = (0.0, 1.7, 4.3, 10.0)  # at eye height, looking down at the hips


@dataclass(frozen=True)
class Clip:
    """One rendered clip: the performer's motion, the camera, the stage params, and maybe a second person."""

    motion: str
    camera: tuple[float, float, float, float] = FULL_BODY
    params: dict = field(default_factory=dict)
    passer_by: str = ""  # a second person: "across" (jogging across in front), "behind" (across behind), "beside"


CLIPS: dict[str, Clip] = {
    "walk": Clip("walk"),
    "walk-own-skeleton": Clip("walk", params={"skeleton": "performer"}),
    "run": Clip("run"),
    "jump": Clip("jump"),
    "backflip": Clip("backflip"),
    "turn": Clip("turn"),
    "squat": Clip("squat"),
    "wave": Clip("wave"),
    "hands": Clip("hands", UPPER_BODY, {"hands": True}),
    "two-people": Clip("walk", passer_by="across"),
    **{view: Clip(view) for view in motions.VIEWS},
    "jump-high": Clip("jump", HIGH),
    "walk-toward-high": Clip("walk-toward", HIGH),
    "two-people-behind": Clip("walk", passer_by="behind"),
    "jump-beside": Clip("jump", passer_by="beside"),
}


def _passer_by_motion(kind: str, offsets: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A second person: jogging across the frame 1.2 m in front of the performer ("across") or 1.5 m behind them
    ("behind"), or waving 1.1 m to their right and 0.4 m further back ("beside")."""
    if kind == "beside":
        R, root = motions.wave(offsets, seconds=frames / FPS)
        return R, root + np.array([-1.1, 0.0, -0.4])
    R, root = motions.run(offsets, heading=90.0, seconds=frames / FPS)
    root = root.copy()
    root[:, 0] = np.linspace(-4.5, 3.5, frames)
    root[:, 2] = 1.2 if kind == "across" else -1.5
    return R, root


def render_clip(name: str, clip: Clip, work: Path, fresh: bool) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """(video, truth local rotations, truth Hips path, figure offsets); the video is rendered unless cached."""
    same = next(
        n for n, c in CLIPS.items() if (c.motion, c.camera, c.passer_by) == (clip.motion, clip.camera, clip.passer_by)
    )
    video = work / f"{same}.mp4"  # clips that differ only in the stage's params share one render
    cached = work / "performer.offsets.npy"  # the figure's proportions: scoring a rendered clip needs no avatar
    if fresh or not video.exists() or not cached.exists():
        meshes, rig, offsets = figure.build_figure(*PERFORMER)
        np.save(cached, offsets)
    offsets = np.load(cached)
    R, root = motions.MOTIONS[clip.motion](offsets)
    write_bvh(work / f"{name}.truth.bvh", R, root, FPS)
    if fresh or not video.exists():
        glbs = [figure.write_animated(work / f"{name}.glb", meshes, rig, R, root, FPS)]
        if clip.passer_by:
            meshes2, rig2, offsets2 = figure.build_figure(*PASSER_BY)
            R2, root2 = _passer_by_motion(clip.passer_by, offsets2, len(R))
            glbs.append(figure.write_animated(work / f"{name}.passer-by.glb", meshes2, rig2, R2, root2, FPS))
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "bench.mocap_quality.render", str(video), str(FPS), str(len(R))]
            + [",".join(map(str, clip.camera))]
            + [str(p) for p in glbs],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(f"rendered {name}: {len(R)} frames in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return video, R, root, offsets


def raw_mediapipe(video: Path, cache: Path, reuse: bool, model: str) -> np.ndarray:
    """MediaPipe Pose world landmarks per frame (T, 33, 3), skeleton axes, NaN where nobody was found (saved in cache)."""
    if reuse and cache.exists():
        return np.load(cache)
    out = []
    capture = cv2.VideoCapture(str(video))
    with PoseEstimator(model=model) as estimator:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            det = estimator.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            out.append(np.full((33, 3), np.nan) if det is None else det.world)
    capture.release()
    np.save(cache, np.array(out))
    return np.array(out)


def run_stage(video: Path, params: dict, cache: Path, reuse: bool) -> Motion:
    """The pose stage's cleaned motion: tracking (saved in cache, read back with reuse), then the clean-up."""
    settings = parse_params(params)
    with VideoReader(video) as reader:
        info = reader.info
        if reuse and cache.exists():
            saved = np.load(cache)
            track = Track(*(saved[k] for k in ("world", "image", "visibility", "detected")))
            track.hand_world, track.face = saved.get("hand_world"), saved.get("face")
        else:
            track, _, _ = track_video(reader, cache.with_suffix(".preview.mp4"), settings, lambda pct, msg: None)
            extra = {} if track.hand_world is None else {"hand_world": track.hand_world}
            np.savez(
                cache,
                world=track.world,
                image=track.image,
                visibility=track.visibility,
                detected=track.detected,
                face=track.face,
                **extra,
            )
    return clean_motion(track, info.fps, info.width, info.height, settings)


def raw_hands(video: Path, cache: Path, reuse: bool) -> np.ndarray:
    """MediaPipe Hands (video mode, two hands) on the full frame: world landmarks (T, 2, 21, 3), left then right (saved)."""
    import mediapipe as mp

    if reuse and cache.exists():
        return np.load(cache)

    out = []
    capture = cv2.VideoCapture(str(video))
    with mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=2) as model:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            result = model.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            frame = np.full((2, 21, 3), np.nan)
            for marks, label in zip(result.multi_hand_world_landmarks or [], result.multi_handedness or []):
                k = 0 if label.classification[0].label == "Right" else 1  # its labels assume a mirrored (selfie) image
                frame[k] = [(p.x, p.y, p.z) for p in marks.landmark]
            out.append(frame)
    capture.release()
    np.save(cache, np.array(out))
    return np.array(out)


def finger_scores(raw: np.ndarray, joints: np.ndarray, truth_all: np.ndarray) -> dict:
    """Mean finger bend error (degrees) of raw full-frame MediaPipe Hands (`raw`) and of the stage, and hands seen."""
    want = metrics.finger_angles_skeleton(truth_all)
    raw_err = []
    for k in range(2):
        seen = ~np.isnan(raw[:, k]).any(axis=(1, 2))
        if seen.any():
            raw_err.append(np.abs(metrics.finger_angles_landmarks(raw[seen, k]) - want[seen, k]).mean())
    got = metrics.finger_angles_skeleton(joints)
    return {
        "rawDeg": round(float(np.mean(raw_err)), 1) if raw_err else None,
        "rawSeen": round(float((~np.isnan(raw).any(axis=(2, 3))).mean()), 2),
        "stageDeg": round(float(np.abs(got - want).mean()), 1),
        "truthMeanBendDeg": round(float(want.mean()), 1),
    }


def _fill(p: np.ndarray) -> np.ndarray:
    """Frames with NaN take the nearest frame's values (raw MediaPipe has gaps)."""
    ok = ~np.isnan(p).any(axis=(1, 2))
    idx = np.where(ok, np.arange(len(p)), 0)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(ok))
    idx[:first] = first
    return p[idx]


def score(points: np.ndarray, truth: np.ndarray, fps: float) -> dict:
    """PA-MPJPE (mm) overall and per joint, elbow/knee angle error and lean (degrees) and jitter of 12 limb points."""
    err = metrics.pa_errors(points, truth)
    per_part = {
        metrics.PART_LABEL[part]: round(
            1000 * float(err[:, [metrics.JOINTS.index(f"{s}{part}") for s in metrics.SIDES]].mean()), 1
        )
        for part in metrics.PARTS
    }
    got, want = metrics.hinge_angles(points), metrics.hinge_angles(truth)
    angle = {k: float(np.abs(got[k] - want[k]).mean()) for k in got}
    return {
        "paMpjpeMm": round(1000 * float(err.mean()), 1),
        "perJointMm": per_part,
        "elbowDeg": round(np.mean([angle["Left elbow"], angle["Right elbow"]]), 1),
        "kneeDeg": round(np.mean([angle["Left knee"], angle["Right knee"]]), 1),
        "kneeBiasDeg": round(float(np.mean([(got[k] - want[k]).mean() for k in ("Left knee", "Right knee")])), 1),
        "leanDeg": round(metrics.lean(points, truth), 1),
        "jitter": metrics.jitter(points, fps),
    }


def evaluate(name: str, clip: Clip, work: Path, fresh: bool, reuse: bool, model: str) -> dict:
    """Render (or reuse) one clip, run raw MediaPipe and the stage on it with `model`, and score both against the truth."""
    video, R, root, offsets = render_clip(name, clip, work, fresh)
    tag = "" if model == "full" else f".{model}"  # the MediaPipe passes are cached per model
    truth_all = motions.joint_positions(R, root, offsets)
    truth = truth_all[:, metrics.JOINT_INDEX]
    raw = raw_mediapipe(video, work / f"{name}{tag}.raw.npy", reuse and not fresh, model)
    detected = ~np.isnan(raw).any(axis=(1, 2))
    started = time.monotonic()
    motion = run_stage(video, {**clip.params, "poseModel": model}, work / f"{name}{tag}.track.npz", reuse and not fresh)
    stage_seconds = time.monotonic() - started
    joints = forward_kinematics(motion.world_rot, motion.root, motion.offsets)
    truth_jitter = metrics.jitter(truth, FPS)
    raw_score = score(_fill(raw)[:, metrics.LANDMARK_INDEX], truth, FPS)
    out_score = score(joints[:, metrics.JOINT_INDEX], truth, FPS)
    for s in (raw_score, out_score):
        s["jitterRatio"] = round(s.pop("jitter") / truth_jitter, 2)
    body = len(skeleton.NAMES)
    body_offsets = None if motion.offsets is None else motion.offsets[:body]
    slide = metrics.support_slide(feet.sole_points(motion.world_rot[:, :body], joints[:, :body], body_offsets), FPS)
    soles = motions.sole_points(R, root, offsets)
    truth_slide = metrics.support_slide(soles, FPS)
    low = soles[..., 1].min(axis=2)
    speed = np.linalg.norm(np.gradient(soles.mean(axis=2)[..., [0, 2]], axis=0), axis=-1) * FPS
    truth_contact = (low < 0.03) & (speed < 0.3)
    height = float(truth_all[:, :, 1].max() - truth_all[:, :, 1].min())
    frames = len(joints)
    fingers = None
    if clip.params.get("hands"):
        fingers = finger_scores(raw_hands(video, work / f"{name}.hands.npy", reuse and not fresh), joints, truth_all)
    return {
        "fingers": fingers,
        "clip": name,
        "frames": frames,
        "rawDetected": round(float(detected.mean()), 3),
        "raw": raw_score,
        "stage": {
            **out_score,
            "slideMedianCmS": round(100 * float(np.median(slide)), 1),
            "slideOver5": round(float((slide > metrics.SLIDE_LIMIT).mean()), 2),
            "contactShare": [round(float(motion.contacts[:, k].mean()), 2) for k in range(len(metrics.SIDES))],
            "pathErrCm": round(100 * metrics.path_error(joints[:, metrics.JOINT_INDEX], truth), 1),
            "rootJumps": metrics.root_jumps(joints[:, 0], max(height, 1.5)),
            "maxRootStepM": round(float(np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=-1).max()), 3),
            "seconds": round(stage_seconds, 1),
            "flaggedGaps": sum(g.flagged for g in motion.gaps),
        },
        "truth": {
            "slideMedianCmS": round(100 * float(np.median(truth_slide)), 1),
            "contactShare": [round(float(truth_contact[:, k].mean()), 2) for k in range(2)],
        },
    }


def _fingers(f: dict | None) -> str:
    return "" if f is None else f"{f['rawDeg']} / {f['stageDeg']}"


def table(results: list[dict]) -> str:
    """The markdown table of results (raw MediaPipe | stage) per clip."""
    head = (
        "| clip | PA-MPJPE mm raw / stage | wrist mm | elbow ° err | knee ° err (bias) | lean ° | jitter x truth "
        "| support-foot slide cm/s median (>5 cm/s) | contact share L/R (truth) | root path err cm | root jumps "
        "| finger ° err raw / stage |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    )
    rows = []
    for r in results:
        a, b, t = r["raw"], r["stage"], r["truth"]
        rows.append(
            f"| {r['clip']} | {a['paMpjpeMm']} / **{b['paMpjpeMm']}** "
            f"| {a['perJointMm']['wrist']} / {b['perJointMm']['wrist']} "
            f"| {a['elbowDeg']} / {b['elbowDeg']} | {a['kneeDeg']} ({a['kneeBiasDeg']:+}) / {b['kneeDeg']} "
            f"({b['kneeBiasDeg']:+}) | {a['leanDeg']} / {b['leanDeg']} | {a['jitterRatio']} / {b['jitterRatio']} "
            f"| {b['slideMedianCmS']} ({100 * b['slideOver5']:.0f} %) | {b['contactShare'][0]:.2f}/"
            f"{b['contactShare'][1]:.2f} ({t['contactShare'][0]:.2f}/{t['contactShare'][1]:.2f}) "
            f"| {b['pathErrCm']} | {b['rootJumps']} | {_fingers(r['fingers'])} |"
        )
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    """Render, run and score the chosen clips; print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default=",".join(CLIPS))
    parser.add_argument("--work", default="/tmp/mocap_quality")
    parser.add_argument("--fresh", action="store_true", help="render the clips again")
    parser.add_argument("--model", default="full", choices=POSE_MODELS, help="MediaPipe's pose landmark model")
    parser.add_argument(
        "--reuse-tracking", action="store_true", help="reuse the saved MediaPipe passes: run only the clean-up"
    )
    parser.add_argument("--fps", type=float, default=motions.FPS, help="render and score at this frame rate instead")
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.fps != motions.FPS:  # the motions are sampled, and the clips rendered, at the module's rate
        global FPS
        motions.FPS = FPS = args.fps
        work = work / f"fps{args.fps:g}"
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.clips.split(","):
        results.append(evaluate(name, CLIPS[name], work, args.fresh, args.reuse_tracking, args.model))
        print(json.dumps(results[-1]), file=sys.stderr)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
