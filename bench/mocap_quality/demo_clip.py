"""Render `make demo`'s clip: the harness's figure walking across the room, whole body in frame, as H.264.

Run from the repo root: .venv/bin/python -m bench.mocap_quality.demo_clip [ai3d/demo_walk.mp4]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from imageio_ffmpeg import get_ffmpeg_exe

from bench.mocap_quality import figure, motions, run

SECONDS = 4.5


def main(out: Path) -> Path:
    """Render the walk to `out` (libx264, CRF 28, no audio)."""
    meshes, rig, offsets = figure.build_figure(*run.PERFORMER)
    R, root = motions.walk(offsets, heading=60.0, seconds=SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        glb = figure.write_animated(Path(tmp) / "walk.glb", meshes, rig, R, root, motions.FPS)
        raw = Path(tmp) / "walk.mp4"
        subprocess.run(
            [sys.executable, "-m", "bench.mocap_quality.render", str(raw), str(motions.FPS), str(len(R))]
            + [",".join(map(str, run.FULL_BODY)), str(glb)],
            cwd=run.ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(raw), "-c:v", "libx264", "-crf", "28"]
            + ["-preset", "slow", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-an", str(out)],
            check=True,
        )
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1] if len(sys.argv) > 1 else "ai3d/demo_walk.mp4")))
