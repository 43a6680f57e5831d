"""The committed OpenAPI document (chalicelib/api/openapi.json, written from the models by chalicelib/api/openapi.py),
read once per process: served as GET /openapi.json, and each operation's body and query schemas for validation."""

from __future__ import annotations

import json
from functools import cache, lru_cache
from pathlib import Path

from chalicelib.api.schema import Checker
from chalicelib.settings import API_VERSION

DOCUMENT = Path(__file__).with_name("openapi.json")


class Checks:
    """One operation's request schemas (None: it takes no body / no query parameters) and their field -> error code
    tables (`x-error-codes`). (A plain class: a dataclass costs the cold start about a millisecond to build.)"""

    __slots__ = ("body", "body_codes", "query", "query_codes", "raw")

    def __init__(
        self, body: dict | None, query: dict | None, body_codes: dict, query_codes: dict, raw: bool = False
    ) -> None:
        self.body, self.query, self.body_codes, self.query_codes = body, query, body_codes, query_codes
        self.raw = raw  # the handler reads and authenticates the body itself (a signed webhook)


def unversioned(path: str) -> str:
    """A route's path without the /v1 prefix (the document lists each route once, under the /v1 server)."""
    prefix = f"/{API_VERSION}"
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :] or "/"
    return path


@cache
def document() -> dict:
    """The OpenAPI document as committed (read on the first call, then kept)."""
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@cache
def checker() -> Checker:
    """A schema checker over the document's components."""
    return Checker(document()["components"]["schemas"])


@lru_cache(maxsize=512)  # keyed by route patterns, so bounded anyway
def _checks(method: str, path: str) -> Checks | None:
    spec = document()["paths"].get(path, {}).get(method.lower())
    if spec is None:
        return None
    found = spec.get("x-validation", {})
    body, query = found.get("body"), found.get("query")

    def codes(schema: dict | None) -> dict[str, str]:
        return dict(checker().resolve(schema).get("x-error-codes", {})) if schema else {}

    return Checks(body, query, codes(body), codes(query), bool(found.get("raw")))


def find(method: str, path: str) -> Checks | None:
    """The checks of a route (its path with or without the /v1 prefix), if the document has it."""
    return _checks(method.upper(), unversioned(path))
