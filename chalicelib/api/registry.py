"""The table of operations: for each (method, path) of app.py, its request, query and response models (filled by
chalicelib/api/models.py, read when the document is written; never imported at run time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel


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
