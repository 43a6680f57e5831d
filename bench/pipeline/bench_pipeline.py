"""Benchmark the platform's plumbing on the embedded stack: upload-event -> worker-start latency and job overhead.

Starts its own stack, then N times: create a CONVERT job whose input is not uploaded yet, POST the
file to S3, and read back from the job (a) when the worker started the stage (the S3 event went
through SQS, the upload handler verified the file and started the execution, Step Functions marked
the stage and queued the task, the worker picked it up) and (b) how much of the end-to-end time
was not the stage's own work. Usage: python bench/pipeline/bench_pipeline.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests import media
from tests.stackutil import ApiUser, start_stack, stop_stack_process


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> None:
    """Run and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stack = start_stack()
    try:
        user = ApiUser(stack.api_url)
        pid = user.project()
        data = media.box_glb()
        latencies, overheads, totals, stage_times = [], [], [], []
        for _ in range(args.runs):
            ticket = user.call(
                "POST",
                f"/projects/{pid}/assets",
                json={
                    "filename": "box.glb",
                    "contentType": "model/gltf-binary",
                    "sizeBytes": len(data),
                    "kind": "MODEL_3D",
                },
            ).json()
            job = user.call(
                "POST",
                "/jobs",
                json={
                    "projectId": pid,
                    "type": "CONVERT",
                    "inputs": {"modelAssetId": ticket["asset"]["id"]},
                    "params": {"format": "stl"},
                },
            ).json()
            posted = requests.post(
                ticket["upload"]["url"], data=ticket["upload"]["fields"], files={"file": ("box.glb", data)}
            )
            uploaded = time.time()
            assert posted.status_code == 204
            done = user.wait_job(job["id"], timeout=120)
            finished = time.time()
            assert done["status"] == "COMPLETED", done
            timing = done["result"]["convert"]["timing"]
            latencies.append(_ts(timing["workerStartedAt"]) - uploaded)
            totals.append(finished - uploaded)
            stage_times.append(timing["stageSeconds"])
            overheads.append(finished - uploaded - timing["stageSeconds"])
        print(
            f"runs: {args.runs} (CONVERT of a 12-triangle GLB to STL; times from the end of the S3 POST, client clock)"
        )
        for name, values in (
            ("upload event -> worker starts the stage", latencies),
            ("stage function itself", stage_times),
            ("end to end (upload -> client sees COMPLETED)", totals),
            ("overhead (end to end minus stage)", overheads),
        ):
            print(
                f"  {name:48s} median {statistics.median(values):6.2f} s   min {min(values):6.2f} s   max {max(values):6.2f} s"
            )
    finally:
        stop_stack_process(stack.process)


if __name__ == "__main__":
    main()
