"""Issue 20, item 5: deleting an account deletes everything it owns - projects, assets, jobs, ledger, sessions and
every S3 object - asynchronously and completely; the caller gets 202 and from then on 401. Before the fix the
projects, assets and files stayed (their download URLs still answered 200) and the deleted user's token got a 500 on
/users/me/credits."""

from __future__ import annotations

import requests

from tests import media
from tests.security.conftest import eventually
from tests.stackutil import ApiUser


def leftovers(stack, user: ApiUser, ids: list[str]) -> list[str]:
    """Every table item and bucket object of the user that still exists."""
    ddb, table = stack.aws("dynamodb"), stack.outputs["TABLE_NAME"]
    found = []
    partition = {"pk": {"S": f"USER#{user.id}"}}
    found += [
        i["sk"]["S"]
        for i in ddb.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": partition["pk"]}
        )["Items"]
    ]
    for index in ("gsi1", "gsi2"):
        found += [
            i["pk"]["S"]
            for i in ddb.query(
                TableName=table,
                IndexName=index,
                KeyConditionExpression=f"{index}pk = :p",
                ExpressionAttributeValues={":p": partition["pk"]},
            )["Items"]
        ]
    for pk in [f"EMAIL#{user.email}"] + [f"{kind}#{i}" for i in ids for kind in ("PROJECT", "ASSET", "JOB")]:
        found += [
            i["pk"]["S"] + "/" + i["sk"]["S"]
            for i in ddb.query(
                TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": pk}}
            )["Items"]
        ]
    s3 = stack.aws("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.outputs["ASSETS_BUCKET"]):
        found += [o["Key"] for o in page.get("Contents", []) if user.id in o["Key"]]
    return found


def test_deleting_an_account_erases_everything_it_owns(stack, user):
    project = user.project()
    model = user.upload(project, "box.glb", media.box_glb(), "MODEL_3D", "model/gltf-binary")
    image = user.upload(project, "a.png", media.png(), "IMAGE", "image/png")
    job = user.start_job(project, "CONVERT", {"modelAssetId": model["id"]}, params={"format": "obj"}).json()
    done = user.wait_job(job["id"], timeout=180)
    assert done["status"] == "COMPLETED", done
    urls = [model["download"]["url"], image["download"]["url"]] + [o["download"]["url"] for o in done["outputs"]]
    assert all(requests.get(url, timeout=10).status_code == 200 for url in urls)
    ids = [project, model["id"], image["id"], job["id"]] + [o["assetId"] for o in done["outputs"]]
    assert leftovers(stack, user, ids)

    response = user.call("DELETE", "/users/me")
    assert response.status_code == 202, response.text
    for path in ("/users/me", "/users/me/credits", "/projects", f"/projects/{project}"):
        answer = user.call("GET", path)
        assert answer.status_code == 401, (path, answer.status_code, answer.text)
    assert eventually(lambda: not leftovers(stack, user, ids), 60), leftovers(stack, user, ids)
    assert not any(requests.get(url, timeout=10).status_code == 200 for url in urls)
    again = requests.post(
        f"{stack.api_url}/auth/register", json={"email": user.email, "password": user.password, "name": "Again"}
    )
    assert again.status_code == 201 and again.json()["user"]["id"] != user.id  # the email is free again
