"""A small one-line terminal progress bar on stderr, silent when stderr is not a terminal or output is JSON."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Self, TextIO


def human_bytes(count: float) -> str:
    """A byte count as B, KB, MB or GB with one decimal."""
    for unit in ("B", "KB", "MB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


def render(fraction: float, label: str = "", detail: str = "", width: int = 80) -> str:
    """One bar line fitted to `width` columns: `label [#####-----]  50% detail`."""
    fraction = min(1.0, max(0.0, fraction))
    percent = f"{100 * fraction:3.0f}%"
    bar_width = max(10, min(30, width - len(label) - len(percent) - 5 - min(len(detail), 30)))
    filled = round(bar_width * fraction)
    line = f"{label} [{'#' * filled}{'-' * (bar_width - filled)}] {percent}" + (f" {detail}" if detail else "")
    line = line.lstrip()
    return line if len(line) <= width else line[: width - 1] + "…"


class Progress:
    """A bar updated in place; a no-op unless enabled and the stream is a terminal."""

    def __init__(
        self,
        label: str = "",
        total: float = 100.0,
        enabled: bool = True,
        show_bytes: bool = False,
        stream: TextIO | None = None,
        min_interval: float = 0.1,
    ):
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.label, self.total, self.done, self.detail = label, total, 0.0, ""
        self.show_bytes = show_bytes
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._drawn = False

    def advance(self, amount: float) -> None:
        """Add `amount` to the done count (bytes sent, say)."""
        self.update(self.done + amount)

    def update(self, done: float, detail: str | None = None) -> None:
        """Set the done count (and the text after the bar); redraw on new text, at the total, else every min_interval s."""
        changed = detail is not None and detail != self.detail
        finished = done >= self.total > self.done
        self.done = done
        if detail is not None:
            self.detail = detail
        now = time.monotonic()
        if self.enabled and (changed or finished or now - self._last_draw >= self.min_interval):
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        fraction = self.done / self.total if self.total else 1.0
        detail = f"{human_bytes(self.done)} / {human_bytes(self.total)}" if self.show_bytes else self.detail
        self.stream.write("\r\033[K" + render(fraction, self.label, detail, width))
        self.stream.flush()
        self._drawn = True

    def close(self, message: str | None = None) -> None:
        """End the bar's line (replacing it with `message` when given)."""
        if not self.enabled:
            return
        if message is not None:
            self.stream.write("\r\033[K" + message + "\n")
        elif self._drawn:
            self.stream.write("\n")
        self.stream.flush()
        self._drawn = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
