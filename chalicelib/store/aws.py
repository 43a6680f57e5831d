"""AWS clients, created lazily once per process and reused (boto3 reads AWS_ENDPOINT_URL itself)."""

from __future__ import annotations

import functools

import boto3
from botocore.config import Config

from chalicelib import settings


@functools.cache
def client(service: str):
    """The shared boto3 client for `service` ("s3", "sqs", "stepfunctions", "dynamodb", "ssm")."""
    config = Config(
        retries={"mode": "standard", "max_attempts": 4}, signature_version="s3v4" if service == "s3" else None
    )
    return boto3.client(service, region_name=settings.REGION, config=config)
