"""The local runtime that plays AWS on one machine: the embedded AWS emulator (moto, patched), the deployer of
infrastructure/template.yaml, the API server, the event-source runner, the web server and the stack supervisor.

`python -m devstack` brings the whole stack up (see devstack/stack.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time

STOP_GRACE = 30.0  # seconds a child orphaned by its supervisor has to stop by itself before it exits hard


def watch_parent() -> None:
    """Send this process SIGTERM (its normal stop) once its parent is gone, and exit hard if it still runs STOP_GRACE
    seconds later. The supervisor's death also reaches each child as SIGTERM (PR_SET_PDEATHSIG), but once the
    supervisor is gone nobody sends the SIGKILL it sends after its grace period (an API server once outlived a kill -9
    of it, listening on its port), so every child watches its parent and plays that part too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(STOP_GRACE)
        os._exit(1)  # the normal stop hung: what the supervisor's SIGKILL would have done

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def wait_for_stop_signal() -> None:
    """Block until SIGTERM or SIGINT (how the stack supervisor and Ctrl-C stop a process) or the parent is gone."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    watch_parent()
    stop.wait()
