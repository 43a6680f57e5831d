"""Issue 20, item 6: cancel and completion decide one outcome. Either the job is COMPLETED, charged, and its outputs
download; or it is CANCELLED, refunded, and none of its outputs can be reached. Before the fix a job cancelled as
its first outputs appeared was refunded and those outputs still downloaded."""

from __future__ import annotations

import time

import requests

from tests.security.conftest import eventually


def _objects(stack, user_id: str, job_id: str) -> list[str]:
    s3 = stack.aws("s3")
    listed = s3.list_objects_v2(Bucket=stack.outputs["ASSETS_BUCKET"], Prefix=f"outputs/{user_id}/")
    return [o["Key"] for o in listed.get("Contents", []) if f"/{job_id}/" in o["Key"]]


def test_a_job_cancelled_as_its_outputs_appear_is_refunded_with_no_output_reachable(stack, user):
    project = user.project()
    before = user.credits()
    job = user.start_job(project, "TEXT_TO_AVATAR", {"prompt": "a tall woman"}).json()
    deadline = time.time() + 240
    seen = user.call("GET", f"/jobs/{job['id']}").json()
    while not seen["outputs"] and seen["status"] in ("PENDING", "PROCESSING"):  # the first stage's files appear
        assert time.time() < deadline, seen
        time.sleep(0.05)
        seen = user.call("GET", f"/jobs/{job['id']}").json()
    cancel = user.call("POST", f"/jobs/{job['id']}/cancel")
    final = user.wait_job(job["id"], timeout=120)
    outputs = seen["outputs"] + final["outputs"]
    links = [o["download"]["url"] for o in outputs if "download" in o]
    if final["status"] == "COMPLETED":  # completion won: charged, outputs download
        assert cancel.status_code == 409, cancel.text
        assert user.credits() == before - final["creditsUsed"]
        assert all(requests.get(o["download"]["url"], timeout=10).status_code == 200 for o in final["outputs"])
        return
    assert cancel.status_code == 200 and final["status"] == "CANCELLED", (cancel.text, final)
    assert eventually(lambda: user.credits() == before, 10)
    assert seen["status"] != "PROCESSING" or not [o for o in seen["outputs"] if "download" in o], (
        "outputs of an unfinished job were downloadable"
    )
    assert not [url for url in links if requests.get(url, timeout=10).status_code == 200]
    for output in outputs:
        shown = user.call("GET", f"/assets/{output['assetId']}")
        assert shown.status_code == 404 or "download" not in shown.json(), shown.text
    assert eventually(lambda: not _objects(stack, user.id, job["id"]), 30), _objects(stack, user.id, job["id"])
