"""Follow a job's progress over the platform's WebSocket (docs/api.md, "Live progress"); callers fall back to polling
when it cannot be used (`LiveUnavailable`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import aiohttp

from chalicelib.contract.statuses import TERMINAL


class LiveUnavailable(Exception):
    """The WebSocket could not be reached, refused the credentials, or dropped before the job ended."""


class TimedOut(Exception):
    """The job had not ended when the caller's timeout passed."""


async def _follow(url: str, bearer: str, job_id: str, on_update: Callable[[dict], None], timeout: float | None) -> dict:
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, heartbeat=20, timeout=10) as socket:
            await socket.send_json({"action": "auth", "token": bearer})
            await socket.send_json({"action": "subscribe", "jobId": job_id})
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimedOut(job_id)
                message = await socket.receive(timeout=left)
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise LiveUnavailable(f"the WebSocket closed ({message.type.name})")
                data = json.loads(message.data)
                if data.get("type") == "error":
                    raise LiveUnavailable(f"{data.get('code')}: {data.get('message')}")
                job = data.get("job")
                if data.get("type") in ("subscribed", "job") and isinstance(job, dict) and job.get("id") == job_id:
                    on_update(job)
                    if job["status"] in TERMINAL:
                        return job
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise LiveUnavailable(f"{type(exc).__name__}: {exc}") from None
    except TimeoutError:
        if deadline is not None and time.monotonic() >= deadline:
            raise TimedOut(job_id) from None
        raise LiveUnavailable("the WebSocket did not answer") from None


def follow(url: str, bearer: str, job_id: str, on_update: Callable[[dict], None], timeout: float | None = None) -> dict:
    """Subscribe to one job and call on_update with each state pushed (the current one first); the final state
    (status, stage, progress, error - no outputs). LiveUnavailable or TimedOut otherwise."""
    return asyncio.run(_follow(url, bearer, job_id, on_update, timeout))
