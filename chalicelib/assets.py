"""Assets: presigned direct-to-S3 uploads, the upload event that verifies the bytes, signed downloads."""

from __future__ import annotations

import hashlib
import json
import tempfile
import unicodedata
import urllib.parse
import uuid
from pathlib import Path

from pynamodb.exceptions import UpdateError

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
def _upload_asset(key: str) -> Asset | None:
    """The asset an upload key was made for (None for any other key)."""
    asset_id = keys.asset_of_upload(key)
    if asset_id is None:
        return None
    try:
        asset = Asset.get(*keys.asset(asset_id), consistent_read=True)
    except Asset.DoesNotExist:
        return None
    return asset if keys.upload_object(asset.owner_id, asset.project_id, asset.id, asset.format) == key else None


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


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _judge(asset: Asset, key: str, size: int, etag: str) -> tuple[dict, str | None, str | None] | None:
    """(metadata, reject reason, reject code) of the object version `etag`; None if the key holds another version."""
    owner = User.get(*keys.user(asset.owner_id))
    tier = settings.TIERS[owner.tier]
    if size > tier.max_upload_bytes:
        return {}, "the file is larger than your tier allows", "FILE_TOO_LARGE"
    if size != int(asset.size_bytes):
        return {}, f"the file has {size} bytes but {int(asset.size_bytes)} were declared", "SIZE_MISMATCH"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload.{asset.format}"
        storage.download(key, path)
        if _md5(path) != etag:  # replaced since the event: the newer version's own event judges it
            return None
        try:
            return _probe(asset, path, tier), None, None
        except probe.Rejected as exc:
            return {}, exc.message, exc.code


@tracer.capture_method
def process_upload(key: str, etag: str) -> Asset | None:
    """Verify one uploaded object and mark its asset READY or REJECTED, once; returns the judged asset.

    An upload is single-use: the first version judged decides. A READY upload is copied to its verified key (which
    no presigned form can write) and the asset names that copy; the upload key is then deleted, and so is anything a
    replayed form writes there later. A replayed event, or the event of an older version, changes nothing (None).
    """
    asset = _upload_asset(key)
    if asset is None or asset.status != "PENDING_UPLOAD":
        logger.info("ignoring an object of no pending upload", extra={"key": key})
        if keys.asset_of_upload(key):
            storage.delete(key)  # a form replayed after its upload was judged (or its asset deleted)
        return None
    found = storage.head(key)
    if found is None or found[1] != etag:
        logger.info("object gone or replaced since this event", extra={"key": key})
        return None
    judged = _judge(asset, key, found[0], etag)
    if judged is None:
        return None
    metadata, reason, code = judged
    final = keys.verified_object(asset.owner_id, asset.project_id, asset.id, etag, asset.format)
    if reason is None and storage.copy(key, final) != etag:
        storage.delete(final)  # the upload was replaced between the check and the copy: its own event follows
        return None
    status = "REJECTED" if reason else "READY"
    try:
        asset.update(
            actions=[
                Asset.status.set(status),
                Asset.metadata.set(metadata),
                Asset.etag.set(etag),
                Asset.s3_key.set(key if reason else final),
                Asset.reject_reason.set(reason) if reason else Asset.reject_reason.remove(),
                Asset.reject_code.set(code) if code else Asset.reject_code.remove(),
                Asset.updated_at.set(now_iso()),
            ],
            condition=Asset.status == "PENDING_UPLOAD",
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        if reason is None:
            storage.delete(final)  # another version was judged first, or the asset was deleted meanwhile
        storage.delete(key)
        return None
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
