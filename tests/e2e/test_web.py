"""The web app in a real headless Chromium: sign up, upload a GLB, optimise it (meshopt) and view it; view a Draco GLB."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests
import trimesh
from PIL import Image

from container_workers.blender_worker import gltfpack
from tests.e2e.helpers import run_browser_script
from tests.stackutil import ROOT

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
VIEWER_BACKGROUND = (0x1D, 0x23, 0x30)


@pytest.fixture
def web_url(stack):
    """The stack's web app (`python -m devstack.web`, started by the supervisor) once it answers."""
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(f"{stack.web_url}/config.js", timeout=1).ok:
                return stack.web_url
        except requests.RequestException:
            pass
        if time.time() > deadline:
            pytest.fail(f"the web app did not answer at {stack.web_url}")
        time.sleep(0.2)


def test_static_server_refuses_traversal(web_url):
    """config.js is generated, three.js is served, and no path escapes the served directories."""
    config = requests.get(f"{web_url}/config.js", timeout=5)
    assert config.headers["Content-Type"].startswith("text/javascript") and "API_URL" in config.text
    assert requests.get(f"{web_url}/vendor/three/build/three.module.js", timeout=5).status_code == 200
    for path in (
        "/../app.py",
        "/%2e%2e/app.py",
        "/vendor/three/build/../../../package.json",
        "/vendor/three/build/%2e%2e/%2e%2e/%2e%2e/app.py",
    ):
        assert requests.get(f"{web_url}{path}", timeout=5).status_code == 404, path


def test_browser_uploads_optimizes_and_views(stack, web_url, tmp_path):
    """A person's path through the UI ends with the optimised model drawn in the viewer (not a blank canvas)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the browser test"
        )
    if not shutil.which("node") or not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("node and `npm ci` (playwright-core) are needed for the browser test")
    model = tmp_path / "icosphere.glb"
    model.write_bytes(trimesh.creation.icosphere(subdivisions=3).export(file_type="glb"))  # 1280 triangles
    draco = gltfpack.Pack(model, tmp_path / "draco.glb", gltfpack.Options(ratio=0.5, compression="draco")).result()

    result = run_browser_script("web_e2e.mjs", web_url, stack.api_url, str(tmp_path), str(model), str(draco))
    assert result["ok"], (
        f"{result.get('error')}\nsteps: {result['steps']}\nconsole: {result['consoleErrors']}\nscreenshot: {result.get('failureScreenshot')}"
    )
    assert result["apiKey"] == {"prefix": "a3d_", "keyListed": True, "keyWorks": 200, "keyAfterRevoke": 401}
    assert result["jobStatus"] == "COMPLETED"
    live = result["live"]  # progress came over the WebSocket, and the page did not poll the job while it ran
    assert live["transport"] == "websocket", live
    assert live["pushed"] and live["pushed"][-1] == ["COMPLETED", 100], live
    assert any(status == "PROCESSING" for status, _ in live["pushed"]), live
    assert live["foreign"] == 0 and live["pollsWhileRunning"] == 0, str(live)
    assert 300 <= result["triangles"] <= 900, result  # about half of 1280
    assert "EXT_meshopt_compression" in result["extensions"], result  # the stage's default output, decoded in the page
    assert "KHR_draco_mesh_compression" in result["draco"]["extensions"] and result["draco"]["triangles"] == 640
    assert result["creditsAfter"] != result["creditsBefore"]  # OPTIMIZE spent credits, and the header shows it

    box = result["viewerBox"]
    with Image.open(result["screenshot"]) as shot:
        canvas = shot.convert("RGB").crop(
            (int(box["x"]), int(box["y"]), int(box["x"] + box["width"]), int(box["y"] + box["height"]))
        )
    pixels = list(canvas.getdata())
    differing = sum(1 for p in pixels if max(abs(a - b) for a, b in zip(p, VIEWER_BACKGROUND)) > 24)
    assert len(set(pixels)) > 200, "the viewer canvas is nearly one colour"
    assert differing / len(pixels) > 0.05, f"only {differing} of {len(pixels)} viewer pixels differ from the background"
