"""Hold an HTTP answer to the OpenAPI document the stack serves: its status is documented for the route and its body
validates against that status's schema (JSON Schema 2020-12, the document's own dialect)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import jsonschema
import pytest
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:ai3d:openapi"


class ResponseChecker:
    """The served document of one API, compiled into a path matcher and schema validators."""

    def __init__(self, document: dict):
        self.document = document
        self.base = document["servers"][0]["url"].rstrip("/")
        self.registry = Registry().with_resource(DOCUMENT_URI, Resource(document, specification=DRAFT202012))
        self.routes = [(re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$"), path) for path in document["paths"]]

    @classmethod
    def served_by(cls, api_url: str) -> ResponseChecker:
        """The checker of the document the API at `api_url` serves."""
        response = requests.get(f"{api_url}/openapi.json", timeout=30)
        assert response.status_code == 200, response.text
        return cls(response.json())

    def template(self, path: str) -> str | None:
        """The document's path template a request path (with or without the /v1 base) falls under."""
        if path == self.base or path.startswith(self.base + "/"):
            path = path[len(self.base) :]
        return next((template for pattern, template in self.routes if pattern.match(path)), None)

    def check(self, method: str, url: str, status: int, body: bytes) -> None:
        """AssertionError unless the answer is one the document allows for this route (answers of paths the
        document does not have, which the gateway refuses, are not checked)."""
        template = self.template(urlsplit(url).path)
        if template is None or method.lower() not in self.document["paths"][template]:
            return
        responses = self.document["paths"][template][method.lower()]["responses"]
        spec = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
        assert spec is not None, f"{method} {template} answered {status}, which the document does not list"
        content = spec.get("content")
        if content is None:
            assert not body, f"{method} {template} {status} has a body the document does not describe: {body[:200]!r}"
            return
        schema = {"$ref": DOCUMENT_URI + content["application/json"]["schema"]["$ref"]}
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
        assert not errors, f"{method} {template} {status} breaks its schema: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message[:300]}" for e in errors[:5]
        )


_checkers: dict[str, ResponseChecker] = {}


def check_response(api_url: str, method: str, response: requests.Response) -> None:
    """Hold a response of the API at `api_url` to the document it serves (fetched once per API; once per answer)."""
    if getattr(response, "checked_against_openapi", False):
        return
    if api_url not in _checkers:
        _checkers[api_url] = ResponseChecker.served_by(api_url)
    _checkers[api_url].check(method, response.url, response.status_code, response.content)
    response.checked_against_openapi = True  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def answers_match_the_document(request, monkeypatch):
    """Every answer the shared stack's API gives a test (through `requests`, however the test sent it) must be one its
    OpenAPI document allows. Tests that do not use the shared stack are left alone."""
    if "stack" not in request.fixturenames:
        yield
        return
    api_url = request.getfixturevalue("stack").api_url
    if api_url not in _checkers:  # fetched before `send` is wrapped
        _checkers[api_url] = ResponseChecker.served_by(api_url)
    send = requests.Session.send

    def checked(session, prepared, **kwargs):
        response = send(session, prepared, **kwargs)
        if prepared.url.startswith(api_url + "/") and not kwargs.get("stream"):
            check_response(api_url, prepared.method, response)
        return response

    monkeypatch.setattr(requests.Session, "send", checked)
    yield
