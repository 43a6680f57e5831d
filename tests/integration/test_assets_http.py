"""Uploads over HTTP like a browser: presigned POST straight to S3, verification, signed downloads, isolation."""

import requests

from tests import media


def test_png_upload_becomes_ready_with_metadata_and_downloads(user):
    pid = user.project()
    data = media.png(80, 60)
    asset = user.upload(pid, "my photo.png", data, "IMAGE", "image/png")
    assert asset["status"] == "READY"
    assert asset["metadata"]["width"] == 80 and asset["metadata"]["height"] == 60
    download = requests.get(asset["download"]["url"], timeout=10)
    assert download.status_code == 200 and download.content == data
    assert 'filename="my photo.png"' in download.headers.get("Content-Disposition", "")


def test_video_upload_is_probed(user, tmp_path):
    pid = user.project()
    path = media.person_video(tmp_path / "walk.mp4", seconds=2, fps=15)
    asset = user.upload(pid, "walk.mp4", path.read_bytes(), "VIDEO", "video/mp4")
    assert asset["status"] == "READY", asset
    meta = asset["metadata"]
    assert (meta["width"], meta["height"], meta["frameCount"]) == (320, 240, 30)
    assert abs(meta["durationSeconds"] - 2.0) < 0.01 and abs(meta["fps"] - 15) < 0.01


def test_model_upload_is_probed(user):
    pid = user.project()
    asset = user.upload(pid, "box.glb", media.box_glb(), "MODEL_3D", "model/gltf-binary")
    assert asset["status"] == "READY" and asset["metadata"]["triangles"] == 12


def test_png_renamed_mp4_is_rejected(user):
    pid = user.project()
    asset = user.upload(pid, "clip.mp4", media.png(), "VIDEO", "video/mp4")
    assert asset["status"] == "REJECTED" and "not a MP4" in asset["rejectReason"]
    assert "download" not in asset


def test_file_larger_than_declared_is_refused_by_s3(user):
    pid = user.project()
    data = media.png()
    response = user.call(
        "POST",
        f"/projects/{pid}/assets",
        json={"filename": "a.png", "contentType": "image/png", "sizeBytes": len(data), "kind": "IMAGE"},
    )
    ticket = response.json()
    posted = requests.post(
        ticket["upload"]["url"],
        data=ticket["upload"]["fields"],
        files={"file": ("a.png", data + b"\0" * 100, "image/png")},
        timeout=30,
    )
    assert posted.status_code == 400 and "EntityTooLarge" in posted.text
    posted = requests.post(
        ticket["upload"]["url"],
        data={**ticket["upload"]["fields"], "Content-Type": "text/html"},
        files={"file": ("a.png", data, "text/html")},
        timeout=30,
    )
    assert posted.status_code == 403 and "Policy Condition failed" in posted.text
    assert user.call("GET", f"/assets/{ticket['asset']['id']}").json()["status"] == "PENDING_UPLOAD"


def test_another_user_cannot_touch_my_project(stack, user):
    from tests.stackutil import ApiUser

    pid = user.project()
    asset = user.upload(pid, "mine.png", media.png(), "IMAGE", "image/png")
    bob = ApiUser(stack.api_url)
    checks = [
        bob.call("GET", f"/projects/{pid}"),
        bob.call("GET", f"/projects/{pid}/assets"),
        bob.call("GET", f"/assets/{asset['id']}"),
        bob.call("DELETE", f"/assets/{asset['id']}"),
        bob.call("DELETE", f"/projects/{pid}"),
        bob.call(
            "POST",
            f"/projects/{pid}/assets",
            json={"filename": "x.png", "contentType": "image/png", "sizeBytes": 5, "kind": "IMAGE"},
        ),
        bob.start_job(pid, "CONVERT", {"modelAssetId": asset["id"]}, params={"format": "obj"}),
    ]
    for response in checks:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.json()["error"]["code"] in ("NOT_FOUND", "INPUT_NOT_FOUND")
    assert bob.call("GET", "/projects").json()["items"] == []
    assert user.call("GET", f"/assets/{asset['id']}").status_code == 200
