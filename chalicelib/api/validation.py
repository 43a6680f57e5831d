"""Checking a request against its operation before any handler runs: size and nesting before parsing, a JSON parse
that refuses NaN, Infinity and repeated keys, text without control characters or lone surrogates, then the models."""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

import pydantic

from chalicelib import settings
from chalicelib.api.registry import Operation
from chalicelib.errors import PayloadTooLarge, ValidationError

ALLOWED_CONTROLS = frozenset("\t\n\r")  # line breaks and tabs may appear in descriptions and prompts


def _invalid_json(message: str) -> ValidationError:
    return ValidationError(message, code="INVALID_JSON")


def nesting_depth(raw: str) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not count); read without
    parsing, so a hostile depth costs one pass and no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _constant(name: str) -> Any:
    raise _invalid_json(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _invalid_json(f"the number {text[:40]} is out of range")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _invalid_json("an object repeats a key")
    return data


def check_text(value: str, where: str) -> None:
    """400 when a string carries a control character (other than tab and line breaks) or a lone surrogate."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise ValidationError(f"{where} contains an unpaired surrogate", code="INVALID_TEXT")
        if category == "Cc" and char not in ALLOWED_CONTROLS:
            raise ValidationError(f"{where} contains a control character", code="INVALID_TEXT")


def _check_strings(value: Any, where: str) -> None:
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{where} (a key)")
            _check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{where}[{index}]")


def parse_json(raw: bytes | str) -> Any:
    """A JSON body as Python values, refusing what JSON or the platform cannot hold: over API_BODY_MAX_BYTES (413),
    nested over API_JSON_MAX_DEPTH, not UTF-8, NaN/Infinity or out-of-range numbers, repeated keys, and control
    characters or lone surrogates in any string (400)."""
    if len(raw) > settings.API_BODY_MAX_BYTES:
        raise PayloadTooLarge(f"the body is over {settings.API_BODY_MAX_BYTES} bytes", code="BODY_TOO_LARGE")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise _invalid_json("the body is not UTF-8") from None
    if nesting_depth(text) > settings.API_JSON_MAX_DEPTH:
        raise _invalid_json(f"the body nests deeper than {settings.API_JSON_MAX_DEPTH} levels")
    try:
        data = json.loads(text, parse_constant=_constant, parse_float=_finite, object_pairs_hook=_object)
    except ValidationError:
        raise
    except (ValueError, RecursionError):
        raise _invalid_json("the body is not valid JSON") from None
    _check_strings(data, "body")
    return data


def _refusal(model: type[pydantic.BaseModel], error: pydantic.ValidationError, where: str) -> ValidationError:
    first = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return ValidationError(f"unknown field {where}{field}", code="UNKNOWN_FIELD")
    if first["type"] == "missing":
        return ValidationError(f"missing field {where}{field}")
    code = getattr(model, "error_codes", {}).get(str(first["loc"][0]) if first["loc"] else "", "VALIDATION_ERROR")
    return ValidationError(f"{where}{field}: {first['msg']}", code=code)


def body(operation: Operation, raw: bytes | str | None) -> dict:
    """The request body checked against the operation's model: the fields the caller sent, as sent (no defaults); a
    route without a body model takes none (or `{}`)."""
    if operation.raw_body:
        return {}  # read raw and authenticated by its handler (a signed webhook), in whatever shape its sender has
    model = operation.request
    data = parse_json(raw) if raw else {}
    if model is None:
        if data != {}:
            raise ValidationError("this route takes no body (or an empty object)", code="UNKNOWN_FIELD")
        return {}
    if not isinstance(data, dict):
        raise _invalid_json("the body must be a JSON object")
    try:
        checked = model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _refusal(model, exc, "") from None
    return checked.model_dump(exclude_unset=True)


def query(operation: Operation, params: dict[str, str] | None) -> dict:
    """The query parameters checked against the operation's model (none allowed when it has none)."""
    params = params or {}
    for name, value in params.items():
        check_text(name, "a query parameter name")
        check_text(value, f"query parameter {name}")
    model = operation.query
    if model is None:
        if params:
            raise ValidationError(f"unknown query parameter {sorted(params)[0]}", code="UNKNOWN_FIELD")
        return {}
    try:
        checked = model.model_validate(params)
    except pydantic.ValidationError as exc:
        raise _refusal(model, exc, "query parameter ") from None
    return checked.model_dump(exclude_unset=True)


def path_params(params: dict[str, str] | None) -> None:
    """400 when a path parameter carries a control character or a lone surrogate, or is over 128 characters."""
    for name, value in (params or {}).items():
        check_text(value, f"path parameter {name}")
        if len(value) > 128:
            raise ValidationError(f"path parameter {name} is over 128 characters", code="INVALID_ID")
