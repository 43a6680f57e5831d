"""The embedded AWS emulator: moto's server on 127.0.0.1:4566, state-machine execution on, S3 POST policies enforced,
DynamoDB writes atomic."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

import requests

from devstack import wait_for_stop_signal


def enable_state_machine_execution(endpoint: str) -> None:
    """Tell moto to really run Step Functions executions (service integrations call back into it)."""
    requests.post(
        f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
    ).raise_for_status()


def make_app():
    """moto's WSGI app with the emulator's patches: DynamoDB writes made atomic, S3 POST policies enforced, a fresh
    task token per Step Functions retry, IAM judged as AWS judges it once enforcement is switched on
    (`python -m devstack --iam`)."""
    from moto.server import DomainDispatcherApplication, create_backend_app

    from devstack.emulator.patch_atomic_dynamodb import serialize_dynamodb_writes
    from devstack.emulator.patch_iam import enforce_like_aws
    from devstack.emulator.patch_s3_post_policy import S3PostPolicy
    from devstack.emulator.patch_sfn_retry_token import fresh_token_per_retry

    serialize_dynamodb_writes()
    fresh_token_per_retry()
    enforce_like_aws()
    return S3PostPolicy(DomainDispatcherApplication(create_backend_app))


def main() -> None:
    """Serve until SIGTERM/SIGINT (then take the last snapshot, with --state-dir)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--state-dir", type=Path, help="keep DynamoDB, S3 and SQS here across restarts (snapshots)")
    args = parser.parse_args()
    # moto's Step Functions integrations call the other services over HTTP on this port.
    os.environ["MOTO_PORT"] = str(args.port)
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        """Log only failed requests: workers long-poll SQS all the time."""

        def log_request(self, code="-", size="-"):
            if str(getattr(code, "value", code))[:1] in ("4", "5"):
                super().log_request(code, size)

    app, snapshots = make_app(), None
    if args.state_dir:
        from devstack.emulator.persistence import Gate, Recorded, Snapshots

        gate = Gate()
        app, snapshots = Recorded(app, gate), Snapshots(args.state_dir, gate)
        snapshots.claim()
        restored = snapshots.restore()
        print(f"emulator state {'restored from' if restored else 'kept in'} {args.state_dir}", flush=True)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    enable_state_machine_execution(f"http://{args.host}:{args.port}")
    if snapshots:
        threading.Thread(target=snapshots.run, daemon=True).start()
    print(f"AWS emulator (moto) listening on http://{args.host}:{args.port}", flush=True)
    wait_for_stop_signal()
    server.shutdown()
    if snapshots:
        snapshots.stop()
        print(f"emulator state saved ({snapshots.taken} snapshots)", flush=True)


if __name__ == "__main__":
    main()
