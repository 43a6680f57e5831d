"""MP4 / MOV (ISO base media file format) in pure Python: the box tree, not the pictures.

Top-level boxes must tile the file (a cut-off `mdat` or `moov` is a truncated upload). From `moov`: the
movie header, and for the first video track its header (size, rotation matrix), media header (time scale),
sample description (codec, coded size) and sample tables (`stts` durations, `stsz` sizes, `stsc`/`stco`
chunks: the last chunk must end inside the file). Fragmented files add their `moof/traf/trun` samples.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path

from chalicelib.probe.common import LIMIT, WRONG_FORMAT, Binary, Budget, Rejected

QUICKTIME_FIRST = {b"ftyp", b"wide", b"free", b"skip", b"mdat", b"moov", b"pnot"}
MAX_MOOV_BYTES = 128 * 1024 * 1024
MAX_MOOF_BYTES = 16 * 1024 * 1024


def _top_level(data: Binary, budget: Budget) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload offset, end) of each top-level box; the boxes must tile the file."""
    offset = 0
    while offset < data.size:
        budget.check()
        data.seek(offset)
        if data.size - offset < 8:
            raise Rejected(f"the video has {data.size - offset} stray bytes at its end (a truncated box header)")
        size, kind = data.unpack(">I4s", "a box header")
        header = 8
        if size == 1:
            (size,) = data.unpack(">Q", f"the 64-bit size of the {_name(kind)} box")
            header = 16
        elif size == 0:
            size = data.size - offset
        if size < header:
            raise Rejected(f"the {_name(kind)} box at byte {offset} has an impossible size ({size})")
        if offset + size > data.size:
            raise Rejected(
                f"the video is truncated: its {_name(kind)} box needs {offset + size - data.size} bytes more"
            )
        yield kind, offset + header, offset + size
        offset += size


def _children(buf: bytes, start: int, end: int, where: str) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, end) of the boxes inside buf[start:end]."""
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise Rejected(f"the {where} box is cut short")
            (size,) = struct.unpack_from(">Q", buf, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise Rejected(f"the {_name(kind)} box inside {where} has an impossible size ({size})")
        yield kind, offset + header, offset + size
        offset += size


def _find(buf: bytes, start: int, end: int, path: str) -> tuple[int, int] | None:
    """The payload span of the first box along a path like 'mdia/minf/stbl'."""
    span: tuple[int, int] | None = (start, end)
    where = "trak"
    for name in path.split("/"):
        assert span is not None
        span = next(((s, e) for k, s, e in _children(buf, span[0], span[1], where) if k == name.encode()), None)
        if span is None:
            return None
        where = name
    return span


def _name(kind: bytes) -> str:
    return kind.decode("latin-1") if kind.isascii() and kind.decode("latin-1").isprintable() else repr(kind)


def _full_box(buf: bytes, span: tuple[int, int], fmt: str, name: str) -> tuple:
    """Unpack a full box's fields after its version/flags (fmt may depend on the version)."""
    start, end = span
    if end - start < 4 + struct.calcsize(fmt):
        raise Rejected(f"the {name} box is too short for its fields")
    return struct.unpack_from(fmt, buf, start + 4)


def _version(buf: bytes, span: tuple[int, int]) -> int:
    return buf[span[0]] if span[1] > span[0] else 0


def _table(buf: bytes, span: tuple[int, int] | None, header: str, row: str, name: str) -> tuple[tuple, list[tuple]]:
    """A sample table: its header fields (ending in an entry count) and its rows, the count checked against the box."""
    if span is None:
        raise Rejected(f"the video track has no {name} table")
    fields = _full_box(buf, span, header, name)
    count, row_size = fields[-1], struct.calcsize(row)
    first = span[0] + 4 + struct.calcsize(header)
    if count * row_size > span[1] - first:
        raise Rejected(f"the {name} table claims {count} entries but holds room for {(span[1] - first) // row_size}")
    return fields, list(struct.iter_unpack(row, buf[first : first + count * row_size]))


def _rotation(matrix: tuple) -> int:
    """Clockwise display rotation in degrees (0, 90, 180, 270) from a track's transformation matrix."""
    a, b = matrix[0] / 65536, matrix[1] / 65536
    return int(round(math.degrees(math.atan2(b, a)) / 90) * 90) % 360


