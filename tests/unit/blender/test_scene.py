"""The Blender session: reset leaves nothing behind, scripts never auto-run, time and memory caps hold."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from container_workers.blender_worker import scene
from container_workers.common.stage import BadInputError
from tests.unit.blender import builders

ROOT = Path(__file__).resolve().parents[3]


def test_reset_empties_the_scene_and_keeps_autorun_off():
    builders.avatar()
    bpy.context.preferences.filepaths.use_scripts_auto_execute = True
    scene.reset()
    assert not bpy.data.objects and not bpy.data.meshes and not bpy.data.actions and not bpy.data.materials
    assert not bpy.context.preferences.filepaths.use_scripts_auto_execute


def test_time_limit_interrupts_python_work():
    started = time.monotonic()
    with pytest.raises(BadInputError) as err, scene.limits(seconds=0.3, memory_mb=1 << 20):
        while True:
            sum(range(1000))
    assert err.value.code == "TIME_LIMIT"
    assert time.monotonic() - started < 30  # not interrupted, the loop would never end: a loose bound (shared machines)


def test_memory_limit_interrupts_allocation():
    cap_mb = scene.rss_bytes() / 2**20 + 300
    hold = []
    with pytest.raises(BadInputError) as err, scene.limits(seconds=60, memory_mb=cap_mb):
        for _ in range(400):
            hold.append(np.ones(2**20 // 8 * 10))  # 10 MB at a time, touched
            time.sleep(0.005)
    hold.clear()
    assert err.value.code == "MEMORY_LIMIT"


def test_limits_let_a_task_finish_and_clear_their_watchdog():
    with scene.limits(seconds=5, memory_mb=1 << 20):
        total = sum(range(10_000))
    time.sleep(0.2)  # nothing is raised later either
    assert total == 49_995_000


def test_task_stuck_in_c_code_ends_the_process():
    code = textwrap.dedent(
        """
        import time
        from container_workers.blender_worker import scene
        with scene.limits(seconds=0.3, memory_mb=1 << 20, grace_s=0.5):
            time.sleep(60)  # a C call the watchdog cannot interrupt
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60, check=False)
    assert done.returncode == scene.HARD_LIMIT_EXIT_CODE
    assert time.monotonic() - started < 20


def test_task_resets_before_and_after_even_on_failure():
    builders.textured_sphere()
    with pytest.raises(ZeroDivisionError), scene.task(seconds=30, memory_mb=1 << 20):
        assert not bpy.data.objects
        builders.textured_sphere()
        raise ZeroDivisionError
    assert not bpy.data.objects and not bpy.data.images
