"""The table of operations: for each (method, path) of app.py, its request, query and response models."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from chalicelib.settings import API_VERSION


@dataclass(frozen=True)
class Operation:
    """One route's schemas: the body and query models it validates with, and its answer's model per status (None: no
    body). Every operation may also answer 4XX with the error shape."""

    method: str
    path: str
    responses: dict[int, type[BaseModel] | None]
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    tags: tuple[str, ...] = field(default=())
    raw_body: bool = False  # the handler reads and authenticates the raw body itself (a signed webhook)


OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(
    method: str,
    path: str,
    responses: dict[int, type[BaseModel] | None],
    request: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    tag: str = "",
    raw_body: bool = False,
) -> Operation:
    """Declare the schemas of one route (its path as app.py writes it, without the /v1 prefix)."""
    key = (method.upper(), path)
    if key in OPERATIONS:
        raise ValueError(f"{method} {path} is declared twice")
    found = Operation(method.upper(), path, responses, request, query, (tag,) if tag else (), raw_body)
    OPERATIONS[key] = found
    return found


def find(method: str, path: str) -> Operation | None:
    """The operation of a route (its path with or without the /v1 prefix), if declared."""
    return OPERATIONS.get((method.upper(), unversioned(path)))


def unversioned(path: str) -> str:
    """A route's path without the /v1 prefix (the document lists each route once, under the /v1 server)."""
    prefix = f"/{API_VERSION}"
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :] or "/"
    return path
