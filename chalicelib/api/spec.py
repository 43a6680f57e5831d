"""The committed OpenAPI document (chalicelib/api/openapi.json, written from the models by chalicelib/api/openapi.py),
read once per process: served as GET /openapi.json, and each operation's body and query schemas for validation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from chalicelib.api.registry import unversioned
from chalicelib.api.schema import Checker

DOCUMENT = Path(__file__).with_name("openapi.json")


@dataclass(frozen=True)
class Checks:
    """One operation's request schemas (None: it takes no body / no query parameters) and their field -> error code
    tables (`x-error-codes`)."""

    body: dict | None = None
    query: dict | None = None
    body_codes: dict[str, str] = field(default_factory=dict)
    query_codes: dict[str, str] = field(default_factory=dict)


@cache
def document() -> dict:
    """The OpenAPI document as committed (read on the first call, then kept)."""
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@cache
def checker() -> Checker:
    """A schema checker over the document's components."""
    return Checker(document()["components"]["schemas"])


@cache
def _checks(method: str, path: str) -> Checks | None:
    spec = document()["paths"].get(path, {}).get(method.lower())
    if spec is None:
        return None
    found = spec.get("x-validation", {})
    body, query = found.get("body"), found.get("query")

    def codes(schema: dict | None) -> dict[str, str]:
        return dict(checker().resolve(schema).get("x-error-codes", {})) if schema else {}

    return Checks(body, query, codes(body), codes(query))


def find(method: str, path: str) -> Checks | None:
    """The checks of a route (its path with or without the /v1 prefix), if the document has it."""
    return _checks(method.upper(), unversioned(path))
