"""Create or promote an admin on the locally running stack: sets the stack's environment, then runs chalicelib.create_admin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    """Pass argv through to `python -m chalicelib.create_admin` with the running stack's settings."""
    outputs = ROOT / ".stack" / "outputs.json"
    if not outputs.exists():
        print("no running stack found (.stack/outputs.json is missing): start it with `make run`", file=sys.stderr)
        return 2
    env = dict(os.environ, **json.loads(outputs.read_text()))
    env.setdefault("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    env.setdefault("AWS_ACCESS_KEY_ID", "test")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return subprocess.call([sys.executable, "-m", "chalicelib.create_admin", *argv], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
