"""BVH motion in pure Python: the hierarchy (joints, offsets, channels), the motion header, and every frame's numbers."""

from __future__ import annotations

import math
from pathlib import Path

from chalicelib.probe.common import LIMIT, WRONG_FORMAT, Budget, Rejected, text_lines

MAX_FRAMES = 1_000_000
MAX_CHANNELS = 6 * 1000
CHANNEL_NAMES = {b"Xposition", b"Yposition", b"Zposition", b"Xrotation", b"Yrotation", b"Zrotation"}


def _numbers(words: list[bytes], field: str) -> list[float]:
    try:
        values = [float(w) for w in words]
    except ValueError:
        raise Rejected(f"the BVH {field} holds a value that is not a number") from None
    if not all(math.isfinite(v) for v in values):
        raise Rejected(f"the BVH {field} holds a value that is not a finite number")
    return values


def _header_value(line: bytes, label: str, number: int) -> str:
    if not line.startswith(label.encode()):
        raise Rejected(f"the BVH line {number} should be `{label} ...` after MOTION")
    return line[len(label) :].strip().decode("ascii", "replace")


def probe(path: Path, budget: Budget) -> dict:
    """Joints, frame count, frame rate and duration of a BVH whose frames all hold one number per channel."""
    lines = text_lines(path, budget)
    first = next(((n, line) for n, line in lines if line), None)
    if first is None or first[1] != b"HIERARCHY":
        raise Rejected("the file is not a BVH motion (it does not start with HIERARCHY)", WRONG_FORMAT)
    joints, channels, depth = 0, 0, 0
    for number, line in lines:
        words = line.split()
        if not words:
            continue
        keyword = words[0]
        if keyword in (b"ROOT", b"JOINT"):
            if len(words) != 2:
                raise Rejected(f"the BVH joint on line {number} needs exactly one name")
            joints += 1
        elif keyword == b"OFFSET":
            if len(words) != 4:
                raise Rejected(f"the BVH OFFSET on line {number} needs x, y and z")
            _numbers(words[1:], f"OFFSET on line {number}")
        elif keyword == b"CHANNELS":
            if len(words) < 2 or not words[1].isdigit() or int(words[1]) != len(words) - 2:
                raise Rejected(f"the BVH CHANNELS on line {number} must give a count and that many names")
            if any(w not in CHANNEL_NAMES for w in words[2:]):
                raise Rejected(f"the BVH CHANNELS on line {number} names an unknown channel")
            channels += len(words) - 2
        elif keyword == b"{":
            depth += 1
        elif keyword == b"}":
            depth -= 1
        elif keyword == b"MOTION":
            break
        elif keyword != b"End":
            raise Rejected(f"the BVH hierarchy line {number} is not understood ({line[:40].decode('latin-1')!r})")
    else:
        raise Rejected("the BVH has no MOTION section")
    if not joints or depth != 0:
        raise Rejected("the BVH hierarchy is incomplete (no joints, or unbalanced braces)")
    if not 0 < channels <= MAX_CHANNELS:
        raise Rejected(f"the BVH hierarchy has {channels} channels")
    number, line = next(((n, x) for n, x in lines if x), (0, b""))
    frames_text = _header_value(line, "Frames:", number)
    if not frames_text.isdigit():
        raise Rejected(f"the BVH `Frames:` must be a whole number, found {frames_text[:20]!r}")
    frames = int(frames_text)
    if frames == 0:
        raise Rejected("the BVH holds no frames (`Frames: 0`)")
    if frames > MAX_FRAMES:
        raise Rejected(f"the BVH has {frames} frames; the most accepted is {MAX_FRAMES}", LIMIT)
    number, line = next(((n, x) for n, x in lines if x), (0, b""))
    time_text = _header_value(line, "Frame Time:", number)
    try:
        frame_time = float(time_text)
    except ValueError:
        raise Rejected(f"the BVH `Frame Time:` must be a number of seconds, found {time_text[:20]!r}") from None
    if not math.isfinite(frame_time) or not 0 < frame_time <= 10:
        raise Rejected(f"the BVH `Frame Time:` must be between 0 and 10 seconds, found {time_text[:20]!r}")
    seen = 0
    for number, line in lines:
        if not line:
            continue
        seen += 1
        if seen > frames:
            break
        values = line.split()
        if len(values) != channels:
            raise Rejected(f"the BVH frame on line {number} has {len(values)} values for {channels} channels")
        _numbers(values, f"frame on line {number}")
    if seen < frames:
        raise Rejected(f"the BVH declares {frames} frames but holds {seen} (the file is truncated)")
    return {
        "joints": joints,
        "frameCount": frames,
        "fps": round(1.0 / frame_time, 3),
        "durationSeconds": round(frames * frame_time, 3),
    }
