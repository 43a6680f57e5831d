"""`make demo` (python -m ai3d.demo) against the real stack: three jobs, outputs on disk."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.stackutil import ROOT


@pytest.mark.slow
def test_demo_runs_and_says_where_the_outputs_are(stack, tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "ai3d.demo", "--api", stack.api_url, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "demo finished" in result.stdout
    printed = [Path(line.split()[-1]) for line in result.stdout.splitlines() if line.startswith("    ")]
    assert printed and all(path.is_file() and path.stat().st_size > 0 for path in printed)
    assert {p.parent.parent for p in printed} == {out} and len({p.parent for p in printed}) == 3
    assert (out / "walk.mp4").is_file()
