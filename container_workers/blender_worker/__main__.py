"""Run the blender worker: poll BLENDER_QUEUE_URL and serve its stages (Blender is imported once, one task at a time)."""

import os

from container_workers.blender_worker import scene
from container_workers.blender_worker.convert import convert
from container_workers.blender_worker.export import export
from container_workers.blender_worker.optimize import optimize
from container_workers.blender_worker.retarget import retarget
from container_workers.common.worker import Worker

STAGES = {"convert": convert, "optimize": optimize, "export": export, "retarget": retarget}
TASK_SECONDS = int(os.environ.get("BLENDER_TASK_SECONDS", "600"))
TASK_MEMORY_MB = int(os.environ.get("BLENDER_TASK_MEMORY_MB", "8192"))

if __name__ == "__main__":
    Worker(
        "blender",
        os.environ["BLENDER_QUEUE_URL"],
        STAGES,
        task_limit=lambda: scene.task(seconds=TASK_SECONDS, memory_mb=TASK_MEMORY_MB),
    ).run()
