"""What every file checker shares: the rejection, the time budget, bounded reads and a strict JSON reader."""

from __future__ import annotations

import json
import math
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

UNREADABLE = "UNREADABLE_FILE"  # the bytes cannot be read as the format they claim (which field, and why)
WRONG_FORMAT = "WRONG_FORMAT"  # the bytes are some other kind of file
LIMIT = "LIMIT_EXCEEDED"  # readable, but over a limit (pixels, duration, counts, sizes)
MAX_LINE = 64 * 1024


class Rejected(Exception):
    """The file is not what it claims to be, cannot be read, or breaks a limit; the message is shown to the user."""

    def __init__(self, message: str, code: str = UNREADABLE):
        super().__init__(message)
        self.code = code
        self.message = message


class Budget:
    """A deadline for one check: parsers call `check()` in their loops, so no file holds the checker longer."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        """Reject the file once the time is up."""
        if time.monotonic() > self.deadline:
            raise Rejected(f"the file could not be checked within {self.seconds:g} s", LIMIT)


def text_lines(path: Path, budget: Budget) -> Iterator[tuple[int, bytes]]:
    """(line number, stripped bytes) of a text file, each line read with a length cap (a longer one comes in pieces)."""
    with open(path, "rb") as f:
        number = 0
        while True:
            line = f.readline(MAX_LINE)
            if not line:
                return
            number += 1
            if number % 65536 == 0:
                budget.check()
            yield number, line.strip()


class Binary:
    """Bounded reads from a file: every read names what it reads, and a short read is a truncated file."""

    def __init__(self, f: BinaryIO, size: int, what: str):
        self.f = f
        self.size = size
        self.what = what

    def read(self, n: int, field: str) -> bytes:
        """Exactly n bytes at the current position."""
        if n < 0 or self.f.tell() + n > self.size:
            raise Rejected(f"the {self.what} is truncated: {field} runs past the end of the file")
        return self.f.read(n)

    def unpack(self, fmt: str, field: str) -> tuple:
        """struct.unpack of exactly the bytes fmt needs."""
        return struct.unpack(fmt, self.read(struct.calcsize(fmt), field))

    def seek(self, offset: int) -> None:
        """Move to an absolute offset inside the file."""
        if not 0 <= offset <= self.size:
            raise Rejected(f"the {self.what} points outside the file (offset {offset})")
        self.f.seek(offset)

    def tell(self) -> int:
        """The current offset."""
        return self.f.tell()


def _no_constants(name: str):
    raise ValueError(f"{name} is not a JSON number")


def strict_json(data: bytes, what: str):
    """JSON as the spec has it: UTF-8, no NaN/Infinity, bounded nesting; Rejected with the reason otherwise."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise Rejected(f"the {what} is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise Rejected(f"the {what} nests too deeply") from None
    except ValueError as exc:
        raise Rejected(f"the {what} is not valid JSON: {exc}") from None


def finite(value: float, field: str) -> float:
    """A finite float, or Rejected naming the field."""
    if not math.isfinite(value):
        raise Rejected(f"{field} is not a finite number ({value})")
    return value


def type_name(value: object) -> str:
    """How a JSON value's type reads in a message: an object, an array, a string..."""
    names = {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)
