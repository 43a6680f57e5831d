"""A small JSON Schema checker for exactly the subset the generated OpenAPI document uses (types with strict JSON
semantics, object properties, string bounds and patterns, enum/const, number bounds, arrays, anyOf/oneOf, $ref into
components), so the API validates requests without pydantic on a cold start."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

Path = tuple[str | int, ...]


class Problem:
    """Why a value does not fit its schema: where (`loc`), what kind (missing, unknown, invalid) and a message.
    (A plain class: a dataclass costs the cold start about a millisecond to build.)"""

    __slots__ = ("kind", "loc", "message")

    def __init__(self, loc: Path, kind: str, message: str) -> None:
        self.loc, self.kind, self.message = loc, kind, message

    def __repr__(self) -> str:
        return f"Problem({self.loc!r}, {self.kind!r}, {self.message!r})"


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _is_type(value: Any, name: str) -> bool:
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported schema type {name}")


def _same(a: Any, b: Any) -> bool:
    """JSON equality: True is not 1, 1 is 1.0."""
    return (type(a) is type(b) and a == b) or (_is_type(a, "number") and _is_type(b, "number") and a == b)


class Checker:
    """Checks values against schemas whose $refs point into `components` (the document's components.schemas)."""

    def __init__(self, components: dict[str, dict]) -> None:
        self.components = components

    def resolve(self, schema: dict) -> dict:
        """The schema itself, or the component its $ref names."""
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def first_problem(self, value: Any, schema: dict, loc: Path = ()) -> Problem | None:
        """The first reason `value` does not fit `schema` (fields in declared order, then unknown ones), or None."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                fits = sum(self.first_problem(value, option, loc) is None for option in schema[key])
                if fits == 0 or (key == "oneOf" and fits > 1):
                    return Problem(loc, "invalid", "does not match any allowed form")
        kind = schema.get("type")
        if kind is not None:
            kinds = kind if isinstance(kind, list) else [kind]
            if not any(_is_type(value, name) for name in kinds):
                return Problem(loc, "invalid", f"expected {' or '.join(kinds)}")
        if "const" in schema and not _same(value, schema["const"]):
            return Problem(loc, "invalid", f"expected {schema['const']!r}")
        if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
            return Problem(loc, "invalid", "expected one of " + ", ".join(repr(o) for o in schema["enum"]))
        if isinstance(value, str):
            return self._string(value, schema, loc)
        if _is_type(value, "number"):
            return self._number(value, schema, loc)
        if isinstance(value, list):
            return self._array(value, schema, loc)
        if isinstance(value, dict):
            return self._object(value, schema, loc)
        return None

    @staticmethod
    def _string(value: str, schema: dict, loc: Path) -> Problem | None:
        if len(value) < schema.get("minLength", 0):
            return Problem(loc, "invalid", f"should have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return Problem(loc, "invalid", f"should have at most {schema['maxLength']} characters")
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            return Problem(loc, "invalid", f"should match {schema['pattern']!r}")
        return None

    @staticmethod
    def _number(value: float, schema: dict, loc: Path) -> Problem | None:
        bounds = (
            ("minimum", lambda v, b: v >= b, "greater than or equal to"),
            ("maximum", lambda v, b: v <= b, "less than or equal to"),
            ("exclusiveMinimum", lambda v, b: v > b, "greater than"),
            ("exclusiveMaximum", lambda v, b: v < b, "less than"),
        )
        for key, holds, words in bounds:
            if key in schema and not holds(value, schema[key]):
                return Problem(loc, "invalid", f"should be {words} {schema[key]}")
        return None

    def _array(self, value: list, schema: dict, loc: Path) -> Problem | None:
        if len(value) < schema.get("minItems", 0):
            return Problem(loc, "invalid", f"should have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return Problem(loc, "invalid", f"should have at most {schema['maxItems']} items")
        if "items" in schema:
            for index, item in enumerate(value):
                problem = self.first_problem(item, schema["items"], (*loc, index))
                if problem is not None:
                    return problem
        return None

    def _object(self, value: dict, schema: dict, loc: Path) -> Problem | None:
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        for name, sub in properties.items():
            if name not in value:
                if name in required:
                    return Problem((*loc, name), "missing", "missing")
                continue
            problem = self.first_problem(value[name], sub, (*loc, name))
            if problem is not None:
                return problem
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                continue
            if extra is False:
                return Problem((*loc, name), "unknown", "unknown field")
            if isinstance(extra, dict):
                problem = self.first_problem(item, extra, (*loc, name))
                if problem is not None:
                    return problem
        return None
