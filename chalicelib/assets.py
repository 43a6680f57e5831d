"""Assets: presigned direct-to-S3 uploads, the upload event that verifies the bytes, signed downloads."""

from __future__ import annotations

import json
import tempfile
import unicodedata
import urllib.parse
import uuid
from pathlib import Path

from chalicelib import probe, settings, views
from chalicelib.contract import formats, keys, statuses
from chalicelib.errors import PayloadTooLarge, ValidationError
from chalicelib.observability import logger, tracer
from chalicelib.ownership import get_owned
from chalicelib.paging import page
from chalicelib.store import storage
from chalicelib.store.db import Asset, Job, Project, User, now_iso
from chalicelib.tokens import Principal


def safe_filename(name: str, ext: str) -> str:
    """A display/download name: last path piece only, normalised, no control or quote characters."""
    name = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in '"<>|:*?')
    name = name.strip().lstrip(".").strip()[:200]
    return name or f"file.{ext}"


def _upload_request(data: dict, tier: settings.Tier) -> tuple[str, str, str, int, str]:
    kind, filename, content_type, size = (
        data.get("kind"),
        data.get("filename"),
        data.get("contentType"),
        data.get("sizeBytes"),
    )
    if kind not in formats.UPLOADS:
        raise ValidationError(f"kind must be one of {', '.join(statuses.ASSET_KINDS)}", code="INVALID_KIND")
    if not isinstance(filename, str) or not filename.strip() or len(filename) > 255:
        raise ValidationError("filename must be a non-empty string of at most 255 characters", code="INVALID_FILENAME")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    accepted = formats.UPLOADS[kind]
    if ext not in accepted:
        raise ValidationError(f"{kind} files must be one of: {', '.join(sorted(accepted))}", code="UNSUPPORTED_FORMAT")
    if not isinstance(content_type, str) or content_type.lower() not in accepted[ext]:
        raise ValidationError(
            f"contentType for .{ext} must be one of: {', '.join(accepted[ext])}", code="INVALID_CONTENT_TYPE"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValidationError("sizeBytes must be a positive whole number", code="INVALID_SIZE")
    if size > tier.max_upload_bytes:
        raise PayloadTooLarge(
            f"files are limited to {tier.max_upload_bytes // (1024 * 1024)} MB on your tier", code="FILE_TOO_LARGE"
        )
    return kind, safe_filename(filename, ext), content_type.lower(), size, ext


def request_upload(principal: Principal, project_id: str, data: dict) -> dict:
    """Register an asset and return a presigned POST pinned to its key, type and exact size."""
    project = get_owned(Project, *keys.project(project_id), principal, "project")
    owner = User.get(*keys.user(project.owner_id))
    kind, filename, content_type, size, ext = _upload_request(data, settings.TIERS[owner.tier])
    asset_id, now = str(uuid.uuid4()), now_iso()
    key = keys.upload_object(project.owner_id, project.id, asset_id, ext)
    asset = Asset(
        *keys.asset(asset_id),
        id=asset_id,
        project_id=project.id,
        owner_id=project.owner_id,
        kind=kind,
        filename=filename,
        content_type=content_type,
        format=ext,
        size_bytes=size,
        status="PENDING_UPLOAD",
        s3_key=key,
        metadata={},
        created_at=now,
        updated_at=now,
        gsi1pk=keys.project_partition(project.id),
        gsi1sk=keys.listed(keys.ASSET_PREFIX, now, asset_id),
    )
    asset.save(condition=Asset.pk.does_not_exist())
    return {"asset": views.asset(asset), "upload": storage.presigned_upload(key, content_type, size)}


def get(principal: Principal, asset_id: str) -> Asset:
    """An asset the caller may see, or NotFound."""
    return get_owned(Asset, *keys.asset(asset_id), principal, "asset")


def usable(asset: Asset) -> bool:
    """Whether an asset's file may be downloaded or used as a job's input: READY, and if a job made it, that job
    COMPLETED (its outputs are paid for; those of a cancelled or failed job are never handed out)."""
    if asset.status != "READY":
        return False
    if not asset.source_job_id:
        return True
    try:
        return Job.get(*keys.job(asset.source_job_id), consistent_read=True, attributes_to_get=["status"]).status == (
            "COMPLETED"
        )
    except Job.DoesNotExist:
        return False


def discard_outputs(job_id: str, project_id: str) -> int:
    """Delete every file a job made and its asset records (the job ended without completing); how many."""
    made = Asset.by_parent.query(
        keys.project_partition(project_id),
        Asset.gsi1sk.startswith(keys.ASSET_PREFIX),
        filter_condition=Asset.source_job_id == job_id,
    )
    count = 0
    for asset in made:
        remove(asset)
        count += 1
    return count


def list_for_project(principal: Principal, project_id: str, params: dict) -> dict:
    """A project's assets, newest first, paginated."""
    project = get_owned(Project, *keys.project(project_id), principal, "project")
    items, token = page(
        Asset.by_parent,
        "gsi1pk",
        keys.project_partition(project.id),
        params,
        Asset.gsi1sk.startswith(keys.ASSET_PREFIX),
    )
    return {"items": [views.asset(a) for a in items], "nextToken": token}


def remove(asset: Asset) -> None:
    """Delete an asset's object and record."""
    storage.delete(asset.s3_key)
    asset.delete()


def delete(principal: Principal, asset_id: str) -> None:
    """Delete one of the caller's assets."""
    remove(get(principal, asset_id))


# ---------------------------------------------------------------- the upload event
def _asset_for_key(key: str) -> Asset | None:
    asset_id = keys.asset_of_upload(key)
    if asset_id is None:
        return None
    try:
        asset = Asset.get(*keys.asset(asset_id), consistent_read=True)
    except Asset.DoesNotExist:
        return None
    return asset if asset.s3_key == key else None


def _probe(asset: Asset, path: Path, tier: settings.Tier) -> dict:
    if asset.kind == "IMAGE":
        return probe.image(path, asset.format, settings.MAX_IMAGE_PIXELS, settings.PROBE_SECONDS)
    if asset.kind == "VIDEO":
        return probe.video(
            path,
            asset.format,
            tier.max_video_seconds,
            settings.MAX_VIDEO_PIXELS,
            settings.MAX_VIDEO_FRAMES,
            settings.PROBE_SECONDS,
        )
    return probe.model(path, asset.format, settings.PROBE_SECONDS)


@tracer.capture_method
def process_upload(key: str, etag: str) -> Asset | None:
    """Verify one uploaded object and mark its asset READY or REJECTED; returns the judged asset.

    Idempotent: an object version (ETag) already judged is skipped (None), so a replayed event changes nothing.
    """
    asset = _asset_for_key(key)
    if asset is None:
        logger.info("ignoring an object that is no asset", extra={"key": key})
        return None
    if asset.etag == etag and asset.status in ("READY", "REJECTED"):
        logger.info("upload already processed", extra={"asset_id": asset.id})
        return None
    size = storage.size_of(key)
    if size is None:
        logger.info("object already gone", extra={"key": key})
        return None
    owner = User.get(*keys.user(asset.owner_id))
    tier = settings.TIERS[owner.tier]
    metadata, reason, code = {}, None, None
    if size > tier.max_upload_bytes:
        reason, code = "the file is larger than your tier allows", "FILE_TOO_LARGE"
    elif size != int(asset.size_bytes):
        reason, code = f"the file has {size} bytes but {int(asset.size_bytes)} were declared", "SIZE_MISMATCH"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload.{asset.format}"
            storage.download(key, path)
            try:
                metadata = _probe(asset, path, tier)
            except probe.Rejected as exc:
                reason, code = exc.message, exc.code
    status = "REJECTED" if reason else "READY"
    asset.update(
        actions=[
            Asset.status.set(status),
            Asset.metadata.set(metadata),
            Asset.etag.set(etag),
            Asset.reject_reason.set(reason) if reason else Asset.reject_reason.remove(),
            Asset.reject_code.set(code) if code else Asset.reject_code.remove(),
            Asset.updated_at.set(now_iso()),
        ],
        condition=Asset.pk.exists(),
    )
    if reason:
        storage.delete(key)
    logger.info("upload verified", extra={"asset_id": asset.id, "status": status, "code": code, "reason": reason})
    return asset


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
