"""CLI unit fixtures: a private config dir, `main()` run in-process, and the real app served over HTTP on moto in-process."""

from __future__ import annotations

import threading

import pytest

from tests.cli_result import Result
from tests.stackutil import free_port

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    """XDG_CONFIG_HOME in a temporary directory; no API or password from the caller's environment."""
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.delenv("AI3D_API", raising=False)
    monkeypatch.setenv("AI3D_PASSWORD", PASSWORD)
    return home


@pytest.fixture
def ai3d(capsys):
    """Run `ai3d ARGS...` in-process: ai3d("me", "--json") -> Result."""
    from ai3d.cli import main

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="module")
def api_url():
    """The Chalice app on chalice's local HTTP server (moto in-process, template deployed, S3 events driven)."""
    from chalice.config import Config
    from chalice.local import LocalDevServer
    from moto import mock_aws

    from chalicelib import settings
    from chalicelib.observability import metrics
    from devstack.api import GatewayResponses
    from devstack.deploy import deploy
    from devstack.emulator.patch_atomic_dynamodb import serialize_dynamodb_writes
    from devstack.events import EventRunner

    class QuietHandler(GatewayResponses):
        def log_message(self, *args) -> None:
            pass

    serialize_dynamodb_writes()
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        for name, value in deploy().items():
            patch.setattr(settings, name, value)
        # EMF metrics are printed to stdout; here they would mix with the CLI's output.
        patch.setattr(metrics, "flush_metrics", lambda *a, **k: metrics.clear_metrics())
        from app import app

        port = free_port()
        server = LocalDevServer(app, Config.create(app_name=app.app_name), "127.0.0.1", port, handler_cls=QuietHandler)
        server.server.daemon_threads = True
        threading.Thread(target=server.server.serve_forever, daemon=True).start()
        runner = EventRunner(app, log=lambda message: None)
        pollers = [
            threading.Thread(target=runner.poll_queue, args=(config,), daemon=True)
            for kind, config in runner.sources()
            if kind == "sqs"
        ]
        for poller in pollers:
            poller.start()
        yield f"http://127.0.0.1:{port}"
        runner.stop.set()
        server.server.shutdown()
        for poller in pollers:
            poller.join(timeout=5)


@pytest.fixture
def user(ai3d, api_url):
    """A registered, logged-in user: {"email", "api"}."""
    import uuid

    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    result = ai3d("register", "--api", api_url, "--email", email, "--json")
    assert result.code == 0, result.err
    return {"email": email, "api": api_url, "id": result.json["id"]}
