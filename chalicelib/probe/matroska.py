"""WebM / Matroska (EBML) in pure Python: one linear pass over the element headers, skipping every payload.

The EBML header names the document type; Info gives the time scale and duration; the first video TrackEntry
gives the codec, pixel size and frame duration; every SimpleBlock/Block of that track (laced frames included)
is one frame, and the last one's time gives the duration when Info has none (live recordings). Elements of
unknown size (live Segment and Cluster) are read as the containers they are.
"""

from __future__ import annotations

import struct
from pathlib import Path

from chalicelib.probe.common import WRONG_FORMAT, Binary, Budget, Rejected, finite

EBML, DOC_TYPE = 0x1A45DFA3, 0x4282
SEGMENT, INFO, TRACKS, TRACK_ENTRY, VIDEO, CLUSTER, BLOCK_GROUP = (
    0x18538067,
    0x1549A966,
    0x1654AE6B,
    0xAE,
    0xE0,
    0x1F43B675,
    0xA0,
)
TIMECODE_SCALE, DURATION, TRACK_NUMBER, TRACK_TYPE, CODEC_ID, DEFAULT_DURATION = (
    0x2AD7B1,
    0x4489,
    0xD7,
    0x83,
    0x86,
    0x23E383,
)
PIXEL_WIDTH, PIXEL_HEIGHT, CLUSTER_TIME, SIMPLE_BLOCK, BLOCK = 0xB0, 0xBA, 0xE7, 0xA3, 0xA1
CONTAINERS = {EBML, SEGMENT, INFO, TRACKS, TRACK_ENTRY, VIDEO, CLUSTER, BLOCK_GROUP}
LEAVES = {
    DOC_TYPE,
    TIMECODE_SCALE,
    DURATION,
    TRACK_NUMBER,
    TRACK_TYPE,
    CODEC_ID,
    DEFAULT_DURATION,
    PIXEL_WIDTH,
    PIXEL_HEIGHT,
    CLUSTER_TIME,
}
MAX_LEAF = 4096  # the leaves read here are numbers and short strings


def _vint(data: Binary, what: str, keep_marker: bool) -> tuple[int | None, int]:
    """(value, length) of an EBML variable-size integer; value None for the reserved 'unknown size'."""
    first = data.read(1, what)[0]
    if first == 0:
        raise Rejected(f"the WebM file has an invalid {what} at byte {data.tell() - 1}")
    length = 9 - first.bit_length()
    if keep_marker and length > 4:
        raise Rejected(f"the WebM file has an invalid element id at byte {data.tell() - 1}")
    rest = data.read(length - 1, what)
    value = first if keep_marker else first & (0xFF >> length)
    for byte in rest:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return None, length
    return value, length


def _uint(raw: bytes) -> int:
    return int.from_bytes(raw, "big") if raw else 0


class _Scan:
    """The state of the one pass: tracks, time scale, and the frames seen per track."""

    def __init__(self) -> None:
        self.doc_type = ""
        self.scale = 1_000_000
        self.duration: float | None = None
        self.tracks: list[dict] = []
        self.cluster_time = 0
        self.frames: dict[int, int] = {}
        self.last_time: dict[int, int] = {}

    def leaf(self, element: int, raw: bytes) -> None:
        track = self.tracks[-1] if self.tracks else None
        if element == DOC_TYPE:
            self.doc_type = raw.rstrip(b"\0").decode("ascii", "replace")
        elif element == TIMECODE_SCALE:
            self.scale = _uint(raw) or 1_000_000
        elif element == DURATION:
            if len(raw) not in (4, 8):
                raise Rejected("the WebM Duration field is not a 4- or 8-byte float")
            self.duration = finite(struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0], "the WebM Duration")
        elif element == CLUSTER_TIME:
            self.cluster_time = _uint(raw)
        elif track is not None:
            names = {
                TRACK_NUMBER: "number",
                TRACK_TYPE: "type",
                DEFAULT_DURATION: "frameNs",
                PIXEL_WIDTH: "width",
                PIXEL_HEIGHT: "height",
            }
            if element == CODEC_ID:
                track["codec"] = raw.rstrip(b"\0").decode("ascii", "replace")
            elif element in names:
                track[names[element]] = _uint(raw)

    def block(self, data: Binary, size: int) -> None:
        start = data.tell()
        number, length = _vint(data, "block track number", keep_marker=False)
        if number is None or size < length + 3:
            raise Rejected("a WebM block is too short for its header")
        timecode, flags = data.unpack(">hB", "a block header")
        frames = 1
        if flags & 0x06:  # lacing: the next byte holds the frame count minus one
            frames = data.read(1, "a block's lace count")[0] + 1
        self.frames[number] = self.frames.get(number, 0) + frames
        self.last_time[number] = max(self.last_time.get(number, 0), self.cluster_time + timecode)
        data.seek(start + size)


def probe(path: Path, budget: Budget) -> dict:
    """Width, height, codec, frame count, duration and frame rate of a WebM file's first video track."""
    size = path.stat().st_size
    scan = _Scan()
    with open(path, "rb") as f:
        if f.read(4) != b"\x1a\x45\xdf\xa3":
            raise Rejected("the file is not a WEBM video", WRONG_FORMAT)
        f.seek(0)
        data = Binary(f, size, "WebM file")
        count = 0
        while data.tell() < size:
            count += 1
            if count % 512 == 0:
                budget.check()
            element, _ = _vint(data, "element id", keep_marker=True)
            length, _ = _vint(data, "element size", keep_marker=False)
            if element in CONTAINERS:
                if element == TRACK_ENTRY:
                    scan.tracks.append({})
                continue  # read the children in line (an unknown size simply runs on)
            if length is None:
                raise Rejected(f"the WebM element 0x{element:X} has an unknown size")
            if data.tell() + length > size:
                raise Rejected(f"the WebM file is truncated: element 0x{element:X} runs past the end of the file")
            if element in (SIMPLE_BLOCK, BLOCK):
                scan.block(data, length)
            elif element in LEAVES:
                if length > MAX_LEAF:
                    raise Rejected(f"the WebM field 0x{element:X} is implausibly long ({length} bytes)")
                scan.leaf(element, data.read(length, f"element 0x{element:X}"))
            else:
                data.seek(data.tell() + length)
    if scan.doc_type not in ("webm", "matroska"):
        raise Rejected(f"the file is a {scan.doc_type or 'bare EBML'} document, not a WebM video", WRONG_FORMAT)
    video = next((t for t in scan.tracks if t.get("type") == 1), None)
    if video is None or "number" not in video:
        raise Rejected("the file has no video track")
    frames = scan.frames.get(video["number"], 0)
    if frames <= 0:
        raise Rejected("the video track holds no frames")
    frame_ns = video.get("frameNs") or 0
    if scan.duration:
        seconds = scan.duration * scan.scale / 1e9
    else:  # the last frame starts at last_time and lasts one frame
        last = scan.last_time.get(video["number"], 0) * scan.scale / 1e9
        seconds = last + frame_ns / 1e9 if frame_ns else last * frames / max(1, frames - 1)
    if seconds <= 0:
        raise Rejected("the video track's frames have no duration")
    fps = 1e9 / frame_ns if frame_ns else frames / seconds
    return {
        "width": video.get("width", 0),
        "height": video.get("height", 0),
        "rotation": 0,
        "codec": video.get("codec", ""),
        "frameCount": frames,
        "durationSeconds": seconds,
        "fps": fps,
    }
