"""Unit-test fixtures: moto in-process with the real template deployed, and a chalice test client."""

from __future__ import annotations

import os

import pytest

os.environ.pop("AWS_ENDPOINT_URL", None)  # unit tests never talk to a server


@pytest.fixture
def aws(monkeypatch):
    """moto in-process with infrastructure/template.yaml deployed; settings point at it."""
    from moto import mock_aws

    from chalicelib import settings
    from devstack.deploy import deploy
    from devstack.emulator.patch_atomic_dynamodb import serialize_dynamodb_writes

    serialize_dynamodb_writes()

    with mock_aws():
        outputs = deploy()
        for name, value in outputs.items():
            monkeypatch.setattr(settings, name, value)
        yield outputs


@pytest.fixture
def client(aws):
    """A chalice.test.Client on the app, backed by the moto fixture."""
    from chalice.test import Client

    from app import app

    with Client(app) as test_client:
        yield test_client
