"""Pushing to WebSocket connections through API Gateway's management API (locally, devstack/ws.py plays it)."""

from __future__ import annotations

import functools
import json

import boto3
from botocore.config import Config

from chalicelib import settings


@functools.cache
def _client():
    config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5)
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=settings.WEBSOCKET_CALLBACK_URL,
        region_name=settings.REGION,
        config=config,
    )


def configured() -> bool:
    """True where a WebSocket API exists to push to."""
    return bool(settings.WEBSOCKET_CALLBACK_URL)


def send(connection_id: str, message: dict) -> bool:
    """Send one JSON message to a connection; False if the connection is gone."""
    client = _client()
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(message).encode())
    except client.exceptions.GoneException:
        return False
    return True
