"""Live progress over the WebSocket on the stack: a subscriber gets its own job's status, stage and progress as the
workers write them, and nothing of another user's job."""

import asyncio
import json

import aiohttp
import requests

from tests import media
from tests.stackutil import ApiUser


def _convert_job(user: ApiUser) -> str:
    pid = user.project()
    # 82k triangles: the stage takes a moment, so progress is written along the way
    model = user.upload(pid, "sphere.glb", media.sphere_glb(subdivisions=6), "MODEL_3D", "model/gltf-binary")
    response = user.start_job(pid, "CONVERT", {"modelAssetId": model["id"]}, params={"format": "obj"})
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def _follow(url: str, user: ApiUser, foreign_job_id: str, seconds: float = 240) -> tuple[list, list, str]:
    """Authenticate, try to follow another user's job, follow all of ours, start a job; every message received until
    it ended (and the replies before), and its id."""
    received, replies = [], []
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        await socket.send_json({"action": "subscribe", "jobId": "*"})  # before auth: refused
        replies.append(json.loads((await socket.receive(timeout=10)).data))
        await socket.send_json({"action": "auth", "token": user.token})
        replies.append(json.loads((await socket.receive(timeout=10)).data))
        await socket.send_json({"action": "subscribe", "jobId": foreign_job_id})
        replies.append(json.loads((await socket.receive(timeout=10)).data))
        await socket.send_json({"action": "subscribe", "jobId": "*"})
        replies.append(json.loads((await socket.receive(timeout=10)).data))
        loop = asyncio.get_running_loop()
        job_id = await loop.run_in_executor(None, _convert_job, user)
        await socket.send_json({"action": "subscribe", "jobId": job_id})  # its current state, at once
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            message = json.loads((await socket.receive(timeout=deadline - loop.time())).data)
            received.append(message)
            job = message.get("job") or {}
            if job.get("id") == job_id and job["status"] in ("COMPLETED", "FAILED") and message["type"] == "job":
                break
    return replies, received, job_id


def test_a_subscriber_gets_its_jobs_progress_and_nothing_of_another_users(stack, user):
    url = requests.get(f"{stack.api_url}/websocket", timeout=10).json()["url"]
    assert url and url.startswith("ws://")
    other = ApiUser(stack.api_url)
    foreign_job = _convert_job(other)  # runs alongside ours
    replies, received, job_id = asyncio.run(_follow(url, user, foreign_job))
    assert replies[0]["type"] == "error" and replies[0]["code"] == "NOT_AUTHENTICATED"
    assert replies[1] == {"type": "authenticated", "userId": user.id}
    assert replies[2]["type"] == "error" and replies[2]["code"] == "NOT_FOUND"
    assert replies[3] == {"type": "subscribed", "jobId": "*"}
    snapshot = [m for m in received if m["type"] == "subscribed"]
    assert len(snapshot) == 1 and snapshot[0]["job"]["id"] == job_id
    pushed = [m["job"] for m in received if m["type"] == "job"]
    assert {j["id"] for j in pushed} == {job_id}, "another user's job leaked into this connection"
    assert pushed[-1]["status"] == "COMPLETED" and pushed[-1]["progress"] == 100
    running = [j for j in pushed if j["status"] == "PROCESSING"]
    assert running and all(j["stage"] == "convert" for j in running), pushed
    progress = [j["progress"] for j in pushed]
    assert progress == sorted(progress) and len(set(progress)) >= 2, progress
    assert other.wait_job(foreign_job, timeout=240)["status"] == "COMPLETED"


def test_an_api_key_follows_jobs_and_a_bad_token_is_refused(stack, user):
    url = requests.get(f"{stack.api_url}/websocket", timeout=10).json()["url"]
    key = user.call("POST", "/api-keys", json={"name": "live", "scopes": ["read"]}).json()["key"]

    async def auth(token: str) -> dict:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
            await socket.send_json({"action": "auth", "token": token})
            return json.loads((await socket.receive(timeout=10)).data)

    assert asyncio.run(auth(key)) == {"type": "authenticated", "userId": user.id}
    refused = asyncio.run(auth(user.token[:-4] + "AAAA"))
    assert refused["type"] == "error" and refused["status"] == 401
    assert asyncio.run(auth("a3d_" + "B" * 43))["code"] == "INVALID_API_KEY"
