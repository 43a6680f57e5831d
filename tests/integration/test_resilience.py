"""The local stack stays up under a burst and when a Lambda-playing process dies (only the emulator's death stops it)."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import requests

from tests import media


def _child(stack, module: str) -> psutil.Process:
    """The stack's child process running `python -m <module>`."""
    for proc in psutil.Process(stack.process.pid).children(recursive=True):
        if module in proc.cmdline():
            return proc
    raise AssertionError(f"no {module} process")


def test_every_request_of_a_burst_is_answered(stack):
    """200 POSTs from 64 concurrent clients, each on its own connection: all answered (here 401), none reset.

    With the listen backlog of 5 that chalice's local server has by default, 3-8 % of these got no answer
    ("Remote end closed connection without response"); GETs alone did not show it.
    """

    def one(_):
        try:
            return requests.post(f"{stack.api_url}/projects", json={"name": "burst"}, timeout=60).status_code
        except requests.RequestException as exc:
            return type(exc).__name__

    with ThreadPoolExecutor(max_workers=64) as pool:
        answers = list(pool.map(one, range(200)))
    failures = [a for a in answers if not isinstance(a, int)]
    assert not failures, f"{len(failures)} of 200 requests got no answer: {sorted(set(failures))}"
    assert set(answers) == {401}


def test_a_killed_event_runner_and_api_are_restarted(stack, user):
    for module, name in (("devstack.events", "events"), ("devstack.api", "api")):
        victim = _child(stack, module)
        os.kill(victim.pid, signal.SIGKILL)
        deadline = time.time() + 30
        while f"{name} exited with code -9; restarting it" not in stack.log() and time.time() < deadline:
            time.sleep(0.2)
        assert f"{name} exited with code -9; restarting it" in stack.log()
    deadline = time.time() + 60
    while time.time() < deadline:  # the API answers again
        try:
            if requests.get(f"{stack.api_url}/health", timeout=5).status_code in (200, 503):
                break
        except requests.RequestException:
            time.sleep(0.5)
    asset = user.upload(user.project(), "after-restart.png", media.png(), "IMAGE", "image/png")
    assert asset["status"] == "READY"  # the restarted event runner judged the upload
