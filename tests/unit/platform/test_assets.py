"""Assets: presigned POST policy, safe keys, the upload event (probe, idempotency), signed downloads, access."""

import base64
import io
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from chalicelib import assets, settings
from chalicelib.store.db import Asset
from tests.unit.platform.helpers import call, register


def png_bytes(w=32, h=16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (w, h), (255, 0, 0, 128)).save(buf, "PNG")
    return buf.getvalue()


def request(client, user, project_id, filename="photo.png", content_type="image/png", size=100, kind="IMAGE"):
    return call(
        client,
        "POST",
        f"/projects/{project_id}/assets",
        user,
        {"filename": filename, "contentType": content_type, "sizeBytes": size, "kind": kind},
    )


def s3_event(key: str, etag: str) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Post",
                    "s3": {"bucket": {"name": settings.ASSETS_BUCKET}, "object": {"key": key, "eTag": etag}},
                }
            ]
        }
    )


def put_and_process(key: str, data: bytes) -> str:
    s3 = boto3.client("s3", region_name="us-east-1")
    etag = s3.put_object(Bucket=settings.ASSETS_BUCKET, Key=key, Body=data)["ETag"].strip('"')
    judged = assets.process_upload(key, etag)
    return (judged.status if judged else None), etag


@pytest.fixture
def alice_project(client):
    alice = register(client)
    return alice, call(client, "POST", "/projects", alice, {"name": "p"})[1]["id"]


def test_presigned_post_pins_key_type_and_exact_size(client, alice_project):
    alice, pid = alice_project
    status, ticket = request(client, alice, pid, size=1234)
    assert status == 201
    policy = json.loads(base64.b64decode(ticket["upload"]["fields"]["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1234, 1234] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": ticket["upload"]["fields"]["key"]} in conditions
    assert ticket["asset"]["status"] == "PENDING_UPLOAD"


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.png",
        "/abs/path.png",
        "..\\..\\win.png",
        "ﾠ../\u202etxt.png",
        "a/b/c/../../x.png",
        "%2e%2e%2fx.png",
    ],
)
def test_keys_never_contain_user_path_pieces(client, alice_project, filename):
    alice, pid = alice_project
    status, ticket = request(client, alice, pid, filename=filename)
    assert status == 201
    key = ticket["upload"]["fields"]["key"]
    parts = key.split("/")
    assert parts[0] == "uploads" and parts[1] == alice["id"] and parts[2] == pid and parts[4] == "source.png"
    assert ".." not in key and "\\" not in key and "%" not in key
    assert "/" not in ticket["asset"]["filename"] and "\\" not in ticket["asset"]["filename"]


@pytest.mark.parametrize(
    "body,code",
    [
        ({"filename": "a.exe", "contentType": "image/png", "sizeBytes": 10, "kind": "IMAGE"}, "UNSUPPORTED_FORMAT"),
        ({"filename": "a.png", "contentType": "text/html", "sizeBytes": 10, "kind": "IMAGE"}, "INVALID_CONTENT_TYPE"),
        ({"filename": "a.png", "contentType": "image/png", "sizeBytes": -1, "kind": "IMAGE"}, "INVALID_SIZE"),
        ({"filename": "a.png", "contentType": "image/png", "sizeBytes": "10", "kind": "IMAGE"}, "INVALID_SIZE"),
        ({"filename": "a.png", "contentType": "image/png", "sizeBytes": 10, "kind": "SCRIPT"}, "INVALID_KIND"),
        ({"filename": "a.mp4", "contentType": "video/mp4", "sizeBytes": 10**12, "kind": "VIDEO"}, "FILE_TOO_LARGE"),
    ],
)
def test_bad_upload_requests_are_refused(client, alice_project, body, code):
    alice, pid = alice_project
    status, data = call(client, "POST", f"/projects/{pid}/assets", alice, body)
    assert status in (400, 413) and data["error"]["code"] == code


def test_upload_event_marks_ready_with_metadata_and_is_idempotent(client, alice_project):
    alice, pid = alice_project
    data = png_bytes(32, 16)
    _, ticket = request(client, alice, pid, size=len(data))
    key = ticket["upload"]["fields"]["key"]
    status, etag = put_and_process(key, data)
    assert status == "READY"
    _, asset = call(client, "GET", f"/assets/{ticket['asset']['id']}", alice)
    assert asset["metadata"]["width"] == 32 and asset["metadata"]["height"] == 16 and asset["metadata"]["hasAlpha"]
    assert "attachment" in asset["download"]["url"] and "photo.png" in asset["download"]["url"]
    updated = asset["updatedAt"]
    assert assets.process_upload(key, etag) is None  # replay: nothing changes
    assert call(client, "GET", f"/assets/{ticket['asset']['id']}", alice)[1]["updatedAt"] == updated


def test_png_renamed_mp4_is_rejected_and_deleted(client, alice_project):
    alice, pid = alice_project
    data = png_bytes()
    _, ticket = request(client, alice, pid, filename="clip.mp4", content_type="video/mp4", size=len(data), kind="VIDEO")
    key = ticket["upload"]["fields"]["key"]
    status, _ = put_and_process(key, data)
    assert status == "REJECTED"
    _, asset = call(client, "GET", f"/assets/{ticket['asset']['id']}", alice)
    assert "not a MP4" in asset["rejectReason"] and "download" not in asset
    with pytest.raises(ClientError):
        boto3.client("s3", region_name="us-east-1").head_object(Bucket=settings.ASSETS_BUCKET, Key=key)


