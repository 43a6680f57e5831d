"""Cost of an API key per request (vs an access token) and delay of live progress (worker write -> WebSocket client),
measured on a local stack started for the run."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import aiohttp
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import media
from tests.stackutil import ApiUser, start_stack, stop_stack_process


def median_ms(url: str, headers: dict, repeat: int = 60) -> float:
    """Median milliseconds of GET /users/me with these credentials."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = requests.get(f"{url}/users/me", headers=headers, timeout=10)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return round(statistics.median(samples) * 1000, 1)


async def live_delays(stack_url: str, user: ApiUser, project: str, model: str) -> list[float]:
    """Seconds from each job state's updatedAt (the worker's or settlement's write) to its arrival over the socket."""
    url = requests.get(f"{stack_url}/websocket", timeout=10).json()["url"]
    body = {"projectId": project, "type": "CONVERT", "inputs": {"modelAssetId": model}, "params": {"format": "obj"}}
    delays = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        await socket.send_json({"action": "auth", "token": user.token})
        await socket.receive()
        await socket.send_json({"action": "subscribe", "jobId": "*"})
        await socket.receive()
        await asyncio.get_running_loop().run_in_executor(None, lambda: user.call("POST", "/jobs", json=body))
        while True:
            job = json.loads((await socket.receive(timeout=300)).data)["job"]
            written = datetime.fromisoformat(job["updatedAt"].replace("Z", "+00:00")).timestamp()
            delays.append(time.time() - written)
            if job["status"] in ("COMPLETED", "FAILED"):
                return delays


def main() -> None:
    """Print one JSON report."""
    stack = start_stack()
    try:
        user = ApiUser(stack.api_url)
        key = user.call("POST", "/api-keys", json={"name": "bench", "scopes": ["read", "jobs"]}).json()["key"]
        token_ms = median_ms(stack.api_url, user.headers)
        key_ms = median_ms(stack.api_url, {"Authorization": f"Bearer {key}"})
        project = user.project()
        model = user.upload(project, "s.glb", media.sphere_glb(subdivisions=6), "MODEL_3D", "model/gltf-binary")
        delays = asyncio.run(live_delays(stack.api_url, user, project, model["id"]))
        report = {
            "GET /users/me median ms": {"access token": token_ms, "API key": key_ms},
            "live events": len(delays),
            "live delay ms": {"median": round(statistics.median(delays) * 1000), "max": round(max(delays) * 1000)},
        }
        print(json.dumps(report))
    finally:
        stop_stack_process(stack.process)


if __name__ == "__main__":
    main()
