"""gltfpack (meshoptimizer, WebAssembly on node), kept warm in the worker, and the Draco encoder, on GLB files."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from container_workers.common.stage import BadInputError

ROOT = Path(__file__).resolve().parents[2]
GLTFPACK = ROOT / "node_modules" / "gltfpack" / "cli.js"
TOOLS = Path(__file__).resolve().parent / "tools"
SERVERS = 2  # warm gltfpack processes: one per core (each packs one file at a time)
RECYCLE_RSS_BYTES = 1 << 30  # WebAssembly memory only grows: a server that needed more than this is restarted
_POLL_S = 0.1  # waits wake this often, so the task's time limit can interrupt them

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
    if options.ratio < 1:  # -sp: collapse across normal creases too (UV seams stay protected)
        args += ["-si", f"{options.ratio:.8f}", "-se", f"{options.error:.8f}", "-sp"]
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


def _wait(future: Future):
    """A future's result, waking every _POLL_S so an exception raised into this thread (the time limit) lands."""
    while True:
        try:
            return future.result(timeout=_POLL_S)
        except FutureTimeout:
            continue


class _Server:
    """One warm gltfpack (tools/gltfpack_server.mjs): the WebAssembly module compiled once, one pack at a time."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [_node(), str(TOOLS / "gltfpack_server.mjs")],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def pack(self, args: list[str]) -> None:
        """Run gltfpack with `args`; BadInputError with its message if it refuses the input or dies on it."""
        stdin, stdout = self.process.stdin, self.process.stdout
        if stdin is None or stdout is None:
            raise RuntimeError("the gltfpack server has no pipes")
        try:
            stdin.write(json.dumps({"args": args}) + "\n")
            stdin.flush()
            line = stdout.readline()
        except OSError:  # it died (killed by a cancel, or out of memory)
            line = ""
        reply: dict = json.loads(line) if line else {"ok": False, "error": "gltfpack stopped"}
        if not reply["ok"]:
            lines = [x for x in str(reply["error"]).strip().splitlines() if x.strip()]
            raise BadInputError("CORRUPT_FILE", f"gltfpack failed: {lines[-1][:200] if lines else 'no message'}")

    def rss(self) -> int:
        """The process's resident memory in bytes (0 once it has gone)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        return next((int(x.split()[1]) * 1024 for x in status.splitlines() if x.startswith("VmRSS:")), 0)

    def cpu_seconds(self) -> float:
        """CPU time the process has used (user + system)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """End the process (a pack in progress is abandoned)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class _Pool:
    """SERVERS warm gltfpack processes shared by the stage's runs; a server that failed or grew large is replaced."""

    def __init__(self) -> None:
        self.free: queue.Queue[_Server | None] = queue.Queue()
        for _ in range(SERVERS):
            self.free.put(None)  # started on first use
        self.threads = ThreadPoolExecutor(SERVERS, thread_name_prefix="gltfpack")
        self.busy: dict[int, _Server] = {}
        self.lock = threading.Lock()

    def submit(self, args: list[str]) -> Future:
        """Start a pack on the next free server."""
        return self.threads.submit(self._run, args)

    def _run(self, args: list[str]) -> None:
        server = self.free.get()
        if server is None or server.process.poll() is not None:  # not started yet, or gone while idle
            server = _Server()
        with self.lock:
            self.busy[threading.get_ident()] = server
        healthy = False
        try:
            server.pack(args)
            healthy = True
        finally:
            with self.lock:
                self.busy.pop(threading.get_ident(), None)
            if not healthy or server.rss() > RECYCLE_RSS_BYTES:  # after a failure the module's state is suspect
                server.stop()
                server = None
            self.free.put(server)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the idle servers (call between packs)."""
        with self.free.mutex:
            idle = [server for server in self.free.queue if server is not None]
        return sum(server.cpu_seconds() for server in idle)

    def stop_busy(self) -> None:
        """Kill every server that is packing (their runs fail; fresh servers replace them)."""
        with self.lock:
            busy = list(self.busy.values())
        for server in busy:
            server.stop()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = _Pool()
        return _pool


def start(command: list[str]) -> subprocess.Popen:
    """Start a node tool with its output captured."""
    return subprocess.Popen([_node(), *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen, what: str) -> str:
    """Wait for a tool; its stdout, or BadInputError with its last error line (the process is killed if we are)."""
    try:
        while True:
            try:
                out, err = process.communicate(timeout=_POLL_S)
                break
            except subprocess.TimeoutExpired:
                continue
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
    """One gltfpack run, started at once on a warm server (then the Draco encoder, when asked); result() waits.

    `readable` is a GLB with the delivered geometry that glb.read can decode: the output itself, or for Draco the
    output read back through Draco's decoder.
    """

    def __init__(self, source: Path, target: Path, options: Options):
        self.target, self.draco = target, options.compression == "draco"
        self.packed = target.with_name(target.stem + "-plain.glb") if self.draco else target
        self.readable = target.with_name(target.stem + "-decoded.glb") if self.draco else target
        self.pool = _shared_pool()
        self.future = self.pool.submit(arguments(source, self.packed, options))

    def result(self) -> Path:
        """Wait for gltfpack (and run the Draco encoder on its output); the finished GLB."""
        _wait(self.future)
        if self.draco:
            command = [str(TOOLS / "draco.mjs"), str(self.packed), str(self.target), str(self.readable)]
            finish(start(command), "the Draco encoder")
            self.packed.unlink()
        return self.target

    def cancel(self) -> None:
        """Stop this run if it has not finished (a running pack's server is killed and replaced)."""
        if not self.future.cancel() and not self.future.done():
            self.pool.stop_busy()


def servers_cpu_seconds() -> float:
    """CPU time used so far by the warm gltfpack processes (for benchmarks: they are not our children to wait for)."""
    return _pool.cpu_seconds() if _pool is not None else 0.0


def versions() -> dict:
    """The versions of the node tools (from their package.json files)."""
    modules = ROOT / "node_modules"
    return {
        name: json.loads((modules / name / "package.json").read_text())["version"]
        for name in ("gltfpack", "draco3dgltf")
    }
