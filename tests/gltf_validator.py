"""Run the Khronos glTF validator (npm `gltf-validator`, installed by `npm ci`) on a file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "tools" / "validate_gltf.mjs"


def validate(path: str | Path) -> dict:
    """Return the validator's report: {"issues": {"numErrors", "numWarnings", "messages": [...]}, "info": {...}}."""
    out = subprocess.run(
        ["node", str(SCRIPT), str(path)], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout)


def assert_valid(path: str | Path) -> dict:
    """Assert the file has 0 validator errors; return the report."""
    report = validate(path)
    errors = [m for m in report["issues"]["messages"] if m["severity"] == 0]
    assert report["issues"]["numErrors"] == 0, errors[:10]
    return report
