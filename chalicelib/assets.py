"""Assets: presigned direct-to-S3 uploads, the upload event that verifies the bytes, signed downloads."""
from __future__ import annotations

import json
import tempfile
import time
import unicodedata
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path

from chalicelib import jobs, probe, settings
from chalicelib.aws import client
from chalicelib.errors import PayloadTooLarge, ValidationError
from chalicelib.models import Asset, Project, User, now_iso
from chalicelib.observability import logger, tracer
from chalicelib.ownership import get_owned
from chalicelib.paging import page
from chalicelib.tokens import Principal

KINDS = tuple(settings.FORMATS)


def safe_filename(name: str, ext: str) -> str:
    """A display/download name: last path piece only, normalised, no control or quote characters."""
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '"<>|:*?')
    name = name.strip().lstrip(".").strip()[:200]
    return name or f"file.{ext}"


def to_json(asset: Asset, with_url: bool = False) -> dict:
    """The API shape of an asset; with a short-lived signed download URL when READY and asked for."""
    data = {
        "id": asset.id, "projectId": asset.project_id, "kind": asset.kind, "filename": asset.filename,
        "contentType": asset.content_type, "format": asset.format, "sizeBytes": int(asset.size_bytes),
        "status": asset.status, "metadata": asset.metadata or {}, "createdAt": asset.created_at,
        "updatedAt": asset.updated_at,
    }
    if asset.reject_reason:
        data["rejectReason"] = asset.reject_reason
    if asset.source_job_id:
        data["sourceJobId"], data["role"] = asset.source_job_id, asset.role
    if with_url and asset.status == "READY":
        data["download"] = download_link(asset)
    return data


def download_link(asset: Asset) -> dict:
    """A signed GET URL that saves the file under its own name."""
    ascii_name = asset.filename.encode("ascii", "replace").decode().replace("?", "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{urllib.parse.quote(asset.filename)}"
    url = client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": settings.ASSETS_BUCKET, "Key": asset.s3_key, "ResponseContentDisposition": disposition,
                "ResponseContentType": asset.content_type},
        ExpiresIn=settings.DOWNLOAD_URL_SECONDS,
    )
    expires = datetime.fromtimestamp(time.time() + settings.DOWNLOAD_URL_SECONDS, timezone.utc)
    return {"url": url, "expiresAt": expires.isoformat(timespec="seconds").replace("+00:00", "Z")}


def _upload_request(data: dict, tier: settings.Tier) -> tuple[str, str, str, int, str]:
    kind, filename, content_type, size = data.get("kind"), data.get("filename"), data.get("contentType"), data.get("sizeBytes")
    if kind not in settings.FORMATS:
        raise ValidationError(f"kind must be one of {', '.join(KINDS)}", code="INVALID_KIND")
    if not isinstance(filename, str) or not filename.strip() or len(filename) > 255:
        raise ValidationError("filename must be a non-empty string of at most 255 characters", code="INVALID_FILENAME")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    formats = settings.FORMATS[kind]
    if ext not in formats:
        raise ValidationError(f"{kind} files must be one of: {', '.join(sorted(formats))}", code="UNSUPPORTED_FORMAT")
    if not isinstance(content_type, str) or content_type.lower() not in formats[ext]:
        raise ValidationError(f"contentType for .{ext} must be one of: {', '.join(formats[ext])}", code="INVALID_CONTENT_TYPE")
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValidationError("sizeBytes must be a positive whole number", code="INVALID_SIZE")
    if size > tier.max_upload_bytes:
        raise PayloadTooLarge(f"files are limited to {tier.max_upload_bytes // (1024 * 1024)} MB on your tier",
                              code="FILE_TOO_LARGE")
    return kind, safe_filename(filename, ext), content_type.lower(), size, ext


def request_upload(principal: Principal, project_id: str, data: dict) -> dict:
    """Register an asset and return a presigned POST pinned to its key, type and exact size."""
    project = get_owned(Project, f"PROJECT#{project_id}", "PROJECT", principal, "project")
    owner = User.get(*User.key(project.owner_id))
    kind, filename, content_type, size, ext = _upload_request(data, settings.TIERS[owner.tier])
    asset_id, now = str(uuid.uuid4()), now_iso()
    key = f"uploads/{project.owner_id}/{project.id}/{asset_id}/source.{ext}"  # no user-supplied piece
    asset = Asset(f"ASSET#{asset_id}", "ASSET", id=asset_id, project_id=project.id, owner_id=project.owner_id, kind=kind,
                  filename=filename, content_type=content_type, format=ext, size_bytes=size, status="PENDING_UPLOAD",
                  s3_key=key, metadata={}, created_at=now, updated_at=now,
                  gsi1pk=f"PROJECT#{project.id}", gsi1sk=f"ASSET#{now}#{asset_id}")
    asset.save(condition=Asset.pk.does_not_exist())
    post = client("s3").generate_presigned_post(
        Bucket=settings.ASSETS_BUCKET, Key=key, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=settings.UPLOAD_URL_SECONDS,
    )
    expires = datetime.fromtimestamp(time.time() + settings.UPLOAD_URL_SECONDS, timezone.utc)
    return {"asset": to_json(asset), "upload": {"url": post["url"], "fields": post["fields"],
                                                "expiresAt": expires.isoformat(timespec="seconds").replace("+00:00", "Z")}}


