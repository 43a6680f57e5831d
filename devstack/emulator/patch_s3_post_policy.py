"""Patch of the emulator: WSGI middleware that makes it enforce S3 presigned-POST policies as S3 does.

The moto gap it fills: moto accepts any browser-style POST upload; real S3 (and LocalStack) check the
signed policy's expiration and conditions (exact key and Content-Type, content-length-range...). This
checks them before moto sees the request and answers with S3's XML errors when one fails.

Checked against moto 5.2.5 (the gap is there). The canary test
tests/unit/devstack/test_emulator_canaries.py::test_moto_still_ignores_presigned_post_policies
runs unpatched moto and fails once moto closes the gap: then drop this module.
"""

from __future__ import annotations

import base64
import io
import json
import time
from datetime import datetime

from werkzeug.formparser import parse_form_data


def _error(start_response, code: str, message: str):
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    ).encode()
    start_response(
        "400 Bad Request" if code != "AccessDenied" else "403 Forbidden",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
    )
    return [body]


def check(policy_b64: str, fields: dict, size: int, bucket: str, now: float | None = None) -> tuple[str, str] | None:
    """(S3 error code, message) if the upload breaks its policy, else None."""
    try:
        policy = json.loads(base64.b64decode(policy_b64))
        expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."
    if (now or time.time()) > expires:
        return "AccessDenied", "Invalid according to Policy: Policy expired."
    values = {k.lower(): v for k, v in fields.items()}
    values["bucket"] = bucket
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            ((name, expected),) = condition.items()
            op = "eq"
        elif condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size > high:
                return "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            if size < low:
                return "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
            continue
        else:
            op, name, expected = condition[0], condition[1].lstrip("$"), condition[2]
        actual = values.get(name.lower())
        if (op == "eq" and actual != expected) or (op == "starts-with" and not str(actual or "").startswith(expected)):
            return (
                "AccessDenied",
                f'Invalid according to Policy: Policy Condition failed: ["{op}", "${name}", "{expected}"]',
            )
    return None


class S3PostPolicy:
    """Wraps the emulator's WSGI app."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        content_type = environ.get("CONTENT_TYPE", "")
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") != "POST"
            or not content_type.startswith("multipart/form-data")
            or path.count("/") != 1
            or environ.get("HTTP_AUTHORIZATION")
        ):
            return self.app(environ, start_response)
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        form_env = dict(environ, **{"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
        _, form, files = parse_form_data(form_env)
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        policy = form.get("policy") or form.get("Policy")
        if policy and "file" in files:
            size = len(files["file"].read())
            problem = check(policy, dict(form), size, bucket=path.strip("/"))
            if problem:
                return _error(start_response, *problem)
        return self.app(environ, start_response)
