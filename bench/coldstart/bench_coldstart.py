"""Lambda cold start of the API package: `import app` vs `import boto3` in fresh interpreters, as the Lambda runtime sees
them (the built api.zip unpacked, boto3 from the "runtime", nothing else on the path), min of N each, same run; and the
instructions each import executes (valgrind's callgrind), the same on a loaded machine as on a quiet one."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infrastructure.synth import RUNTIME_PROVIDED, synth  # noqa: E402  (after the path tweak)

GOAL = 1.3  # issue 13: the app may cost at most 30% more than boto3 alone


def _runtime(directory: Path) -> Path:
    """A stand-in for the Lambda runtime's own packages: boto3 and its dependencies, linked from this environment."""
    directory.mkdir()
    for name in RUNTIME_PROVIDED:
        origin = Path(importlib.util.find_spec(name).origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (directory / source.name).symlink_to(source)
    return directory


ENV = {
    "PATH": os.environ["PATH"],
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
}


def _command(module: str, package: Path, runtime: Path) -> list[str]:
    code = f"import sys; sys.path[:0] = [{str(package)!r}, {str(runtime)!r}]; import {module}; print('imported', flush=True)"
    return [sys.executable, "-I", "-S", "-B", "-c", code]


def instructions(module: str, package: Path, runtime: Path) -> int:
    """Instructions a bare interpreter executes from start to `module` imported, counted by callgrind: the same to
    ~0.1 % whatever the machine's load (it does not count cache misses or waits for the disk)."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *_command(module, package, runtime)],
        capture_output=True,
        env=ENV,
        cwd=package,
        text=True,
    )
    counted = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or "imported" not in done.stdout or counted is None:
        raise SystemExit(f"importing {module} under callgrind failed (exit {done.returncode})")
    return int(counted.group(1))


def cold_start_ms(module: str, package: Path, runtime: Path) -> float:
    """Milliseconds from spawning a bare interpreter to `module` imported: the runtime's init, as Lambda bills it.
    -I -S: no environment paths, no site-packages; -B: nothing compiled is written (/var/task is read-only)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        _command(module, package, runtime), stdout=subprocess.PIPE, env=ENV, cwd=package, text=True
    )
    line = process.stdout.readline()
    elapsed = (time.perf_counter() - started) * 1000
    process.wait()
    if line.strip() != "imported":
        raise SystemExit(f"importing {module} from the package failed (exit {process.returncode})")
    return elapsed


def measure(repeat: int, package_zip: Path | None) -> dict:
    """Min-of-`repeat` cold starts of app and boto3, interleaved so both see the same machine load, and their
    instruction counts where valgrind is installed."""
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        if package_zip is None:
            _, packages = synth(work / "build")
            package_zip = next(p for p in packages if p.name == "api.zip")
        package = work / "task"
        with zipfile.ZipFile(package_zip) as archive:
            archive.extractall(package)
        runtime = _runtime(work / "runtime")
        samples: dict[str, list[float]] = {"app": [], "boto3": []}
        for _ in range(repeat):
            for module in samples:
                samples[module].append(cold_start_ms(module, package, runtime))
        counts = (
            {module: instructions(module, package, runtime) for module in samples} if shutil.which("valgrind") else {}
        )
    best = {module: round(min(times), 1) for module, times in samples.items()}
    return {
        **({"appInstructions": counts["app"], "boto3Instructions": counts["boto3"]} if counts else {}),
        "instructionRatio": round(counts["app"] / counts["boto3"], 3) if counts else None,
        "repeat": repeat,
        "appMs": best["app"],
        "boto3Ms": best["boto3"],
        "ratio": round(best["app"] / best["boto3"], 2),
        "goal": GOAL,
        "cpus": os.cpu_count(),
        "loadAverage": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    """Print the result (or JSON with --json); exit 1 when the ratio misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--package", type=Path, help="an api.zip already built (default: build one with make package)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.repeat, args.package)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"cold start, min of {result['repeat']} (load average {result['loadAverage']}, {result['cpus']} CPUs)")
        print(f"  import app    {result['appMs']:7.1f} ms")
        print(f"  import boto3  {result['boto3Ms']:7.1f} ms")
        print(f"  ratio         {result['ratio']:7.2f}  (goal <= {GOAL})")
        if result["instructionRatio"] is not None:
            print(f"  instructions  app {result['appInstructions']:,}, boto3 {result['boto3Instructions']:,}")
            print(f"  ratio         {result['instructionRatio']:7.3f}  (callgrind; the same under any load)")
    sys.exit(0 if result["ratio"] <= GOAL else 1)


if __name__ == "__main__":
    main()
