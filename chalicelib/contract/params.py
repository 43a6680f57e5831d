"""Parameter specs (type, bounds or choices, default) and their one validation, used by the API and the workers."""

from __future__ import annotations

import math
from typing import Any, NamedTuple


class InvalidParams(ValueError):
    """A param that can never work; the API answers 400 INVALID_PARAMS, a worker fails the stage without retry."""

    code = "INVALID_PARAMS"


def _number(value: float | None) -> str:
    """A bound as people write it: 2147483647, 0.5, 1e-05."""
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


class Param(NamedTuple):
    """One accepted param: its type, bounds or choices, default, the stages that receive it, and what it does."""

    kind: str  # "int" | "float" | "bool" | "str" | "list" (of choices) | "ratios" (a short decreasing list of ratios)
    stages: tuple[str, ...]
    doc: str
    default: Any = None  # None: absent unless given
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    max_items: int = 4  # for "ratios"

    def check(self, name: str, value: Any) -> Any:
        """The value normalised (int/float/bool/str/list), or InvalidParams saying what is accepted."""
        if self.kind == "ratios":
            if not isinstance(value, list) or len(value) > self.max_items:
                raise InvalidParams(f"params.{name} must be a list of at most {self.max_items} ratios")
            items = [Param("float", self.stages, self.doc, low=self.low, high=self.high).check(name, v) for v in value]
            if sorted(items, reverse=True) != items or len(set(items)) != len(items):
                raise InvalidParams(f"params.{name} must be strictly decreasing")
            return items
        if self.kind == "list":
            if not isinstance(value, list) or not value or any(item not in (self.choices or ()) for item in value):
                raise InvalidParams(f"params.{name} must be a list of {', '.join(map(str, self.choices or ()))}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidParams(f"params.{name} must be true or false")
            return value
        if self.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidParams(f"params.{name} must be a whole number")
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidParams(f"params.{name} must be a number")
            value = float(value)
        if self.kind == "str" and not isinstance(value, str):
            raise InvalidParams(f"params.{name} must be a string")
        if self.choices is not None and value not in self.choices:
            raise InvalidParams(f"params.{name} must be one of {', '.join(map(str, self.choices))}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise InvalidParams(f"params.{name} must be between {_number(self.low)} and {_number(self.high)}")
        return value

    def describe(self) -> dict:
        """The JSON description of this param (served to the web app and used by the CLI)."""
        out: dict[str, Any] = {"type": self.kind, "doc": self.doc}
        for name, value in (("default", self.default), ("min", self.low), ("max", self.high)):
            if value is not None:
                out[name] = value
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out

    def json_schema(self) -> dict:
        """The JSON Schema of this param (the OpenAPI document's description of it; `check` stays the judge)."""
        bounds: dict[str, Any] = {"minimum": self.low} if self.low is not None else {}
        if self.high is not None:
            bounds["maximum"] = self.high
        if self.kind == "ratios":
            item = {"type": "number", **bounds}
            schema: dict[str, Any] = {"type": "array", "items": item, "maxItems": self.max_items}
        elif self.kind == "list":
            schema = {"type": "array", "items": {"enum": list(self.choices or ())}, "minItems": 1}
        else:
            kind = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}[self.kind]
            schema = {"type": kind, **bounds}
            if self.choices is not None:
                schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        return {**schema, "description": self.doc}
