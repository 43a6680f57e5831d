"""Validation of generation params: defaults for missing values, INVALID_PARAMS errors for wrong ones."""
from __future__ import annotations

from container_workers.common.stage import BadInputError

TEXTURE_SIZES = (256, 512, 1024, 2048, 4096)


def invalid(message: str) -> BadInputError:
    """The error for a param that can never work."""
    return BadInputError("INVALID_PARAMS", message)


def number(params: dict, name: str, default, low, high, integer: bool = False):
    """params[name] as an int or float in [low, high], or `default` when it is missing or null."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and float(value) != int(value)):
        raise invalid(f"{name} must be a {'whole ' if integer else ''}number between {low} and {high}.")
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}.")
    return int(value) if integer else float(value)


def choice(params: dict, name: str, default: str, options: tuple[str, ...]) -> str:
    """params[name] if it is one of `options`, or `default` when it is missing or empty."""
    value = params.get(name) or default
    if value not in options:
        raise invalid(f"{name} must be one of {', '.join(options)}.")
    return value


def texture_size(params: dict, default: int = 1024) -> int:
    """params["textureSize"], a power of two from 256 to 4096."""
    size = number(params, "textureSize", default, TEXTURE_SIZES[0], TEXTURE_SIZES[-1], integer=True)
    if size not in TEXTURE_SIZES:
        raise invalid(f"textureSize must be one of {', '.join(map(str, TEXTURE_SIZES))}.")
    return size