def test_an_unreadable_model_is_rejected_with_a_code_and_the_field(client, alice_project):
    from tests import media

    alice, pid = alice_project
    data = media.glb({"asset": {"version": "2.0"}, "meshes": 7})
    kind_and_type = {"kind": "MODEL_3D", "content_type": "model/gltf-binary"}
    _, ticket = request(client, alice, pid, filename="bad.glb", size=len(data), **kind_and_type)
    assert put_and_process(ticket["upload"]["fields"]["key"], data)[0] == "REJECTED"
    _, asset = call(client, "GET", f"/assets/{ticket['asset']['id']}", alice)
    assert asset["rejectCode"] == "UNREADABLE_FILE" and "`meshes` must be an array" in asset["rejectReason"]


def test_size_mismatch_is_rejected(client, alice_project):
    alice, pid = alice_project
    data = png_bytes()
    _, ticket = request(client, alice, pid, size=len(data) + 5)
    assert put_and_process(ticket["upload"]["fields"]["key"], data)[0] == "REJECTED"


def test_unknown_keys_and_test_events_are_ignored(aws):
    assert assets.s3_records(json.dumps({"Event": "s3:TestEvent", "Service": "Amazon S3"})) == []
    assert assets.process_upload("uploads/x/y/z/source.png", "e") is None
    assert assets.process_upload("../../etc/passwd", "e") is None


def test_other_user_cannot_read_or_delete_asset(client, alice_project):
    alice, pid = alice_project
    bob = register(client)
    _, ticket = request(client, alice, pid)
    asset_id = ticket["asset"]["id"]
    assert call(client, "GET", f"/assets/{asset_id}", bob)[0] == 404
    assert call(client, "DELETE", f"/assets/{asset_id}", bob)[0] == 404
    assert call(client, "GET", f"/assets/{asset_id}", alice)[0] == 200
    assert call(client, "DELETE", f"/assets/{asset_id}", alice)[0] == 204
    assert call(client, "GET", f"/assets/{asset_id}", alice)[0] == 404


def test_deleting_a_project_deletes_its_assets(client, alice_project):
    alice, pid = alice_project
    data = png_bytes()
    _, ticket = request(client, alice, pid, size=len(data))
    key = ticket["upload"]["fields"]["key"]
    put_and_process(key, data)
    assert call(client, "DELETE", f"/projects/{pid}", alice)[0] == 204
    assert call(client, "GET", f"/assets/{ticket['asset']['id']}", alice)[0] == 404
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=settings.ASSETS_BUCKET, Prefix=f"uploads/{alice['id']}/"
    )
    assert listed.get("KeyCount", 0) == 0


def test_one_failing_upload_record_does_not_fail_its_batch_mates(client, alice_project, monkeypatch):
    """A record whose handling raises is reported in batchItemFailures; the others in its batch are judged."""
    alice, pid = alice_project
    status, ticket = request(client, alice, pid, size=len(png_bytes()))
    good_key = ticket["upload"]["fields"]["key"]
    s3 = boto3.client("s3", region_name="us-east-1")
    etag = s3.put_object(Bucket=settings.ASSETS_BUCKET, Key=good_key, Body=png_bytes())["ETag"].strip('"')
    real = assets.process_upload

    def crash_on_bad(key, tag):
        if key == "uploads/bad":
            raise ValueError("a checker bug")
        return real(key, tag)

    monkeypatch.setattr(assets, "process_upload", crash_on_bad)
    from devstack.events import sqs_event

    batch = [
        {"MessageId": "m-bad", "ReceiptHandle": "r1", "Body": s3_event("uploads/bad", "e")},
        {"MessageId": "m-good", "ReceiptHandle": "r2", "Body": s3_event(good_key, etag)},
    ]
    event = sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:upload-events", "us-east-1")
    result = client.lambda_.invoke("on_upload", event).payload
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-bad"}]}
    assert call(client, "GET", f"/assets/{ticket['asset']['id']}", alice)[1]["status"] == "READY"


def test_an_upload_is_judged_once_and_a_replayed_form_replaces_nothing(client, alice_project):
    alice, pid = alice_project
    data = png_bytes(32, 16)
    _, ticket = request(client, alice, pid, size=len(data))
    key = ticket["upload"]["fields"]["key"]
    assert put_and_process(key, data)[0] == "READY"
    s3 = boto3.client("s3", region_name="us-east-1")
    with pytest.raises(ClientError):  # the upload key is emptied once judged
        s3.head_object(Bucket=settings.ASSETS_BUCKET, Key=key)
    judged = Asset.get(f"ASSET#{ticket['asset']['id']}", "ASSET")
    assert judged.s3_key.startswith(f"verified/{alice['id']}/{pid}/")
    assert put_and_process(key, png_bytes(16, 32))[0] is None  # the form replayed with other bytes
    with pytest.raises(ClientError):
        s3.head_object(Bucket=settings.ASSETS_BUCKET, Key=key)
    again = Asset.get(f"ASSET#{ticket['asset']['id']}", "ASSET")
    assert (again.s3_key, again.etag, again.metadata) == (judged.s3_key, judged.etag, judged.metadata)
    assert s3.get_object(Bucket=settings.ASSETS_BUCKET, Key=judged.s3_key)["Body"].read() == data
