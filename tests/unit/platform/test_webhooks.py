"""Webhook destinations: resolved and checked at job creation and again at each delivery, connected to the address
that was checked (a name that moves to an internal address in between is refused), never redirected."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from chalicelib import settings, webhooks
from chalicelib.errors import ValidationError


def resolving(monkeypatch, *answers: str) -> None:
    """Make name lookups answer these addresses, one lookup after the other (addresses resolve to themselves)."""
    queue, real = list(answers), socket.getaddrinfo

    def lookup(host, port, *args, **kwargs):
        if host.replace(".", "").isdigit():
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (queue.pop(0), port))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://10.1.2.3/",
        "http://[::ffff:10.0.0.1]/",
        "http://user:pw@93.184.216.34/",
        "http://93.184.216.34:99999/",
        "javascript:alert(1)",
    ],
)
def test_internal_or_disguised_destinations_are_refused(url):
    with pytest.raises(ValidationError):
        webhooks.validate_url(url)


def test_a_name_resolving_to_any_internal_address_is_refused(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *args, **kwargs: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port)),
        ],
    )
    with pytest.raises(ValidationError):
        webhooks.validate_url("https://hooks.example.com/x")


def test_a_name_that_moves_to_loopback_after_creation_is_refused_at_delivery(monkeypatch):
    monkeypatch.setattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False)
    resolving(monkeypatch, "93.184.216.34", "127.0.0.1")
    assert webhooks.validate_url("https://hooks.example.com/x")  # public when the job was created
    with pytest.raises(ValidationError):
        webhooks.post("https://hooks.example.com/x", b"{}", {})  # rebound to loopback by delivery time


def test_delivery_connects_to_the_checked_address_with_the_urls_host(monkeypatch):
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append((self.headers["Host"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    resolving(monkeypatch, "127.0.0.1")
    try:
        status = webhooks.post(f"http://hooks.test:{server.server_port}/x?y=1", b"{}", {"X-A": "b"})
    finally:
        server.shutdown()
    assert status == 302 and seen == [(f"hooks.test:{server.server_port}", b"{}")]  # answered, not followed
