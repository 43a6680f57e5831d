"""gltfpack (meshoptimizer, WebAssembly on node) and the Draco encoder, run as processes on GLB files."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from container_workers.common.stage import BadInputError

ROOT = Path(__file__).resolve().parents[2]
GLTFPACK = ROOT / "node_modules" / "gltfpack" / "cli.js"
DRACO = Path(__file__).resolve().parent / "tools" / "draco.mjs"


BUDGET_GUARD = 0.1
"""The error limit under a triangle budget: far above what budgets need, it only stops the simplifier from deleting
whole parts (with a limit of 1, a flat-shaded mesh of separate triangles can vanish)."""


@dataclass(frozen=True)
class Options:
    """What one gltfpack run does: the ratio of triangles to keep, the simplifier's error limit, the output form."""

    ratio: float = 1.0
    error: float = BUDGET_GUARD  # meshoptimizer's error limit, relative to the mesh's extent
    compression: str = "meshopt"
    keep_names: bool = False
    keep_attributes: bool = False  # -kv: gltfpack drops a constant white COLOR_0 but keeps COLOR_1, an invalid gap
    fps: int | None = None  # resample animations at this rate (the input's own rate keeps its keys)


def arguments(source: Path, target: Path, options: Options) -> list[str]:
    """gltfpack's command-line arguments for `options`."""
    args = ["-i", str(source), "-o", str(target)]
    if options.ratio < 1:  # -sp: collapse across normal creases too (UV seams stay); -sv: move kept vertices to fit
        args += ["-si", f"{options.ratio:.8f}", "-se", f"{options.error:.8f}", "-sp", "-sv"]
    args += ["-cc"] if options.compression == "meshopt" else ["-noq"]
    if options.keep_names:
        args += ["-kn", "-km"]
    if options.keep_attributes:
        args += ["-kv"]
    if options.fps:
        args += ["-af", str(options.fps)]
    return args


def _node() -> str:
    node = shutil.which("node")
    if node is None or not GLTFPACK.is_file():
        raise RuntimeError("the optimize stage needs node and `npm ci` (gltfpack, glTF-Transform, draco3dgltf)")
    return node


def start(command: list[str]) -> subprocess.Popen:
    """Start a node tool with its output captured."""
    return subprocess.Popen([_node(), *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, what: str) -> str:
    """Wait for a tool; its stdout, or BadInputError with its last error line (the process is killed if we are)."""
    try:
        out, err = process.communicate()
    except BaseException:  # the task's time limit or a cancellation: leave no child behind
        process.kill()
        process.wait()
        raise
    if process.returncode != 0:
        lines = [line for line in (err or out).strip().splitlines() if line.strip()]
        detail = lines[-1][:200] if lines else f"exit code {process.returncode}"
        raise BadInputError("CORRUPT_FILE", f"{what} failed: {detail}")
    return out


class Pack:
    """One gltfpack run started at once (then the Draco encoder, when asked); result() waits for the file.

    `readable` is a GLB with the delivered geometry that glb.read can decode: the output itself, or for Draco the
    output read back through Draco's decoder.
    """

    def __init__(self, source: Path, target: Path, options: Options):
        self.target, self.draco = target, options.compression == "draco"
        self.packed = target.with_name(target.stem + "-plain.glb") if self.draco else target
        self.readable = target.with_name(target.stem + "-decoded.glb") if self.draco else target
        self.process = start([str(GLTFPACK), *arguments(source, self.packed, options)])

    def result(self) -> Path:
        """Wait for gltfpack (and run the Draco encoder on its output); the finished GLB."""
        finish(self.process, "gltfpack")
        if self.draco:
            finish(start([str(DRACO), str(self.packed), str(self.target), str(self.readable)]), "the Draco encoder")
            self.packed.unlink()
        return self.target

    def cancel(self) -> None:
        """Stop gltfpack if it is still running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def versions() -> dict:
    """The versions of the node tools (from their package.json files)."""
    modules = ROOT / "node_modules"
    return {
        name: json.loads((modules / name / "package.json").read_text())["version"]
        for name in ("gltfpack", "draco3dgltf")
    }
