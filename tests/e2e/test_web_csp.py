"""The web app's Content-Security-Policy, as CloudFront sends it (infrastructure/template.yaml), lets the viewer work:
a page with index.html's import map runs the viewer in headless Chromium under that policy (its AWS origins made the
local stack's) and decodes a meshopt GLB from the asset bucket and a Draco GLB, with nothing blocked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import boto3
import pytest
import requests
import trimesh
from botocore.config import Config

from container_workers.blender_worker import gltfpack
from devstack.deploy import load_template
from devstack.web import WebHandler
from tests.stackutil import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHECK_JS = """import { Viewer } from "/viewer.js";
const query = new URLSearchParams(location.search);
const viewer = new Viewer(document.getElementById("viewer"));
try {
  const result = {};
  for (const name of ["meshopt", "draco"]) {
    result[name] = { triangles: await viewer.load(query.get(name), name) };
    result[name].extensions = document.getElementById("viewer").dataset.extensions;
  }
  document.body.dataset.result = JSON.stringify(result);
} catch (error) {
  document.body.dataset.error = String(error.message || error);
}
"""


def local_policy(api: str, bucket: str, ws: str) -> str:
    """The template's CSP with the API's, the WebSocket API's and the bucket's AWS origins replaced by the local
    stack's."""
    policy = load_template()["Resources"]["WebSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    text = policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    text = text.replace("https://${RestAPI}.execute-api.${AWS::Region}.amazonaws.com", api)
    text = text.replace("wss://${WebsocketAPI}.execute-api.${AWS::Region}.amazonaws.com", ws)
    text = re.sub(r"https://\$\{AssetsBucket\}\.s3\.(\$\{AWS::Region\}\.)?amazonaws\.com", bucket, text)
    assert "${" not in text, text
    return " ".join(text.split())


def test_the_viewer_decodes_meshopt_and_draco_under_the_content_security_policy(stack, tmp_path):
    if not CHROMIUM.exists() or not shutil.which("node") or not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("needs Debian's chromium, node and `npm ci` (playwright-core)")
    model = tmp_path / "sphere.glb"
    model.write_bytes(trimesh.creation.icosphere(subdivisions=3).export(file_type="glb"))
    meshopt = gltfpack.Pack(model, tmp_path / "meshopt.glb", gltfpack.Options(ratio=0.5)).result()
    draco = gltfpack.Pack(model, tmp_path / "draco.glb", gltfpack.Options(ratio=0.5, compression="draco")).result()
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4"),
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = stack.outputs["ASSETS_BUCKET"]
    s3.put_object(Bucket=bucket, Key="outputs/csp-check/meshopt.glb", Body=meshopt.read_bytes())
    meshopt_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "outputs/csp-check/meshopt.glb"}
    )

    import_map = re.search(r'<script type="importmap">.*?</script>', (ROOT / "web" / "index.html").read_text(), re.S)
    pages = {
        "/csp-check.html": (
            "text/html",
            f"<!doctype html><html><head>{import_map.group(0)}"
            '<script type="module" src="/csp-check.js"></script></head>'
            '<body><div id="viewer"></div></body></html>',
        ),
        "/csp-check.js": ("text/javascript", CHECK_JS),
        "/models/draco.glb": ("model/gltf-binary", draco.read_bytes()),
    }
    origin = lambda url: "{0.scheme}://{0.netloc}".format(urlsplit(url))  # noqa: E731
    live = requests.get(f"{stack.api_url}/websocket", timeout=10).json()["url"]
    policy = local_policy(origin(stack.api_url), origin(meshopt_url), origin(live))

    class Handler(WebHandler):
        """The local web server, sending the CloudFront policy and serving the check page."""

        def end_headers(self) -> None:
            self.send_header("Content-Security-Policy", policy)
            super().end_headers()

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path not in pages:
                return super().do_GET()
            kind, body = pages[path]
            return self._send(200, kind, body.encode() if isinstance(body, str) else body, True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = (
            f"http://127.0.0.1:{server.server_port}/csp-check.html"
            f"?meshopt={quote(meshopt_url, safe='')}&draco=/models/draco.glb"
        )
        run = subprocess.run(
            ["node", str(ROOT / "tests" / "tools" / "csp_check.mjs"), url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.shutdown()
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["violations"] == [] and report["result"], report
    assert "EXT_meshopt_compression" in report["result"]["meshopt"]["extensions"]
    assert "KHR_draco_mesh_compression" in report["result"]["draco"]["extensions"]
    assert report["result"]["meshopt"]["triangles"] > 0 and report["result"]["draco"]["triangles"] > 0
