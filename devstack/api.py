"""Serve the Chalice app over HTTP like API Gateway does (chalice local's server, JSON gateway errors)."""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, LocalGateway, ThreadedHTTPServer

from devstack import wait_for_stop_signal

GATEWAY_CODES = {
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    500: "INTERNAL_ERROR",
}


class PerThread:
    """An attribute with one value per thread. Chalice keeps the request being served in `app.current_request`, one
    attribute for the process: right on Lambda (one request at a time), wrong in this threaded server, where two
    concurrent requests would read each other's (a handler saw another caller's request, without its authorizer)."""

    def __init__(self) -> None:
        self.values = threading.local()

    def __get__(self, owner: object, kind: type | None = None) -> object:
        return self if owner is None else getattr(self.values, "value", None)

    def __set__(self, owner: object, value: object) -> None:
        self.values.value = value


def per_thread_requests(app_class: type) -> None:
    """Make the request and Lambda context Chalice holds per thread."""
    app_class.current_request = PerThread()  # type: ignore[attr-defined]
    app_class.lambda_context = PerThread()  # type: ignore[attr-defined]


class GatewayResponses(ChaliceRequestHandler):
    """Errors raised by the gateway itself (missing token, unknown route) in the API's JSON error shape,
    as the template's API Gateway responses produce them on AWS; and the caller's real address as `sourceIp`, as
    API Gateway gives it (chalice local says 127.0.0.1 for everyone; login throttling counts per address)."""

    def __init__(self, request, client_address, server, app_object, config) -> None:
        self.local_gateway = LocalGateway(app_object, config)
        self.local_gateway.event_converter.LOCAL_SOURCE_IP = client_address[0]
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _send_error_response(self, error) -> None:
        try:
            message = json.loads(error.body or b"{}")
            message = message.get("message") or message.get("Message") or "request refused"
        except ValueError:
            message = "request refused"
        body = json.dumps({"error": {"code": GATEWAY_CODES.get(error.CODE, "ERROR"), "message": message}}).encode()
        self._send_http_response(error.CODE, {**error.headers, "Content-Type": "application/json"}, body)

    def method_not_allowed(self) -> None:
        """A method no route has (TRACE, QUERY...): 405 in the error shape (http.server would answer 501 in HTML)."""
        body = json.dumps({"error": {"code": "METHOD_NOT_ALLOWED", "message": f"{self.command} is not supported"}})
        self.close_connection = True  # its body (if any) is not read: the connection must not carry it into the next
        self._send_http_response(405, {"Content-Type": "application/json", "Connection": "close"}, body.encode())

    def __getattr__(self, name: str):
        """http.server looks up `do_<METHOD>`; the methods chalice local does not serve get `method_not_allowed`."""
        if name.startswith("do_"):
            return self.method_not_allowed
        raise AttributeError(name)


class BurstTolerantServer(ThreadedHTTPServer):
    """One thread per connection with a listen backlog that absorbs bursts (the default of 5 resets connections)."""

    request_queue_size = 1024
    daemon_threads = True


def main() -> None:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    from chalice import Chalice

    per_thread_requests(Chalice)
    from app import app

    server = LocalDevServer(
        app,
        Config.create(app_name=app.app_name, lambda_timeout=900),
        args.host,
        args.port,
        handler_cls=GatewayResponses,
        server_cls=BurstTolerantServer,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    wait_for_stop_signal()
    server.shutdown()
    server.server.server_close()  # the port is free at once, even if the interpreter is slow to exit


if __name__ == "__main__":
    main()
