"""Benchmark of the mocap `pose` stage: its fps vs raw MediaPipe on the same frames, and RSS over a 2-minute 720p clip.

Run from the repo root: .venv/bin/python bench/mocap/bench_pose.py [--fps-seconds 10] [--memory-seconds 120]
[--model heavy] (raw MediaPipe and the stage both run that landmark model)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SIZE = (1280, 720)
FPS = 30.0


def make_clip(path: Path, seconds: float) -> Path:
    """A 720p clip of scikit-image's astronaut (a person) drifting across the frame, encoded with mp4v."""
    person = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    frames = int(seconds * FPS)
    for i in range(frames):
        t = i / FPS
        m = cv2.getRotationMatrix2D((256.0, 256.0), 8 * np.sin(0.7 * t), 600 / 512)
        m[:, 2] += (640 + 300 * np.sin(0.25 * t) - 256, 360 - 256)
        writer.write(cv2.warpAffine(person, m, SIZE, borderValue=(70, 80, 90)))
    writer.release()
    return path


def raw_mediapipe_seconds(video: Path, model: str) -> tuple[float, int]:
    """Seconds spent inside MediaPipe's Pose.process alone (decoding not counted) and the frame count."""
    import mediapipe as mp

    from container_workers.gpu_worker.mocap.estimation import COMPLEXITY

    pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=COMPLEXITY[model], smooth_landmarks=False)
    cap = cv2.VideoCapture(str(video))
    spent, frames = 0.0, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        pose.process(rgb)
        spent += time.perf_counter() - start
        frames += 1
    pose.close()
    return spent, frames


def stage_seconds(video: Path, workdir: Path, params: dict | None = None) -> tuple[float, float, dict]:
    """Wall seconds of the whole stage (model load, decode, track, preview, clean-up, outputs), seconds per
    frame in its steady tracking phase (first to last tracked frame), and its metadata."""
    from container_workers.gpu_worker.mocap.stage import pose

    tracked: list[tuple[float, int]] = []

    def progress(_pct: float, msg: str) -> None:
        if msg.startswith("tracked "):
            tracked.append((time.perf_counter(), int(msg.split()[1])))

    start = time.perf_counter()
    result = pose({"video": video}, params or {}, workdir, progress)
    whole = time.perf_counter() - start
    (t0, f0), (t1, f1) = tracked[0], tracked[-1]
    return whole, (t1 - t0) / (f1 - f0), result.metadata


def status_mib(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak since exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def memory_child(video: str, workdir: str) -> None:
    """In a fresh process: run the stage, sampling RSS as tracking progresses; print JSON."""
    from container_workers.gpu_worker.mocap.stage import pose

    samples: list[tuple[float, float]] = []

    def progress(pct: float, _msg: str) -> None:
        if not samples or pct >= samples[-1][0] + 10 or pct == 100:
            samples.append((pct, round(status_mib("VmRSS"), 1)))

    pose({"video": Path(video)}, {}, Path(workdir), progress)
    print(json.dumps({"rssByProgress": samples, "peakMiB": round(status_mib("VmHWM"), 1)}))


def memory_run(video: Path, workdir: Path) -> dict:
    """memory_child in a subprocess so each clip's peak RSS is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(video), str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(frames: int, seconds: list[float]) -> str:
    """Each round's frames per second."""
    return ", ".join(f"{frames / s:.1f}" for s in seconds)


def main() -> None:
    """Run both measurements and print a summary."""
    from chalicelib.contract.jobtypes import POSE_MODELS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fps-seconds", type=float, default=10.0, help="length of the clip for the fps comparison")
    parser.add_argument(
        "--memory-seconds", type=float, default=120.0, help="length of the long clip for the RSS check (0: skip it)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw/stage rounds; the best of each is kept")
    parser.add_argument("--hands", action="store_true", help="also time the stage with hands: true (one round)")
    parser.add_argument("--model", default="full", choices=POSE_MODELS, help="the pose landmark model")
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        short = make_clip(tmp / "short.mp4", args.fps_seconds)
        raw, stage, steady, cpu_raw, cpu_stage = [], [], [], [], []
        for r in range(args.rounds):
            c0 = os.times()
            spent, frames = raw_mediapipe_seconds(short, args.model)
            c1 = os.times()
            seconds, per_frame, meta = stage_seconds(short, tmp / f"stage{r}", {"poseModel": args.model})
            c2 = os.times()
            raw.append(spent)
            stage.append(seconds)
            steady.append(per_frame)
            cpu_raw.append((c1.user + c1.system - c0.user - c0.system) / frames)
            cpu_stage.append((c2.user + c2.system - c1.user - c1.system) / frames)
        best_raw = min(raw) / frames
        print(f"pose model: {args.model}")
        print(f"load average (other processes share these {os.cpu_count()} cores): {os.getloadavg()[0]:.2f}")
        print(
            f"fps clip: {frames} frames {SIZE[0]}x{SIZE[1]}, detected {meta['detectedFrames']}, preview codec {meta['previewCodec']}"
        )
        print(f"raw MediaPipe Pose.process alone:    {1 / best_raw:6.1f} fps  (rounds: {fmt(frames, raw)})")
        print(
            f"stage, steady tracking phase:        {1 / min(steady):6.1f} fps  (rounds: {fmt(1, steady)})"
            f"  overhead {100 * (min(steady) / best_raw - 1):+.1f}%"
        )
        print(
            f"stage, whole (model load + outputs): {frames / min(stage):6.1f} fps  (rounds: {fmt(frames, stage)})"
            f"  overhead {100 * (min(stage) / frames / best_raw - 1):+.1f}%"
        )
        print(
            f"CPU ms per frame: raw loop (decode+convert+process) {1000 * min(cpu_raw):.1f}, whole stage {1000 * min(cpu_stage):.1f}"
        )

        if args.hands:
            seconds, per_frame, meta = stage_seconds(short, tmp / "hands", {"hands": True})
            print(
                f"stage with hands: true, steady:      {1 / per_frame:6.1f} fps  overhead {100 * (per_frame / best_raw - 1):+.1f}%"
                f"  (hands found in {meta['handFrames']} of {frames} frames)"
            )
        if args.memory_seconds <= 0:
            return
        small = memory_run(short, tmp / "mem_short")
        long_clip = make_clip(tmp / "long.mp4", args.memory_seconds)
        start = time.perf_counter()
        big = memory_run(long_clip, tmp / "mem_long")
        elapsed = time.perf_counter() - start
        print(f"memory, {args.fps_seconds:g} s clip: peak RSS {small['peakMiB']} MiB")
        print(
            f"memory, {args.memory_seconds:g} s clip: peak RSS {big['peakMiB']} MiB ({elapsed:.0f} s in a fresh process)"
        )
        print(
            "RSS (MiB) as tracking progresses (% -> MiB): "
            + ", ".join(f"{p:.0f}->{m}" for p, m in big["rssByProgress"])
        )


if __name__ == "__main__":
    main()
