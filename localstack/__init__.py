"""Running the platform locally: the embedded AWS emulator, the API server, the event-source runner and the stack supervisor."""
from __future__ import annotations

import signal
import threading


def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (how the stack supervisor and Ctrl-C stop a process)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
