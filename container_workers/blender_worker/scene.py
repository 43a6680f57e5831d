"""The Blender session: one bpy per process, an empty scene per task, and per-task time and memory caps."""

from __future__ import annotations

import ctypes
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy

from container_workers.common.stage import BadInputError

HARD_LIMIT_EXIT_CODE = 75  # EX_TEMPFAIL: the process ended itself because a task would not stop
_PAGE = os.sysconf("SC_PAGE_SIZE")


def reset() -> None:
    """Empty the scene and restore factory settings, with .blend scripts never allowed to run."""
    previous_tmp = Path(bpy.app.tempdir)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if Path(bpy.app.tempdir) != previous_tmp:  # Blender starts a new temp dir per reset; drop the last task's files
        shutil.rmtree(previous_tmp, ignore_errors=True)
    prefs = bpy.context.preferences
    prefs.filepaths.use_scripts_auto_execute = False
    prefs.addons["io_scene_gltf2"].preferences.allow_embedded_format = True
    if prefs.filepaths.use_scripts_auto_execute or bpy.data.objects or bpy.data.texts:
        raise RuntimeError("the Blender session did not reset cleanly")


def rss_bytes() -> int:
    """The resident memory of this process, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class _LimitExceeded(BaseException):
    """Raised inside the task's thread by the watchdog (a BaseException so `except Exception` cannot hide it)."""


class _Watchdog(threading.Thread):
    """Polls elapsed time and RSS; interrupts the task thread, and ends the process if the task will not stop."""

    def __init__(self, target_thread: int, seconds: float, memory_bytes: int, grace_s: float, poll_s: float):
        super().__init__(name="blender-task-watchdog", daemon=True)
        self.target_thread = target_thread
        self.deadline = time.monotonic() + seconds
        self.memory_bytes = memory_bytes
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.reason: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        """Poll until stopped; past a cap, interrupt the task thread repeatedly, then end the process."""
        tripped_at = 0.0
        while not self.done.wait(self.poll_s):
            now, rss = time.monotonic(), rss_bytes()
            if self.reason is None:
                if now > self.deadline:
                    self.reason = "TIME_LIMIT"
                elif rss > self.memory_bytes:
                    self.reason = "MEMORY_LIMIT"
                else:
                    continue
                tripped_at = now
            if now - tripped_at > self.grace_s or rss > 1.5 * self.memory_bytes:
                os._exit(HARD_LIMIT_EXIT_CODE)
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self.target_thread), ctypes.py_object(_LimitExceeded)
            )

    def stop(self) -> None:
        """Stop polling and cancel an interrupt not yet delivered."""
        self.done.set()
        self.join()
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.target_thread), None)


@contextmanager
def limits(seconds: float, memory_mb: float, grace_s: float = 5.0, poll_s: float = 0.05) -> Iterator[None]:
    """Cap the wall time and resident memory (whole process) of the code inside.

    Past a cap the code is interrupted at its next Python bytecode and BadInputError
    ("TIME_LIMIT" / "MEMORY_LIMIT") is raised. Code stuck in C (an importer that never returns) cannot be
    interrupted: if it has not stopped `grace_s` later, or RSS passes 1.5x the cap, the process exits with
    HARD_LIMIT_EXIT_CODE and its supervisor restarts it.
    """
    dog = _Watchdog(threading.get_ident(), seconds, int(memory_mb * 2**20), grace_s, poll_s)
    dog.start()
    try:
        yield
    except BaseException as exc:
        dog.stop()
        if dog.reason == "TIME_LIMIT":
            raise BadInputError("TIME_LIMIT", f"the task took longer than its {seconds:g} s limit") from exc
        if dog.reason == "MEMORY_LIMIT":
            raise BadInputError("MEMORY_LIMIT", f"the task needed more than its {memory_mb:g} MB memory limit") from exc
        raise
    dog.stop()  # a task that returned just as a cap passed keeps its result


@contextmanager
def task(seconds: float = 600.0, memory_mb: float = 8192.0) -> Iterator[None]:
    """Run one task: an empty scene before, the caps during, and an empty scene after (whatever happened)."""
    reset()
    try:
        with limits(seconds, memory_mb):
            yield
    finally:
        reset()