class _Track:
    """What one `trak` box says about its samples."""

    def __init__(self, buf: bytes, start: int, end: int):
        self.buf = buf
        hdlr = _find(buf, start, end, "mdia/hdlr")
        self.handler = buf[hdlr[0] + 8 : hdlr[0] + 12] if hdlr and hdlr[1] - hdlr[0] >= 12 else b""
        self.start, self.end = start, end

    def read(self) -> dict:
        """Size, rotation, codec, time scale, frames, duration; Rejected when a table is broken."""
        buf, start, end = self.buf, self.start, self.end
        tkhd = _find(buf, start, end, "tkhd")
        if tkhd is None:
            raise Rejected("the video track has no header (tkhd)")
        if _version(buf, tkhd) == 1:
            fields = _full_box(buf, tkhd, ">QQII Q 8x hhhh 9i II", "tkhd")
        else:
            fields = _full_box(buf, tkhd, ">III I I 8x hhhh 9i II", "tkhd")
        track_id, matrix, width, height = fields[2], fields[9:18], fields[18] >> 16, fields[19] >> 16
        mdhd = _find(buf, start, end, "mdia/mdhd")
        if mdhd is None:
            raise Rejected("the video track has no media header (mdhd)")
        fmt = ">QQIQ" if _version(buf, mdhd) == 1 else ">IIII"
        timescale = _full_box(buf, mdhd, fmt, "mdhd")[2]
        if timescale <= 0:
            raise Rejected("the video track's time scale is 0")
        stbl = _find(buf, start, end, "mdia/minf/stbl")
        if stbl is None:
            raise Rejected("the video track has no sample table (stbl)")
        codec, coded = self._sample_entry(stbl)
        _, stts = _table(buf, _find(buf, *stbl, "stts"), ">I", ">II", "stts (sample durations)")
        frames = sum(count for count, _ in stts)
        ticks = sum(count * delta for count, delta in stts)
        return {
            "trackId": track_id,
            "width": width or coded[0],
            "height": height or coded[1],
            "rotation": _rotation(matrix),
            "codec": codec,
            "timescale": timescale,
            "frames": frames,
            "ticks": ticks,
            "stbl": stbl,
        }

    def _sample_entry(self, stbl: tuple[int, int]) -> tuple[str, tuple[int, int]]:
        stsd = _find(self.buf, *stbl, "stsd")
        if stsd is None or stsd[1] - stsd[0] < 8 + 8 + 28:
            raise Rejected("the video track has no sample description (stsd)")
        entry = stsd[0] + 8
        codec = self.buf[entry + 4 : entry + 8]
        width, height = struct.unpack_from(">HH", self.buf, entry + 8 + 24)
        return _name(codec).strip(), (width, height)

    def check_chunks(self, file_size: int) -> int:
        """The sample count of stsz; the last chunk of samples must end inside the file."""
        buf, stbl = self.buf, _find(self.buf, self.start, self.end, "mdia/minf/stbl")
        assert stbl is not None
        stsz = _find(buf, *stbl, "stsz")
        if stsz is None:
            raise Rejected("the video track has no sample sizes (stsz)")
        uniform, count = _full_box(buf, stsz, ">II", "stsz")
        sizes: list[int] = []
        if uniform == 0:
            _, rows = _table(buf, stsz, ">II", ">I", "stsz (sample sizes)")
            sizes = [s for (s,) in rows]
        stco, wide = _find(buf, *stbl, "stco"), False
        if stco is None:
            stco, wide = _find(buf, *stbl, "co64"), True
        _, offsets = _table(buf, stco, ">I", ">Q" if wide else ">I", "stco (chunk offsets)")
        _, stsc = _table(buf, _find(buf, *stbl, "stsc"), ">I", ">III", "stsc (samples per chunk)")
        if count and (not offsets or not stsc):
            raise Rejected("the video track has samples but no chunks")
        if not count:
            return 0
        last_per_chunk = stsc[-1][1]
        last = offsets[-1][0]
        tail = sizes[-last_per_chunk:] if sizes else [uniform] * min(last_per_chunk, count)
        if last + sum(tail) > file_size:
            raise Rejected(
                f"the video is truncated: its last frames end {last + sum(tail) - file_size} bytes past the file"
            )
        return count


