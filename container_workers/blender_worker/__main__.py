"""Run the blender worker: poll BLENDER_QUEUE_URL and serve its stages (Blender is imported once)."""
import os

from container_workers.blender_worker.convert import convert
from container_workers.blender_worker.export import export
from container_workers.blender_worker.optimize import optimize
from container_workers.blender_worker.retarget import retarget
from container_workers.common.worker import Worker

STAGES = {"convert": convert, "optimize": optimize, "export": export, "retarget": retarget}

if __name__ == "__main__":
    Worker("blender", os.environ["BLENDER_QUEUE_URL"], STAGES).run()
