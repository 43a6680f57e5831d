"""Writing the OpenAPI 3.1 document from app.py's routes (paths, auth, docstrings) and the operations' models, at
build time only: `python -m chalicelib.api.openapi --write` (`make openapi`) regenerates the committed
chalicelib/api/openapi.json, which the API serves and validates requests with (chalicelib/api/spec.py)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from chalicelib import settings
from chalicelib.api import models
from chalicelib.api.registry import OPERATIONS, Operation
from chalicelib.api.spec import unversioned

REF = "#/components/schemas/{model}"
COMMITTED = Path(__file__).with_name("openapi.json")


def fields_model(model: type[BaseModel]) -> type[BaseModel]:
    """What `model` validates, as a schema: itself, or (when its documented schema is rewritten, as JobCreate's per
    job type) a twin `<Name>Fields` whose schema is the model's own fields."""
    if not callable(model.model_config.get("json_schema_extra")):
        return model
    config = ConfigDict(**{**model.model_config, "json_schema_extra": None})
    namespace = {"model_config": config, "__doc__": model.__doc__, "__module__": model.__module__}
    return type(f"{model.__name__}Fields", (model,), namespace)


def _schemas(operations: list[Operation]) -> tuple[dict[Any, dict], dict, dict]:
    wanted: list[tuple[type[BaseModel], Any]] = [(models.Error, "serialization")]
    checked: dict[type[BaseModel], type[BaseModel]] = {}
    for op in operations:
        for model in (op.request, op.query):
            if model is not None:
                checked[model] = checked.get(model) or fields_model(model)
                wanted += [(model, "validation"), (checked[model], "validation")]
        wanted += [(model, "serialization") for model in op.responses.values() if model is not None]
    refs, defs = models_json_schema(list(dict.fromkeys(wanted)), ref_template=REF)
    defs = defs.get("$defs", {})
    validated = {}
    for model, twin in checked.items():
        validated[model] = refs[(twin, "validation")]
        codes = getattr(model, "error_codes", {})
        if codes:
            defs[validated[model]["$ref"].rsplit("/", 1)[-1]]["x-error-codes"] = dict(codes)
    return refs, defs, validated


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


def _operation(route, op: Operation, refs: dict, validated: dict) -> dict:
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
    checks = {"body": op.request, "query": op.query}
    spec["x-validation"] = {where: validated[model] for where, model in checks.items() if model is not None}
    if op.raw_body:
        spec["x-validation"]["raw"] = True
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
    refs, defs, validated = _schemas([op for _, op in entries])
    paths: dict[str, dict] = {}
    for route, op in entries:
        paths.setdefault(route.uri_pattern, {})[route.method.lower()] = _operation(route, op, refs, validated)
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


def render(doc: dict) -> str:
    """The document as the committed file holds it."""
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (--write) or check (--check: exit 1 when it differs) the committed document of app.py's routes."""
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", action="store_true", help=f"regenerate {COMMITTED.name}")
    group.add_argument("--check", action="store_true", help=f"exit 1 when {COMMITTED.name} is out of date")
    args = parser.parse_args(argv)
    from app import app  # the routes, their docstrings and authorizers

    text = render(document(app.routes))
    if args.write:
        COMMITTED.write_text(text, encoding="utf-8")
        return 0
    if COMMITTED.read_text(encoding="utf-8") != text:
        print(f"{COMMITTED} is out of date: run `make openapi`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
