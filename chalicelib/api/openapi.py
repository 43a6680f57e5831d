"""The OpenAPI 3.1 document, generated from app.py's routes (paths, auth, docstrings) and the operations' models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from chalicelib import settings
from chalicelib.api import models
from chalicelib.api.registry import OPERATIONS, Operation, unversioned

REF = "#/components/schemas/{model}"


def _schemas(operations: list[Operation]) -> tuple[dict[Any, dict], dict]:
    from pydantic.json_schema import models_json_schema  # only to write the document, never on a cold start

    wanted: list[tuple[type[BaseModel], Any]] = [(models.Error, "serialization")]
    for op in operations:
        if op.request is not None:
            wanted.append((op.request, "validation"))
        wanted += [(model, "serialization") for model in op.responses.values() if model is not None]
    refs, defs = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    return refs, defs.get("$defs", {})


def _parameters(path: str, query: type[BaseModel] | None) -> list[dict]:
    found = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 128}}
        for name in re.findall(r"{(\w+)}", path)
    ]
    if query is not None:
        schema = query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            prop.pop("default", None)
            prop.pop("title", None)
            if "anyOf" in prop:  # `X | None`: a query parameter is absent rather than null
                kept = [option for option in prop.pop("anyOf") if option.get("type") != "null"]
                prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
            found.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "description": prop.pop("description", ""),
                    "schema": prop,
                }
            )
    return found


def _response(description: str, ref: dict | None) -> dict:
    if ref is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _operation(route, op: Operation, refs: dict) -> dict:
    doc = (route.view_function.__doc__ or "").strip()
    summary, _, more = doc.partition("\n")
    spec: dict[str, Any] = {
        "operationId": route.view_name,
        "summary": summary.strip(),
        "tags": list(op.tags),
        "parameters": _parameters(route.uri_pattern, op.query),
        "responses": {
            **{
                str(status): _response(
                    "success" if status < 400 else "refused",
                    None if model is None else refs[(model, "serialization")],
                )
                for status, model in op.responses.items()
            },
            "4XX": _response("refused: see error.code", refs[(models.Error, "serialization")]),
            "5XX": _response("failed (INTERNAL_ERROR) or unavailable", refs[(models.Error, "serialization")]),
        },
    }
    if more.strip():
        spec["description"] = " ".join(more.split())
    if op.request is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(op.request, "validation")]}},
        }
    if op.raw_body:
        spec["requestBody"] = {
            "required": True,
            "description": "the sender's own event, authenticated by its signature header",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    if route.authorizer is not None:
        spec["security"] = [{"bearer": []}]
    return spec


def document(routes: dict) -> dict:
    """The OpenAPI 3.1 document of `routes` (Chalice's app.routes); KeyError names a route without an operation."""
    entries = []
    for path, methods in routes.items():
        if unversioned(path) != path:
            continue  # the /v1 twin of a route: the servers' base path says it
        for method, route in methods.items():
            op = OPERATIONS.get((method, path))
            if op is None:
                raise KeyError(f"{method} {path} has no operation in chalicelib/api/models.py")
            entries.append((route, op))
    refs, defs = _schemas([op for _, op in entries])
    paths: dict[str, dict] = {}
    for route, op in entries:
        paths.setdefault(route.uri_pattern, {})[route.method.lower()] = _operation(route, op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ai3d API",
            "version": settings.API_VERSION,
            "description": "The ai3d platform's HTTP API. Bodies are JSON; unknown fields, wrong types, NaN or "
            "Infinity, bodies over API_BODY_MAX_BYTES or nested deeper than API_JSON_MAX_DEPTH, and control "
            "characters in text are refused with 400 (413 for size) before anything is charged. Errors: "
            '{"error": {"code", "message"}}.',
        },
        "servers": [{"url": f"/{settings.API_VERSION}"}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


_built: dict[int, dict] = {}


def served(routes: dict) -> dict:
    """The document of `routes`, built once per process (the routes never change after import)."""
    if id(routes) not in _built:
        _built[id(routes)] = document(routes)
    return _built[id(routes)]