def get(principal: Principal, asset_id: str) -> Asset:
    """An asset the caller may see, or NotFound."""
    return get_owned(Asset, f"ASSET#{asset_id}", "ASSET", principal, "asset")


def list_for_project(principal: Principal, project_id: str, params: dict) -> dict:
    """A project's assets, newest first, paginated."""
    project = get_owned(Project, f"PROJECT#{project_id}", "PROJECT", principal, "project")
    items, token = page(Asset.by_parent, "gsi1pk", f"PROJECT#{project.id}", params, Asset.gsi1sk.startswith("ASSET#"))
    return {"items": [to_json(a) for a in items], "nextToken": token}


def remove(asset: Asset) -> None:
    """Delete an asset's object and record."""
    client("s3").delete_object(Bucket=settings.ASSETS_BUCKET, Key=asset.s3_key)
    asset.delete()


def delete(principal: Principal, asset_id: str) -> None:
    """Delete one of the caller's assets."""
    remove(get(principal, asset_id))


# ---------------------------------------------------------------- the upload event
def _asset_for_key(key: str) -> Asset | None:
    parts = key.split("/")
    if len(parts) != 5 or parts[0] != "uploads":
        return None
    try:
        asset = Asset.get(f"ASSET#{parts[3]}", "ASSET", consistent_read=True)
    except Asset.DoesNotExist:
        return None
    return asset if asset.s3_key == key else None


def _probe(asset: Asset, path: Path, tier: settings.Tier) -> dict:
    if asset.kind == "IMAGE":
        return probe.image(path, asset.format)
    if asset.kind == "VIDEO":
        return probe.video(path, asset.format, tier.max_video_seconds, settings.MAX_VIDEO_PIXELS, settings.MAX_VIDEO_FRAMES)
    return probe.model(path, asset.format)


@tracer.capture_method
def process_upload(key: str, etag: str) -> str | None:
    """Verify one uploaded object, mark its asset READY or REJECTED, and start (or fail) the jobs waiting
    for it; returns the new status.

    Idempotent: an object version (ETag) already judged is skipped, so a replayed event changes nothing.
    """
    asset = _asset_for_key(key)
    if asset is None:
        logger.info("ignoring an object that is no asset", extra={"key": key})
        return None
    if asset.etag == etag and asset.status in ("READY", "REJECTED"):
        logger.info("upload already processed", extra={"asset_id": asset.id})
        return None
    s3 = client("s3")
    try:
        head = s3.head_object(Bucket=settings.ASSETS_BUCKET, Key=key)
    except s3.exceptions.ClientError:
        logger.info("object already gone", extra={"key": key})
        return None
    size = head["ContentLength"]
    owner = User.get(*User.key(asset.owner_id))
    tier = settings.TIERS[owner.tier]
    metadata, reason = {}, None
    if size > tier.max_upload_bytes:
        reason = "the file is larger than your tier allows"
    elif size != int(asset.size_bytes):
        reason = f"the file has {size} bytes but {int(asset.size_bytes)} were declared"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload.{asset.format}"
            s3.download_file(settings.ASSETS_BUCKET, key, str(path))
            try:
                metadata = _probe(asset, path, tier)
            except probe.Rejected as exc:
                reason = str(exc)
    status = "REJECTED" if reason else "READY"
    asset.update(actions=[Asset.status.set(status), Asset.metadata.set(metadata), Asset.etag.set(etag),
                          Asset.reject_reason.set(reason) if reason else Asset.reject_reason.remove(),
                          Asset.updated_at.set(now_iso())],
                 condition=Asset.pk.exists())
    if reason:
        s3.delete_object(Bucket=settings.ASSETS_BUCKET, Key=key)
    logger.info("upload verified", extra={"asset_id": asset.id, "status": status, "reason": reason})
    jobs.start_waiting(asset)
    return status


def s3_records(sqs_body: str) -> list[tuple[str, str]]:
    """(key, etag) of each ObjectCreated record in an S3 notification; the S3 test event yields none."""
    try:
        message = json.loads(sqs_body)
    except ValueError:
        logger.warning("upload event is not JSON", extra={"body": sqs_body[:200]})
        return []
    found = []
    for record in message.get("Records", []) if isinstance(message, dict) else []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = record.get("s3", {}).get("object", {})
        if obj.get("key"):
            found.append((urllib.parse.unquote_plus(obj["key"]), str(obj.get("eTag", "")).strip('"')))
    return found
