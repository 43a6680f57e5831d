"""`make demo`: a demo user uploads a clip of a person walking, captures its motion, makes an avatar and animates it."""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
from skimage import data

from ai3d.cli import Output, download_outputs, follow_job, upload_file
from ai3d.client import DEFAULT_API, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE, Client, CliError, TokenStore

BACKGROUND_BGR = (70, 80, 90)
AVATAR_PROMPT = "a friendly astronaut in a white suit with short brown hair"
# 4.5 s of a textured person walking across a room, whole body in frame, made by `python -m bench.mocap_quality.demo_clip`
# from a known walk (the motion-capture quality harness's): what motion capture does well, with feet on the floor.
DEMO_CLIP = Path(__file__).with_name("demo_walk.mp4")


def person_frames(size: tuple[int, int] = (320, 240), seconds: float = 2.5, fps: float = 30.0) -> Iterator:
    """BGR frames of scikit-image's astronaut (head to hips) walking left to right on a plain canvas, swaying a little."""
    person = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    width, height = size
    side = 0.75 * height  # the 512 px portrait scaled to three quarters of the frame's height
    count = max(2, round(seconds * fps))
    for i in range(count):
        t = i / (count - 1)
        centre = (width * (0.3 + 0.4 * t), height / 2 + 4 * math.sin(4 * math.pi * t))
        m = cv2.getRotationMatrix2D((256.0, 256.0), 5 * math.sin(2 * math.pi * t), side / 512.0)
        m[:, 2] += (centre[0] - 256.0, centre[1] - 256.0)
        yield cv2.warpAffine(person, m, size, borderValue=BACKGROUND_BGR)


def write_video(path: Path, frames, fps: float = 30.0) -> Path:
    """Encode BGR frames as an MP4 (OpenCV's built-in mp4v)."""
    writer = None
    for frame in frames:
        if writer is None:
            height, width = frame.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        writer.write(frame)
    if writer is None:
        raise ValueError("no frames to write")
    writer.release()
    return path


def pick_output(job: dict, kinds: tuple[str, ...], formats: tuple[str, ...]) -> dict:
    """The job's first output of one of `kinds`, preferring `formats` in the order given."""
    for fmt in formats:
        for output in job["outputs"]:
            if output["kind"] in kinds and output["format"] == fmt:
                return output
    raise CliError(f"job {job['id']} produced no {'/'.join(kinds)} output in {', '.join(formats)}")


def finish(client: Client, out: Output, job: dict, dest: Path) -> dict:
    """Follow a job to its end and download its outputs; a failed job is an error."""
    job = follow_job(client, out, job)
    if job["status"] != "COMPLETED":
        error = job.get("error") or {}
        raise CliError(
            f"{job['type']} job {job['id']} {job['status'].lower()}: {error.get('message', '')}", EXIT_FAILED
        )
    job = download_outputs(client, out, job, dest / job["id"])
    out.note(f"{job['type']} done: {len(job['outputs'])} files in {dest / job['id']}")
    return job


def run(api: str, dest: Path) -> dict:
    """The whole demo; returns the three finished jobs by name."""
    out = Output(as_json=False)
    dest.mkdir(parents=True, exist_ok=True)
    client = Client(api, TokenStore(dest / "credentials.json"))
    email = f"demo-{uuid.uuid4().hex[:8]}@example.com"
    client.register(email, secrets.token_urlsafe(18), "Demo")
    out.note(f"registered {email} (its session is saved in {dest / 'credentials.json'})")
    project = client.create_project("demo", "made by `make demo`")

    video = Path(shutil.copyfile(DEMO_CLIP, dest / "walk.mp4"))
    out.note(f"copied {video}: a person walking across a room")
    asset = upload_file(client, out, project["id"], video)
    if asset["status"] != "READY":
        raise CliError(f"the demo video was rejected: {asset.get('rejectReason')}", EXIT_FAILED)

    mocap = client.create_job("MOTION_CAPTURE", project["id"], {"videoAssetId": asset["id"]}, {})
    avatar = client.create_job("TEXT_TO_AVATAR", project["id"], {"prompt": AVATAR_PROMPT}, {"seed": 7})
    out.note(f"started MOTION_CAPTURE {mocap['id']} and TEXT_TO_AVATAR {avatar['id']} ({AVATAR_PROMPT!r})")
    mocap, avatar = finish(client, out, mocap, dest), finish(client, out, avatar, dest)

    motion = pick_output(mocap, ("ANIMATION",), ("bvh", "glb", "fbx"))
    model = pick_output(avatar, ("MODEL_3D", "ANIMATION"), ("glb", "fbx"))
    animate = client.create_job(
        "ANIMATE", project["id"], {"avatarAssetId": model["assetId"], "motionAssetId": motion["assetId"]}, {}
    )
    out.note(f"started ANIMATE {animate['id']}: {model['filename']} moved by {motion['filename']}")
    animate = finish(client, out, animate, dest)
    return {"motion capture": mocap, "avatar": avatar, "animated avatar": animate}


def main(argv: list[str] | None = None) -> int:
    """Run the demo against a running stack (`make run`); prints where the outputs are."""
    parser = argparse.ArgumentParser(prog="python -m ai3d.demo", description=__doc__)
    parser.add_argument("--api", default=os.environ.get("AI3D_API", DEFAULT_API))
    parser.add_argument("--out", default="outputs/demo", help="where the video and the outputs go")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        jobs = run(args.api, Path(args.out))
    except CliError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        if exc.exit_code == EXIT_UNREACHABLE:
            print(f"demo: is the stack running? start it with `make run` (API {args.api})", file=sys.stderr)
        return exc.exit_code
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s; outputs:")
    for name, job in jobs.items():
        print(f"  {name} ({job['type']} {job['id']}):")
        for output in job["outputs"]:
            print(f"    {output['role']:<10} {output['path']}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
