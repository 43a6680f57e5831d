"""The assets bucket: presigned uploads pinned to key, type and size; signed downloads; reading and deleting objects."""

from __future__ import annotations

import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

from chalicelib import settings
from chalicelib.store.aws import client


def _expiry(seconds: int) -> str:
    return datetime.fromtimestamp(time.time() + seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def presigned_upload(key: str, content_type: str, size: int) -> dict:
    """A presigned POST for exactly this key, Content-Type and byte count: {url, fields, expiresAt}."""
    post = client("s3").generate_presigned_post(
        Bucket=settings.ASSETS_BUCKET,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=settings.UPLOAD_URL_SECONDS,
    )
    return {"url": post["url"], "fields": post["fields"], "expiresAt": _expiry(settings.UPLOAD_URL_SECONDS)}


def download_link(key: str, filename: str, content_type: str) -> dict:
    """A signed GET URL that saves the object under `filename`: {url, expiresAt}."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(filename)}"
    url = client("s3").generate_presigned_url(
        "get_object",
        Params={
            "Bucket": settings.ASSETS_BUCKET,
            "Key": key,
            "ResponseContentDisposition": disposition,
            "ResponseContentType": content_type,
        },
        ExpiresIn=settings.DOWNLOAD_URL_SECONDS,
    )
    return {"url": url, "expiresAt": _expiry(settings.DOWNLOAD_URL_SECONDS)}


def head(key: str) -> tuple[int, str] | None:
    """The object's size in bytes and ETag (unquoted), or None when it is gone."""
    s3 = client("s3")
    try:
        found = s3.head_object(Bucket=settings.ASSETS_BUCKET, Key=key)
    except s3.exceptions.ClientError:
        return None
    return found["ContentLength"], found["ETag"].strip('"')


def copy(source: str, target: str) -> str:
    """Copy an object within the bucket; the copy's ETag (unquoted)."""
    copied = client("s3").copy_object(
        Bucket=settings.ASSETS_BUCKET, Key=target, CopySource={"Bucket": settings.ASSETS_BUCKET, "Key": source}
    )
    return copied["CopyObjectResult"]["ETag"].strip('"')


def keys_under(prefix: str):
    """Every object key under a prefix, page by page."""
    for page in client("s3").get_paginator("list_objects_v2").paginate(Bucket=settings.ASSETS_BUCKET, Prefix=prefix):
        yield from (item["Key"] for item in page.get("Contents", []))


def download(key: str, path: Path) -> Path:
    """Fetch an object to a local file."""
    client("s3").download_file(settings.ASSETS_BUCKET, key, str(path))
    return path


def delete(key: str) -> None:
    """Delete an object (no error when it is already gone)."""
    client("s3").delete_object(Bucket=settings.ASSETS_BUCKET, Key=key)
