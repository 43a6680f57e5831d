"""Security fixtures: a fresh user on the session's stack, webhook receivers, clients from other loopback addresses."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.openapi_check import answers_match_the_document  # noqa: F401 (an autouse fixture)
from tests.stackutil import ApiUser


@pytest.fixture
def user(stack):
    """A fresh registered user."""
    return ApiUser(stack.api_url)


def eventually(check: Callable[[], bool], seconds: float = 31, every: float = 0.5) -> bool:
    """True as soon as `check()` is; False if it never was within `seconds`."""
    deadline = time.time() + seconds
    while True:
        if check():
            return True
        if time.time() > deadline:
            return False
        time.sleep(every)


class _SourceAddress(HTTPAdapter):
    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A requests session whose connections leave from `address` (any 127.x.y.z is this machine)."""
    session = requests.Session()
    session.mount("http://", _SourceAddress(address))
    return session


class Receiver:
    """A local HTTP server recording the POSTs it gets; `answer(path) -> (status, headers)` decides the reply."""

    def __init__(self, answer: Callable[[str], tuple[int, dict]] = lambda path: (204, {})):
        received: list[tuple[str, dict, bytes]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers = answer(self.path)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    """A receiver answering 204 to every POST."""
    made = Receiver()
    yield made
    made.close()
