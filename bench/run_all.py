"""Run every benchmark (bench/*/bench_*.py) one after another and print their reports; `make bench` calls this."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run each benchmark with its defaults; exit non-zero if any failed."""
    failed = []
    for script in sorted(HERE.glob("*/bench_*.py")):
        print(f"\n=== {script.relative_to(HERE.parent)}", flush=True)
        started = time.time()
        if subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0:
            failed.append(script.name)
        print(f"--- {time.time() - started:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
