"""The runtime validator (chalicelib/api/validation.py over the committed document) accepts and refuses exactly what
the pydantic models it was generated from do, with the same error code and the same checked values: hypothesis-made
and hand-picked hostile bodies and query strings, for every operation that takes a body or query parameters."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.api import models, spec, validation
from chalicelib.api.registry import OPERATIONS
from chalicelib.errors import ValidationError

BODIES = sorted(key for key, op in OPERATIONS.items() if op.request is not None)
QUERIES = sorted(key for key, op in OPERATIONS.items() if op.query is not None)
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12)  # parse_json refuses the rest first
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -0, 1, -1, 1.0, 0.5, 2**53, 2**53 + 1, 10**30, -(10**30), 1e300, "", " ", "0", "1", "true",
    "a" * 101, "a" * 4097, "pm_", "xpm_", "PM_x", "READ", "read", "USER", "ADMIN", "FREE", "PRO", "PENDING",
    "MOTION_CAPTURE", "__proto__", "é" * 100, "\U0001f600" * 60, [], ["read"], ["read", "read"], ["read"] * 4,
    ["x"], [None], {}, {"a": "b"}, {"a": 1}, {"__proto__": {"admin": True}}, [[[]]], {"a": {"b": [1, None]}},
]  # fmt: skip
HOSTILE_QUERY_VALUES = [
    "", " ", "0", "1", "5", " 5 ", "+5", "-5", "05", "5.0", "5.5", "5.", "1_0", "1__0", "_1", "1_", "0x5", "1e1",
    "\u0665", "\u00a05", "100", "101", "1" * 30, "true", "null", "PENDING", " PENDING", "pending", "a" * 4097,
    "2026-01-01", "\U0001f600",
]  # fmt: skip


def _pydantic_verdict(model: type[pydantic.BaseModel], data: dict, where: str) -> tuple[str, Any]:
    """What the models answered before: the checked fields, or the error code the API sent."""
    try:
        return "ok", model.model_validate(data).model_dump(exclude_unset=True)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "extra_forbidden":
            return "refused", "UNKNOWN_FIELD"
        if first["type"] == "missing":
            return "refused", "VALIDATION_ERROR"
        return "refused", getattr(model, "error_codes", {}).get(str(first["loc"][0]), "VALIDATION_ERROR")


def _runtime_verdict(check, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", check(*args)
    except ValidationError as exc:
        return "refused", exc.code


def _same_body(key: tuple[str, str], data: dict) -> None:
    expected = _pydantic_verdict(OPERATIONS[key].request, data, "")  # type: ignore[arg-type]
    got = _runtime_verdict(validation.body, spec.find(*key), json.dumps(data))
    assert got == expected, (key, data)


def _same_query(key: tuple[str, str], params: dict[str, str]) -> None:
    expected = _pydantic_verdict(OPERATIONS[key].query, params, "query parameter ")  # type: ignore[arg-type]
    got = _runtime_verdict(validation.query, spec.find(*key), params)
    assert got == expected, (key, params)


def _fields(model: type[pydantic.BaseModel]) -> list[str]:
    return list(model.model_fields)


def _near(schema: dict) -> list[Any]:
    """Values at and beside each bound and every allowed constant a field's schema names (through anyOf and $ref)."""
    schema = spec.checker().resolve(schema)
    found: list[Any] = list(schema.get("enum", [])) + ([schema["const"]] if "const" in schema else [])
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += _near(option)
    for key in ("minLength", "maxLength"):
        if key in schema:
            found += ["x" * n for n in (schema[key] - 1, schema[key], schema[key] + 1) if n >= 0]
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            found += [schema[key] - 1, schema[key], schema[key] + 1, float(schema[key])]
    if schema.get("type") == "object":
        found += [{}, {"videoAssetId": "a1"}, {"smoothing": 0.5, "hands": True}]
    if "pattern" in schema:
        found += ["pm_1", "pm_", "x"]
    for key in ("minItems", "maxItems"):
        if key in schema and "items" in schema:
            found += [["read"] * n for n in (schema[key] - 1, schema[key], schema[key] + 1) if n >= 0]
    return found


def _field_values(key: tuple[str, str], where: str) -> dict[str, st.SearchStrategy]:
    checks = spec.find(*key)
    schema = spec.checker().resolve(checks.body if where == "body" else checks.query)  # type: ignore[union-attr,arg-type]
    return {name: st.sampled_from(_near(prop) or [None]) for name, prop in schema["properties"].items()}


@st.composite
def _bodies(draw, key: tuple[str, str]) -> dict:
    near = _field_values(key, "body")
    tame = draw(st.booleans())  # every field at or beside its bounds: many bodies the model accepts
    body = {}
    for name, values in near.items():
        if tame or draw(st.integers(0, 3)):  # mostly present
            body[name] = draw(values if tame else values | st.sampled_from(HOSTILE_VALUES) | JSON_VALUES)
    if draw(st.integers(0, 5)) == 0:
        body[draw(TEXT)] = draw(JSON_VALUES)
    return body


@st.composite
def _queries(draw, key: tuple[str, str]) -> dict:
    near = _field_values(key, "query")
    params = {}
    for name, values in near.items():
        if draw(st.booleans()):
            params[name] = draw(values.map(str) | st.sampled_from(HOSTILE_QUERY_VALUES) | TEXT)
    if draw(st.integers(0, 5)) == 0:
        params[draw(TEXT)] = draw(TEXT)
    return params


@pytest.mark.parametrize("key", BODIES, ids=lambda k: f"{k[0]} {k[1]}")
def test_hostile_bodies_get_the_same_verdict_as_the_model(key):
    fields = _fields(OPERATIONS[key].request)  # type: ignore[arg-type]
    for value in HOSTILE_VALUES:
        _same_body(key, {"zzz": value})
        for name in fields:
            _same_body(key, {name: value})
            _same_body(key, dict.fromkeys(fields, value))
            _same_body(key, {**dict.fromkeys(fields, value), name: None})
    _same_body(key, {})


@pytest.mark.parametrize("key", QUERIES, ids=lambda k: f"{k[0]} {k[1]}")
def test_hostile_query_strings_get_the_same_verdict_as_the_model(key):
    fields = _fields(OPERATIONS[key].query)  # type: ignore[arg-type]
    for value in HOSTILE_QUERY_VALUES:
        _same_query(key, {"zzz": value})
        for name in fields:
            _same_query(key, {name: value})
            _same_query(key, dict.fromkeys(fields, value))
    _same_query(key, {})


@pytest.mark.parametrize("key", BODIES, ids=lambda k: f"{k[0]} {k[1]}")
def test_generated_bodies_get_the_same_verdict_as_the_model(key):
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_bodies(key))
    def check(body):
        _same_body(key, body)

    check()


@pytest.mark.parametrize("key", QUERIES, ids=lambda k: f"{k[0]} {k[1]}")
def test_generated_query_strings_get_the_same_verdict_as_the_model(key):
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_queries(key))
    def check(params):
        _same_query(key, params)

    check()


def test_the_validator_can_tell_them_apart():
    """The comparison is not vacuous: both refuse a wrong type and accept a good body, and a refusal differs."""
    key = ("POST", "/projects")
    assert _runtime_verdict(validation.body, spec.find(*key), '{"name": 1}') == ("refused", "INVALID_NAME")
    assert _runtime_verdict(validation.body, spec.find(*key), '{"name": "p"}') == ("ok", {"name": "p"})
    assert _pydantic_verdict(models.ProjectCreate, {"name": 1}, "") == ("refused", "INVALID_NAME")
