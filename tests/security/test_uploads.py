"""Issue 20, item 8: an upload is single-use. Once its object is verified, replaying the presigned form (valid for
15 minutes) cannot replace what was verified: the asset's bytes stay those that were judged. And an image's pixel
count is checked from its header before any pixel is decoded. Before the fix a replayed form replaced the verified
file (the asset then downloaded the new bytes)."""

from __future__ import annotations

import struct
import time
import zlib

import requests


def test_a_replayed_upload_form_cannot_replace_a_verified_file(user):
    project = user.project()
    original = grey_png(64, 48, 10)
    ticket = user.upload(project, "a.png", original, "IMAGE", "image/png", wait=False)
    asset = user.wait_asset(ticket["asset"]["id"])
    assert asset["status"] == "READY"
    assert requests.get(asset["download"]["url"], timeout=10).content == original
    replacement = grey_png(64, 48, 250)
    assert len(replacement) == len(original)  # the same size: the form's content-length-range admits it
    requests.post(
        ticket["upload"]["url"],
        data=ticket["upload"]["fields"],
        files={"file": ("a.png", replacement, "image/png")},
        timeout=30,
    )
    time.sleep(3)  # time for the upload event of the replay, had it been accepted
    again = user.call("GET", f"/assets/{asset['id']}").json()
    assert again["status"] == "READY" and again["metadata"] == asset["metadata"], again
    assert requests.get(again["download"]["url"], timeout=10).content == original


def grey_png(width: int, height: int, level: int = 0) -> bytes:
    """A uniformly grey PNG of width x height (a few hundred bytes however many pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pack, row = zlib.compressobj(9), b"\0" + bytes([level]) * width
    pixels = b"".join(pack.compress(row) for _ in range(height)) + pack.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_a_169_megapixel_png_is_refused_from_its_header(user):
    started = time.time()
    asset = user.upload(user.project(), "huge.png", grey_png(13_000, 13_000), "IMAGE", "image/png")
    assert asset["status"] == "REJECTED" and asset["rejectCode"] == "LIMIT_EXCEEDED", asset
    assert "169.0 megapixels" in asset["rejectReason"] and time.time() - started < 20
