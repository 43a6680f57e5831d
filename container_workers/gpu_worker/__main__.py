"""Run the gpu worker: poll GPU_QUEUE_URL and serve its stages."""

import os

from container_workers.common.worker import Worker
from container_workers.gpu_worker.avatar.photo import photo_avatar
from container_workers.gpu_worker.avatar.stage import avatar
from container_workers.gpu_worker.image_to_3d.stage import reconstruct
from container_workers.gpu_worker.mocap.stage import pose

STAGES = {"pose": pose, "reconstruct": reconstruct, "avatar": avatar, "photo_avatar": photo_avatar}

if __name__ == "__main__":
    Worker("gpu", os.environ["GPU_QUEUE_URL"], STAGES).run()
