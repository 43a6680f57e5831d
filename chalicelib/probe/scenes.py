"""FBX, USDZ and .blend: the container checked without loading the scene (Blender does that in the worker).

FBX: the binary node records are walked at the top level (each must end inside the file, the list must
end with its null record), or an ASCII file shows its header. USDZ: the zip's directory is checked before
it is opened (entry count, sizes: a zip bomb is refused), entries must be stored uncompressed as the
format requires, with safe names, and the first must be a USD layer. .blend: its header.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path

from chalicelib.probe.common import LIMIT, WRONG_FORMAT, Binary, Budget, Rejected

FBX_MAGIC = b"Kaydara FBX Binary  \x00"
MAX_USDZ_ENTRIES = 10_000
MAX_USDZ_DIRECTORY = 16 * 1024 * 1024
USD_LAYER_MAGIC = {".usdc": b"PXR-USDC", ".usda": b"#usda"}


def probe_fbx(path: Path, budget: Budget) -> dict:
    """Version and encoding of an FBX; a binary one must hold its whole top-level node list."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
        if not head.startswith(FBX_MAGIC):
            if b"FBXHeaderExtension" in head and b"\0" not in head:
                return {"encoding": "ascii"}
            raise Rejected("the file is not an FBX", WRONG_FORMAT)
        data = Binary(f, size, "FBX file")
        data.seek(23)
        (version,) = data.unpack("<I", "the version")
        if not 6000 <= version < 10000:
            raise Rejected(f"the FBX version number is implausible ({version})")
        wide = version >= 7500
        header = "<QQQB" if wide else "<IIIB"
        nodes, offset = [], 27
        while True:
            budget.check()
            data.seek(offset)
            end, _, _, name_length = data.unpack(header, "a node record")
            if end == 0:
                break
            name = data.read(name_length, "a node name")
            if end <= offset or end > size:
                raise Rejected(f"the FBX is truncated: its {name.decode('latin-1')!r} node ends past the file")
            nodes.append(name.decode("latin-1"))
            offset = end
    if "Objects" not in nodes:
        raise Rejected("the FBX file has no Objects node")
    return {"fbxVersion": version, "encoding": "binary"}


def _zip_directory(path: Path, size: int) -> None:
    """Refuse a zip whose end record announces too many entries or too large a directory, before opening it."""
    with open(path, "rb") as f:
        f.seek(max(0, size - 65557))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise Rejected("the file is not a USDZ package (no zip directory)", WRONG_FORMAT)
    entries, directory = struct.unpack_from("<HI", tail, at + 10)
    if entries == 0xFFFF or directory == 0xFFFFFFFF:
        raise Rejected("the USDZ package is a zip64 archive; USDZ packages are plain zip files", LIMIT)
    if entries > MAX_USDZ_ENTRIES or directory > MAX_USDZ_DIRECTORY:
        raise Rejected(f"the USDZ package lists {entries} files; the most accepted is {MAX_USDZ_ENTRIES}", LIMIT)


def probe_usdz(path: Path, budget: Budget) -> dict:
    """File count of a USDZ whose entries are stored, safely named, inside the archive, led by a USD layer."""
    size = path.stat().st_size
    _zip_directory(path, size)
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = 0
            for info in infos:
                budget.check()
                name = info.filename
                if info.compress_type != zipfile.ZIP_STORED:
                    raise Rejected(f"the USDZ entry {name[:80]!r} is compressed; USDZ stores its files uncompressed")
                if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
                    raise Rejected(f"the USDZ entry {name[:80]!r} has an unsafe path")
                total += info.file_size
                if info.file_size != info.compress_size or total > size:
                    raise Rejected(f"the USDZ entry {name[:80]!r} claims more bytes than the package holds")
            if not infos:
                raise Rejected("the USDZ package is empty")
            first = infos[0].filename
            suffix = first[first.rfind(".") :].lower() if "." in first else ""
            if suffix not in (".usdc", ".usda", ".usd"):
                raise Rejected("the USDZ package does not start with a USD layer")
            with z.open(infos[0]) as layer:
                magic = layer.read(8)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise Rejected(f"the file is not a readable USDZ package ({type(exc).__name__}: {exc})") from None
    if suffix in USD_LAYER_MAGIC and not magic.startswith(USD_LAYER_MAGIC[suffix]):
        raise Rejected(f"the USDZ's first layer {first[:80]!r} is not a {suffix} file")
    if suffix == ".usd" and not magic.startswith((b"PXR-USDC", b"#usda")):
        raise Rejected(f"the USDZ's first layer {first[:80]!r} is not a USD file")
    return {"files": len(infos)}


def probe_blend(path: Path) -> dict:
    """Whether a .blend is compressed, and the Blender version that wrote it when the header says."""
    with open(path, "rb") as f:
        head = f.read(32)
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path) as g:
                head = g.read(32)
        except (OSError, EOFError) as exc:
            raise Rejected(f"the compressed .blend cannot be read ({exc})") from None
        if not head.startswith(b"BLENDER"):
            raise Rejected("the compressed file is not a .blend", WRONG_FORMAT)
        return {"compressed": True}
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return {"compressed": True}  # zstandard: Blender's own reader checks the inside
    if not head.startswith(b"BLENDER"):
        raise Rejected("the file is not a .blend", WRONG_FORMAT)
    digits = (head[9:12] if head[7:8] in (b"_", b"-") else head[13:17]).decode("ascii", "replace")
    return {
        "compressed": False,
        **({"blenderVersion": f"{int(digits) // 100}.{int(digits) % 100}"} if digits.isdigit() else {}),
    }
