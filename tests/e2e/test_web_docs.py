"""The web app's API reference page (web/docs.html): Swagger UI from npm, served by the web server under the CSP
CloudFront sends, renders every operation of the document the API serves, in headless Chromium, with nothing blocked."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.stackutil import ROOT

CHROMIUM = Path("/usr/bin/chromium")


def test_the_api_reference_page_renders_every_operation_under_the_csp(stack):
    if not CHROMIUM.exists() or not shutil.which("node") or not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("needs Debian's chromium, node and `npm ci` (playwright-core)")
    page = requests.get(f"{stack.web_url}/docs.html", timeout=10)
    assert page.status_code == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(f"{stack.web_url}/vendor/swagger-ui/swagger-ui-bundle.js", timeout=10).status_code == 200
    document = requests.get(f"{stack.api_url}/openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in document["paths"].values())
    run = subprocess.run(
        ["node", str(ROOT / "tests" / "tools" / "csp_check.mjs"), f"{stack.web_url}/docs.html"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["violations"] == [] and report["consoleErrors"] == [], report
    assert report["result"] == {"operations": operations}, report
