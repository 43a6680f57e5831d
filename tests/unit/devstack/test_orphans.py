"""A local-stack child stops when its parent is gone, even if the parent-death signal never reaches it."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from tests.stackutil import ROOT

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "from devstack import wait_for_stop_signal; wait_for_stop_signal()"])
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_whose_parent_is_killed_stops_by_itself():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(2)  # the child is waiting (no PR_SET_PDEATHSIG here: only its own watch can stop it)
    assert child.is_running()
    parent.kill()
    parent.wait()
    try:
        child.wait(timeout=15)
    except psutil.TimeoutExpired:
        child.kill()
        raise AssertionError("the orphaned child kept running") from None
