"""Settings every test layer shares: fake credentials, a fixed region, fast bcrypt."""

import os
import secrets

os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("BCRYPT_ROUNDS", "4")
os.environ.setdefault("REGISTER_MAX_PER_ADDRESS", "100000")  # tests sign up many users from 127.0.0.1
# In-process tests sign with secrets of their own; a stack the tests start generates its own (tests/stackutil.py).
os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
os.environ.setdefault("WEBHOOK_SECRET", secrets.token_urlsafe(48))


import pytest


@pytest.fixture(scope="session")
def stack():
    """The whole stack (emulator over HTTP, API, event runner, real workers), shared by integration and e2e tests."""
    from tests.stackutil import running_stack

    with running_stack() as running:
        yield running


def pytest_collection_modifyitems(items):
    """Mark each test with its tier (unit / integration / security / e2e) from its folder, so `-m` can pick tiers."""
    for item in items:
        tier = (
            item.path.relative_to(item.config.rootpath).parts[1]
            if item.path.is_relative_to(item.config.rootpath)
            else ""
        )
        if tier in ("unit", "integration", "security", "e2e"):
            item.add_marker(tier)
