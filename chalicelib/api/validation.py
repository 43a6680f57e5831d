"""Checking a request against its operation before any handler runs: size and nesting before parsing, a JSON parse
that refuses NaN, Infinity and repeated keys, text without control characters or lone surrogates, then the operation's JSON Schemas from the committed OpenAPI document (query strings
converted to the declared types first)."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any

from chalicelib import settings
from chalicelib.api import spec
from chalicelib.api.schema import Problem
from chalicelib.api.spec import Checks
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


def _refusal(problem: Problem, codes: dict[str, str], where: str) -> ValidationError:
    field = ".".join(str(part) for part in problem.loc)
    if problem.kind == "unknown":
        return ValidationError(f"unknown field {where}{field}", code="UNKNOWN_FIELD")
    if problem.kind == "missing":
        return ValidationError(f"missing field {where}{field}")
    code = codes.get(str(problem.loc[0]) if problem.loc else "", "VALIDATION_ERROR")
    return ValidationError(f"{where}{field}: {problem.message}", code=code)


def body(checks: Checks, raw: bytes | str | None) -> dict:
    """The request body checked against the operation's schema: the fields the caller sent, as sent (no defaults); a
    route without a body schema takes none (or `{}`)."""
    if checks.raw:
        return {}  # read raw and authenticated by its handler (a signed webhook), in whatever shape its sender has
    data = parse_json(raw) if raw else {}
    if checks.body is None:
        if data != {}:
            raise ValidationError("this route takes no body (or an empty object)", code="UNKNOWN_FIELD")
        return {}
    if not isinstance(data, dict):
        raise _invalid_json("the body must be a JSON object")
    problem = spec.checker().first_problem(data, checks.body)
    if problem is not None:
        raise _refusal(problem, checks.body_codes, "")
    return data


_INTEGER = re.compile(r"[+-]?[0-9](?:_?[0-9])*(?:\.0+)?")
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})


def _declared_types(schema: dict) -> set[str]:
    """The JSON types a query parameter's schema admits (through $ref, anyOf and oneOf)."""
    schema = spec.checker().resolve(schema)
    found = set(schema["type"] if isinstance(schema.get("type"), list) else [schema.get("type")])
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _declared_types(option)
    return found - {None}


def convert(text: str, schema: dict) -> Any:
    """A query string's value as its declared type, as pydantic's lax mode reads it (integers with surrounding
    space, `_` between digits and a zero fraction; true/false words for booleans); the text unchanged when it is
    not one, for the schema to refuse."""
    kinds = _declared_types(schema)
    if "string" in kinds:
        return text
    stripped = text.strip()
    if "integer" in kinds and _INTEGER.fullmatch(stripped):
        return int(stripped.split(".")[0])
    if "number" in kinds:
        try:
            value = float(stripped)
        except ValueError:
            return text
        return value if math.isfinite(value) else text
    if "boolean" in kinds and stripped.lower() in _TRUE | _FALSE:
        return stripped.lower() in _TRUE
    return text


def query(checks: Checks, params: dict[str, str] | None) -> dict:
    """The query parameters checked against the operation's schema (none allowed when it has none)."""
    params = params or {}
    for name, value in params.items():
        check_text(name, "a query parameter name")
        check_text(value, f"query parameter {name}")
    if checks.query is None:
        if params:
            raise ValidationError(f"unknown query parameter {sorted(params)[0]}", code="UNKNOWN_FIELD")
        return {}
    properties = spec.checker().resolve(checks.query).get("properties", {})
    data = {name: convert(value, properties[name]) if name in properties else value for name, value in params.items()}
    problem = spec.checker().first_problem(data, checks.query)
    if problem is not None:
        raise _refusal(problem, checks.query_codes, "query parameter ")
    return data


def path_params(params: dict[str, str] | None) -> None:
    """400 when a path parameter carries a control character or a lone surrogate, or is over 128 characters."""
    for name, value in (params or {}).items():
        check_text(value, f"path parameter {name}")
        if len(value) > 128:
            raise ValidationError(f"path parameter {name} is over 128 characters", code="INVALID_ID")
