"""Images (PNG, JPEG, WebP) with Pillow: the header first (format, size), then a decode bounded by the pixel limit."""

from __future__ import annotations

from pathlib import Path

from chalicelib.probe.common import LIMIT, WRONG_FORMAT, Budget, Rejected

PILLOW_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


def probe(path: Path, fmt: str, max_pixels: int, budget: Budget) -> dict:
    """Width, height, mode and alpha of an image whose pixels all decode; Rejected otherwise."""
    from PIL import Image, UnidentifiedImageError

    expected = PILLOW_FORMATS[fmt]
    try:
        with Image.open(path) as img:  # reads the header only
            actual, (width, height), mode = img.format, img.size, img.mode
    except Image.DecompressionBombError:
        raise Rejected("the image has too many pixels", LIMIT) from None
    except UnidentifiedImageError:
        raise Rejected(f"the file is not a {expected} image", WRONG_FORMAT) from None
    except Exception as exc:  # Pillow raises many types on a corrupt header
        raise Rejected(f"the {expected} header cannot be read ({type(exc).__name__}: {exc})") from None
    if actual != expected:
        raise Rejected(f"the file is a {actual or 'unknown'} image, not {expected}", WRONG_FORMAT)
    if width <= 0 or height <= 0:
        raise Rejected(f"the {expected} header gives an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise Rejected(
            f"the image is {width}x{height} ({width * height / 1e6:.1f} megapixels); "
            f"the largest accepted is {max_pixels / 1e6:.1f} megapixels",
            LIMIT,
        )
    budget.check()
    try:
        with Image.open(path) as img:
            if actual == "JPEG":  # every block still decodes, in 1/64 of the memory
                img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
            img.load()
    except Exception as exc:  # a truncated or corrupt stream, whatever the decoder raises
        raise Rejected(f"the {expected} pixel data cannot be decoded ({type(exc).__name__}: {exc})") from None
    return {"width": width, "height": height, "mode": mode, "hasAlpha": "A" in mode or mode == "P"}
