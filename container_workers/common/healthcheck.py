"""The worker container's health check (Dockerfile HEALTHCHECK, the ECS task definition): healthy while the worker's
heartbeat thread keeps touching its heartbeat file; `python -m container_workers.common.healthcheck` exits 0 or 1."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HEARTBEAT_FILE = Path(os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/ai3d-worker-heartbeat"))
STALE_SECONDS = float(os.environ.get("WORKER_HEARTBEAT_STALE_SECONDS", "90"))  # the worker beats every 10 s


def touch() -> None:
    """Record that the worker is alive (its heartbeat thread calls this at every beat)."""
    HEARTBEAT_FILE.touch()


def check(now: float | None = None) -> tuple[bool, str]:
    """(healthy, why): the heartbeat file was touched within STALE_SECONDS."""
    try:
        age = (now or time.time()) - HEARTBEAT_FILE.stat().st_mtime
    except FileNotFoundError:
        return False, f"no heartbeat yet ({HEARTBEAT_FILE} is missing)"
    if age > STALE_SECONDS:
        return False, f"the last heartbeat was {age:.0f} s ago (more than {STALE_SECONDS:.0f} s)"
    return True, f"the last heartbeat was {age:.0f} s ago"


def main() -> None:
    """Exit 0 when healthy, 1 otherwise, saying why."""
    healthy, why = check()
    print(why)
    sys.exit(0 if healthy else 1)


if __name__ == "__main__":
    main()
