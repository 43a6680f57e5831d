"""Serve the creators' web app (web/), the three.js and Swagger UI files it loads, and a config.js naming the API,
with the security headers CloudFront adds on AWS."""

from __future__ import annotations

import argparse
import json
import mimetypes
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from devstack import wait_for_stop_signal

ROOT = Path(__file__).resolve().parents[1]
THREE = ROOT / "node_modules" / "three"
SWAGGER_UI = ROOT / "node_modules" / "swagger-ui-dist"  # the API reference page's renderer (web/docs.html)
# URL prefix -> directory served under it (longest prefix first).
MOUNTS = [
    ("/vendor/swagger-ui/", SWAGGER_UI),
    ("/vendor/three/examples/jsm/", THREE / "examples" / "jsm"),
    ("/vendor/three/build/", THREE / "build"),
    ("/", ROOT / "web"),
]
STRIPE_ORIGINS = ("https://js.stripe.com", "https://hooks.stripe.com", "https://api.stripe.com")  # the CSP's
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
}


def resolve(url_path: str) -> Path | None:
    """The file a URL path names, or None when it is missing or outside its served directory."""
    for prefix, directory in MOUNTS:
        if url_path.startswith(prefix):
            relative = url_path[len(prefix) :] or "index.html"
            base = directory.resolve()
            target = (base / relative).resolve()
            if target != base and base not in target.parents:
                return None
            if target.is_dir():
                target = target / "index.html"
            return target if target.is_file() else None
    return None


def local_csp(csp: str, api_origin: str, assets_origin: str, ws_origin: str, stripe_origin: str) -> str:
    """The template's Content-Security-Policy with its AWS and Stripe origins made the local stack's."""
    csp = csp.replace("https://${RestAPI}.execute-api.${AWS::Region}.amazonaws.com", api_origin)
    csp = csp.replace("wss://${WebsocketAPI}.execute-api.${AWS::Region}.amazonaws.com", ws_origin)
    csp = re.sub(r"https://\$\{AssetsBucket\}\.s3\.(\$\{AWS::Region\}\.)?amazonaws\.com", assets_origin, csp)
    for origin in STRIPE_ORIGINS:  # the Stripe emulator serves the Stripe.js stand-in and the API
        csp = csp.replace(origin, stripe_origin)
    if "${" in csp:
        raise ValueError(f"the web app's CSP names an origin the local stack does not have: {csp}")
    return " ".join(csp.split())


def security_headers(api_origin: str, assets_origin: str, ws_origin: str, stripe_origin: str) -> dict[str, str]:
    """The headers of CloudFront's response-headers policy (infrastructure/template.yaml, WebSecurityHeaders: the one
    place the policy is written) with its AWS origins made the local stack's; HSTS is left out (plain HTTP here)."""
    from devstack.deploy import load_template

    policy = load_template()["Resources"]["WebSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    config = policy["SecurityHeadersConfig"]
    csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"]
    headers = {"Content-Security-Policy": local_csp(csp, api_origin, assets_origin, ws_origin, stripe_origin)}
    if "ContentTypeOptions" in config:
        headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = config["FrameOptions"]["FrameOption"]
    headers["Referrer-Policy"] = config["ReferrerPolicy"]["ReferrerPolicy"]
    return headers


LOCAL_PUBLISHABLE_KEY = "pk_test_local"  # the Stripe emulator takes any publishable key


def config_js(api_url: str, stripe_js_url: str, stripe_publishable_key: str) -> str:
    """The web app's /config.js: where the API is, and the Stripe.js to load with its publishable key."""
    return (
        f"export const API_URL = {json.dumps(api_url)};\n"
        f"export const STRIPE_JS_URL = {json.dumps(stripe_js_url)};\n"
        f"export const STRIPE_PUBLISHABLE_KEY = {json.dumps(stripe_publishable_key)};\n"
    )


class WebHandler(BaseHTTPRequestHandler):
    """GET/HEAD for static files plus the generated /config.js, each answer with the `headers` configured."""

    api_url = "http://127.0.0.1:8000"
    stripe_url = "http://127.0.0.1:8420"
    headers_sent: dict[str, str] = {}

    def do_GET(self) -> None:
        """Send a file (or config.js)."""
        self._serve(with_body=True)

    def do_HEAD(self) -> None:
        """Send a file's headers only."""
        self._serve(with_body=False)

    def _serve(self, with_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        if path == "/config.js":
            body = config_js(self.api_url, f"{self.stripe_url}/js.stripe.com/v3/", LOCAL_PUBLISHABLE_KEY).encode()
            return self._send(HTTPStatus.OK, "text/javascript", body, with_body)
        target = resolve(path)
        if target is None:
            return self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n", with_body)
        kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, kind, target.read_bytes(), with_body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, with_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        for name, value in self.headers_sent.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        """Log only failed requests (the supervisor prefixes each line)."""
        if len(args) > 1 and str(args[1]).startswith(("4", "5")):
            super().log_message(format, *args)


def main() -> None:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api", default="http://127.0.0.1:8000", help="the API's base URL, written into /config.js")
    parser.add_argument("--ws", default="ws://127.0.0.1:8001", help="the WebSocket API's origin (for the CSP)")
    parser.add_argument(
        "--assets-origin", default="http://127.0.0.1:4566", help="where presigned S3 URLs point (the emulator)"
    )
    parser.add_argument("--stripe", default="http://127.0.0.1:8420", help="the Stripe emulator (Stripe.js and API)")
    args = parser.parse_args()
    api, stripe = args.api.rstrip("/"), args.stripe.rstrip("/")
    headers = security_headers(api, args.assets_origin.rstrip("/"), args.ws.rstrip("/"), stripe)
    attributes = {"api_url": api, "stripe_url": stripe, "headers_sent": headers}
    handler = type("ConfiguredWebHandler", (WebHandler,), attributes)
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"web app at http://{args.host}:{args.port}", flush=True)
    wait_for_stop_signal()
    server.shutdown()


if __name__ == "__main__":
    main()
