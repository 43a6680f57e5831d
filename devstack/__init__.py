"""The local runtime that plays AWS on one machine: the embedded AWS emulator (moto, patched), the deployer of
infrastructure/template.yaml, the API server, the event-source runner, the web server and the stack supervisor.

`python -m devstack` brings the whole stack up (see devstack/stack.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time


def watch_parent() -> None:
    """Send this process SIGTERM (its normal stop) once its parent is gone. The supervisor's death also reaches each
    child as SIGTERM (PR_SET_PDEATHSIG), but a child once outlived a kill -9 of it, listening on its port for an hour,
    so every child watches its parent too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (how the stack supervisor and Ctrl-C stop a process) or the parent is gone."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watch_parent()
    stop.wait()
