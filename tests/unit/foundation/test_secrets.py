"""The JWT and webhook secrets: read from Secrets Manager on AWS (refused there when short or shared), from the
environment locally; none is ever a default in code."""

import pytest
from moto import mock_aws

from chalicelib import secrets, settings

GOOD = "j" * 48
OTHER = "w" * 48


@pytest.fixture
def on_aws(monkeypatch):
    """Settings as a Lambda function sees them (no local endpoint), with an empty secret cache."""
    monkeypatch.setattr(settings, "ON_AWS", True)
    monkeypatch.setattr(secrets, "_cache", {})


@pytest.fixture
def stored(on_aws, monkeypatch):
    """Two Secrets Manager secrets (moto) and the settings naming them; returns a setter for their values."""
    with mock_aws():
        from chalicelib.store.aws import client

        client.cache_clear()
        manager = client("secretsmanager")
        arns = {
            name: manager.create_secret(Name=f"ai3d-test-{name}", SecretString=GOOD if name == "jwt" else OTHER)["ARN"]
            for name in ("jwt", "webhook")
        }
        monkeypatch.setattr(settings, "JWT_SECRET_ARN", arns["jwt"])
        monkeypatch.setattr(settings, "WEBHOOK_SECRET_ARN", arns["webhook"])
        yield lambda name, value: manager.put_secret_value(SecretId=arns[name], SecretString=value)
        client.cache_clear()


def test_locally_the_environment_secrets_serve():
    assert secrets.jwt_secret() == settings.JWT_SECRET and secrets.webhook_secret() == settings.WEBHOOK_SECRET


def test_a_missing_or_short_secret_is_refused(monkeypatch):
    monkeypatch.setattr(settings, "JWT_SECRET", "")
    with pytest.raises(RuntimeError, match="no JWT secret"):
        secrets.jwt_secret()
    monkeypatch.setattr(settings, "WEBHOOK_SECRET", "")
    with pytest.raises(RuntimeError, match="no webhook secret"):
        secrets.webhook_secret()
    monkeypatch.setattr(settings, "JWT_SECRET", "s" * 16)
    with pytest.raises(RuntimeError, match="at least 32"):
        secrets.jwt_secret()


def test_on_aws_both_come_from_secrets_manager_and_a_rotation_is_picked_up(stored, monkeypatch):
    assert secrets.jwt_secret() == GOOD and secrets.webhook_secret() == OTHER
    stored("jwt", "r" * 40)
    assert secrets.jwt_secret() == GOOD  # cached ...
    monkeypatch.setattr(settings, "SECRET_CACHE_SECONDS", 0)
    assert secrets.jwt_secret() == "r" * 40  # ... until it is older than the cache's max age


def test_on_aws_a_bad_stored_secret_stops_the_function_at_start(stored, monkeypatch):
    secrets.check_at_start()  # both good and distinct
    monkeypatch.setattr(settings, "SECRET_CACHE_SECONDS", 0)
    stored("webhook", GOOD)
    with pytest.raises(RuntimeError, match="equal to the JWT secret"):
        secrets.check_at_start()
    stored("webhook", "short")
    with pytest.raises(RuntimeError, match="at least 32"):
        secrets.check_at_start()
    stored("webhook", OTHER)
    stored("jwt", "j" * 31)
    with pytest.raises(RuntimeError, match="at least 32"):
        secrets.check_at_start()


def test_a_function_given_only_the_webhook_secret_never_reads_the_jwt_secret(stored, monkeypatch):
    monkeypatch.setattr(settings, "JWT_SECRET_ARN", "")  # e.g. on_job_event: least privilege
    secrets.check_at_start()
    assert secrets.webhook_secret() == OTHER
