"""Issue 20, item 9: the local web server sends the security headers CloudFront sends on AWS - the template's
Content-Security-Policy (its AWS origins made the local stack's), nosniff, frame-ancestors/X-Frame-Options and a
referrer policy - on every answer. Before the fix it sent none."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from tests.e2e.test_web_csp import local_policy


def test_every_answer_carries_the_templates_security_headers(stack):
    live = urlsplit(requests.get(f"{stack.api_url}/websocket", timeout=10).json()["url"])
    policy = local_policy(stack.api_url, stack.endpoint, f"{live.scheme}://{live.netloc}", stack.stripe_url)
    for path in ("/", "/app.js", "/config.js", "/no-such-file"):
        response = requests.get(stack.web_url + path, timeout=10)
        headers = response.headers
        assert headers.get("Content-Security-Policy") == policy, path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers.get("X-Content-Type-Options") == "nosniff", path
        assert headers.get("X-Frame-Options") == "DENY", path
        assert headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", path
