"""A local-stack child stops when its parent is gone, even if the parent-death signal never reaches it."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from tests.stackutil import ROOT

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
time.sleep(120)
"""
WAITS_FOR_SIGTERM = "from devstack import wait_for_stop_signal; wait_for_stop_signal()"
HANGS_ON_SIGTERM = """
import signal, time
import devstack
devstack.STOP_GRACE = 2
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # its normal stop never finishes
devstack.watch_parent()
time.sleep(120)
"""


def _orphan(child_code: str) -> psutil.Process:
    """Start a parent that starts a child running child_code; kill -9 the parent; return the orphaned child."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, child_code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(2)  # the child is waiting (no PR_SET_PDEATHSIG here: only its own watch can stop it)
    assert child.is_running()
    parent.kill()
    parent.wait()
    return child


def test_a_child_whose_parent_is_killed_stops_by_itself():
    child = _orphan(WAITS_FOR_SIGTERM)
    try:
        child.wait(timeout=15)
    except psutil.TimeoutExpired:
        child.kill()
        raise AssertionError("the orphaned child kept running") from None


def test_an_orphaned_child_whose_stop_hangs_exits_hard_after_the_grace_period():
    child = _orphan(HANGS_ON_SIGTERM)
    try:
        child.wait(timeout=20)
    except psutil.TimeoutExpired:
        child.kill()
        raise AssertionError("the orphaned child outlived its grace period") from None
