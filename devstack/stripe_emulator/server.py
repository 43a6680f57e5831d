"""Run the Stripe emulator (localstripe, patched) on 127.0.0.1:<port> with its snapshot in the stack's state dir.

`python -m devstack.stripe_emulator.server --port N --state-dir DIR --webhook-url URL`; the local stack starts it and
health-checks GET /js.stripe.com/v3/ (the Stripe.js stand-in it serves). It sends events to the API's webhook
URL signed with STRIPE_WEBHOOK_SECRET (from the environment) - the event types the API handles, as one registers
an endpoint in Stripe - registered at each start since localstripe keeps webhook endpoints in memory only.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from devstack import watch_parent


def main() -> None:
    """Serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--webhook-url", help="where to send events (signed with STRIPE_WEBHOOK_SECRET)")
    args = parser.parse_args()
    args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    from devstack.stripe_emulator import patch_payment_failure, patch_persistence, patch_proration

    patch_persistence.apply(args.state_dir / "stripe.pickle")
    patch_proration.apply()
    patch_payment_failure.apply()
    from aiohttp import web
    from localstripe import server
    from localstripe.webhooks import register_webhook

    from devstack.stripe_emulator import patch_stripe_js

    patch_stripe_js.apply()
    server.store.try_load_from_disk()
    if args.webhook_url:
        secret = os.environ.get("STRIPE_WEBHOOK_SECRET")
        if not secret:
            raise SystemExit("--webhook-url needs STRIPE_WEBHOOK_SECRET in the environment")
        from chalicelib.billing.webhook import INVOICE_EVENTS, SUBSCRIPTION_EVENTS

        register_webhook("ai3d", args.webhook_url, secret, [*INVOICE_EVENTS, *SUBSCRIPTION_EVENTS])  # what it handles
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    watch_parent()  # run_app stops on SIGTERM
    web.run_app(server.app, host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
