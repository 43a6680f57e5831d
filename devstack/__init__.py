"""The local runtime that plays AWS on one machine: the embedded AWS emulator (moto, patched), the deployer of
infrastructure/template.yaml, the API server, the event-source runner, the web server and the stack supervisor.

`python -m devstack` brings the whole stack up (see devstack/stack.py).
"""

from __future__ import annotations

import signal
import threading


def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (how the stack supervisor and Ctrl-C stop a process)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
