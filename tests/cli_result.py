"""What one `ai3d` invocation did, shared by the CLI unit tests and the e2e tests."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Result:
    """Exit code, stdout (JSON when asked for) and stderr of one `ai3d` run."""

    code: int
    out: str
    err: str

    @property
    def json(self):
        """stdout parsed as JSON."""
        return json.loads(self.out)

    @property
    def error_line(self) -> str:
        """The CLI's own error line on stderr."""
        return [line for line in self.err.splitlines() if line.startswith("ai3d: error:")][-1]

    def ok(self) -> Result:
        """Assert the command succeeded; self."""
        assert self.code == 0, f"exit {self.code}: {self.err.strip()[-2000:]}"
        return self