def _fragments(
    data: Binary, spans: list[tuple[int, int]], track_id: int, default_duration: int, budget: Budget
) -> tuple[int, int]:
    """(frames, ticks) of a track in the file's movie fragments (moof/traf/tfhd+trun)."""
    frames = ticks = 0
    for start, end in spans:
        budget.check()
        if end - start > MAX_MOOF_BYTES:
            raise Rejected("a movie fragment header is too large", LIMIT)
        data.seek(start)
        buf = data.read(end - start, "a movie fragment")
        for kind, s, e in _children(buf, 0, len(buf), "moof"):
            if kind != b"traf":
                continue
            tfhd = _find(buf, s, e, "tfhd")
            if tfhd is None:
                raise Rejected("a movie fragment has no track header (tfhd)")
            flags = int.from_bytes(buf[tfhd[0] + 1 : tfhd[0] + 4], "big")
            (tid,) = _full_box(buf, tfhd, ">I", "tfhd")
            if tid != track_id:
                continue
            pos = tfhd[0] + 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
            duration = struct.unpack_from(">I", buf, pos)[0] if flags & 0x8 and pos + 4 <= tfhd[1] else default_duration
            for k, ts, te in _children(buf, s, e, "traf"):
                if k == b"trun":
                    frames, ticks = _trun(buf, ts, te, duration, frames, ticks)
    return frames, ticks


def _trun(buf: bytes, start: int, end: int, default: int, frames: int, ticks: int) -> tuple[int, int]:
    flags = int.from_bytes(buf[start + 1 : start + 4], "big")
    (count,) = _full_box(buf, (start, end), ">I", "trun")
    pos = start + 8 + (4 if flags & 0x1 else 0) + (4 if flags & 0x4 else 0)
    row = 4 * bin(flags & 0xF00).count("1")
    if count * row > end - pos:
        raise Rejected(f"a fragment's trun box claims {count} samples but holds room for {(end - pos) // max(1, row)}")
    if flags & 0x100:
        ticks += sum(struct.unpack_from(">I", buf, pos + i * row)[0] for i in range(count))
    else:
        ticks += count * default
    return frames + count, ticks


def probe(path: Path, fmt: str, budget: Budget) -> dict:
    """Width, height, rotation, codec, frame count, duration and frame rate of the file's first video track."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        data = Binary(f, size, "video")
        head = f.read(8)
        if len(head) < 8 or head[4:8] not in (QUICKTIME_FIRST if fmt == "mov" else {b"ftyp"}):
            raise Rejected(f"the file is not a {fmt.upper()} video", WRONG_FORMAT)
        moov, moofs = None, []
        for kind, start, end in _top_level(data, budget):
            if kind == b"moov":
                if end - start > MAX_MOOV_BYTES:
                    raise Rejected("the video's index (moov) is too large", LIMIT)
                moov = (start, end)
            elif kind == b"moof":
                moofs.append((start, end))
        if moov is None:
            raise Rejected("the video has no index (moov box): it is incomplete or not a finished recording")
        data.seek(moov[0])
        buf = data.read(moov[1] - moov[0], "the moov box")
        tracks = [_Track(buf, s, e) for k, s, e in _children(buf, 0, len(buf), "moov") if k == b"trak"]
        video = next((t for t in tracks if t.handler == b"vide"), None)
        if video is None:
            raise Rejected("the file has no video track")
        info = video.read()
        frames, ticks = info["frames"], info["ticks"]
        if frames:
            video.check_chunks(size)
        elif moofs:
            trex_default = 0
            mvex = _find(buf, 0, len(buf), "mvex")
            for kind, s, e in _children(buf, *mvex, "mvex") if mvex else ():
                if kind == b"trex" and _full_box(buf, (s, e), ">I", "trex")[0] == info["trackId"]:
                    trex_default = _full_box(buf, (s, e), ">IIII", "trex")[2]
            frames, ticks = _fragments(data, moofs, info["trackId"], trex_default, budget)
    if frames <= 0:
        raise Rejected("the video track holds no frames")
    duration = ticks / info["timescale"]
    if duration <= 0:
        raise Rejected("the video track's frames have no duration")
    return {
        "width": info["width"],
        "height": info["height"],
        "rotation": info["rotation"],
        "codec": info["codec"],
        "frameCount": frames,
        "durationSeconds": duration,
        "fps": frames / duration,
    }
