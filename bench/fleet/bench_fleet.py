"""Benchmark the worker fleet: a burst of mixed jobs from many users, with 1 and then 2 workers of each kind.

For each fleet size it starts its own stack (`start_stack(gpu_workers=n, blender_workers=n)`, the default 60 s
lease), signs up the users (ENTERPRISE tier, so the whole burst reaches the queues at once), uploads each user's
inputs, then submits every job as fast as it can (10 client threads) and waits for all of them. Per job:
running = the sum of its stages' own time (`result.<stage>.timing.stageSeconds`); queued = the time its stages
waited for a worker (`queuedSeconds`); turnaround = created -> finished. Prints jobs/min (burst start to last
finish), p50/p95 of each, and the failures (the goal: none).
Usage: python bench/fleet/bench_fleet.py [--jobs 60] [--users 10] [--fleets 1,2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests import media
from tests.stackutil import ApiUser, make_admin, start_stack, stop_stack_process

# one user's share of the burst, in order; the burst cycles through it
MIX = ("TEXT_TO_AVATAR", "CONVERT", "IMAGE_TO_3D", "OPTIMIZE", "MOTION_CAPTURE", "TEXT_TO_AVATAR")


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


class Tenant:
    """A user with a project and one uploaded input of each kind the mix needs."""

    def __init__(self, stack, admin: ApiUser, video: bytes):
        self.user = ApiUser(stack.api_url)
        patched = admin.call("PATCH", f"/admin/users/{self.user.id}", json={"tier": "ENTERPRISE"})
        assert patched.status_code == 200, patched.text
        self.pid = self.user.project()
        self.model = self.user.upload(self.pid, "sphere.glb", media.sphere_glb(5), "MODEL_3D", "model/gltf-binary")[
            "id"
        ]
        self.grid = self.user.upload(
            self.pid, "grid.glb", media.wavy_grid_glb(100_000), "MODEL_3D", "model/gltf-binary"
        )["id"]
        self.photo = self.user.upload(self.pid, "star.png", media.png(256, 256, rgba=True), "IMAGE", "image/png")["id"]
        self.video = self.user.upload(self.pid, "walk.mp4", video, "VIDEO", "video/mp4")["id"]

    def body(self, job_type: str, n: int) -> dict:
        """The POST /jobs body of one job of the mix."""
        inputs, params = {
            "TEXT_TO_AVATAR": ({"prompt": ("tall woman in a red dress", "short man with a beard")[n % 2]}, {}),
            "CONVERT": ({"modelAssetId": self.model}, {"format": ("obj", "fbx", "stl")[n % 3]}),
            "IMAGE_TO_3D": ({"imageAssetId": self.photo}, {}),
            "OPTIMIZE": ({"modelAssetId": self.grid}, {"ratio": 0.25}),
            "MOTION_CAPTURE": ({"videoAssetId": self.video}, {}),
        }[job_type]
        return {"projectId": self.pid, "type": job_type, "inputs": inputs, "params": params}


def run(workers: int, jobs: int, users: int, video: bytes) -> dict:
    """One burst against a fresh stack with `workers` processes of each kind."""
    stack = start_stack(gpu_workers=workers, blender_workers=workers, lease_seconds=60, schedule_scale=1, timeout=300)
    try:
        admin = make_admin(stack)
        tenants = [Tenant(stack, admin, video) for _ in range(users)]
        plan = [(tenants[i % users], MIX[(i // users) % len(MIX)], i) for i in range(jobs)]

        def submit(entry):
            tenant, job_type, n = entry
            response = tenant.user.call("POST", "/jobs", json=tenant.body(job_type, n))
            assert response.status_code == 202, response.text
            return tenant, response.json()

        started = time.time()
        with ThreadPoolExecutor(max_workers=10) as pool:
            submitted = list(pool.map(submit, plan))
        done = [tenant.user.wait_job(job["id"], timeout=3600, interval=2) for tenant, job in submitted]
        finished = max(_ts(d["finishedAt"]) for d in done)
        ok = [d for d in done if d["status"] == "COMPLETED"]
        timings = [[t["timing"] for t in d["result"].values() if isinstance(t, dict) and "timing" in t] for d in ok]
        return {
            "workers": workers,
            "jobs": jobs,
            "failed": [(d["type"], d["status"], (d["error"] or {}).get("code")) for d in done if d not in ok],
            "jobsPerMinute": 60 * len(ok) / (finished - started),
            "seconds": finished - started,
            "running": [sum(t["stageSeconds"] for t in ts) for ts in timings],
            "queued": [sum(t.get("queuedSeconds", 0) for t in ts) for ts in timings],
            "turnaround": [_ts(d["finishedAt"]) - _ts(d["createdAt"]) for d in ok],
            "takeovers": sum(t.get("takeovers", 0) for ts in timings for t in ts),
        }
    finally:
        stop_stack_process(stack.process)


def main() -> None:
    """Run the bursts and print the table docs/benchmarks.md quotes."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)  # the emulator's credentials, for the admin command the bench runs
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--fleets", default="1,2", help="workers per kind, one burst each")
    args = parser.parse_args()
    video = media.person_video(Path("/tmp/bench-fleet-walk.mp4"), seconds=3, fps=15).read_bytes()
    results = [run(int(n), args.jobs, args.users, video) for n in args.fleets.split(",")]
    print(f"{args.jobs} jobs from {args.users} users at once; mix per user: {', '.join(MIX)}")
    print(
        "| workers per kind | jobs/min | burst done in | queued p50 / p95 | running p50 / p95 | turnaround p50 / p95 "
        "| failures | takeovers |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['workers']} | {r['jobsPerMinute']:.1f} | {r['seconds']:.0f} s "
            f"| {_pct(r['queued'], 0.5):.0f} / {_pct(r['queued'], 0.95):.0f} s "
            f"| {_pct(r['running'], 0.5):.1f} / {_pct(r['running'], 0.95):.1f} s "
            f"| {_pct(r['turnaround'], 0.5):.0f} / {_pct(r['turnaround'], 0.95):.0f} s "
            f"| {len(r['failed'])} | {r['takeovers']} |"
        )
        if r["failed"]:
            print(f"  failed: {r['failed']}")
        print(f"  mean running {statistics.mean(r['running']):.1f} s per job")


if __name__ == "__main__":
    main()
