"""Issue 20, item 2: the local stack's data survives a restart. Users, projects, assets (their bytes too), jobs and
the credit ledger are there after Ctrl-C and a new start with the same state dir, after a kill -9 of the supervisor
and after a kill -9 of the emulator (which loses at most the writes of the last second: docs/architecture.md);
a job running at the stop completes or fails with its credits returned, never stays stuck; tokens issued before a
restart stay valid (the generated secrets are reused). Before the fix the emulator kept everything in memory: after
any restart every user, project, asset, job and balance was gone."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests

from tests import media
from tests.security.conftest import eventually
from tests.stackutil import ApiUser, make_admin, port_in_use, start_stack, stop_stack_process

VOLATILE = ("download", "queue")


def _plain(view: dict) -> dict:
    return {k: v for k, v in view.items() if k not in VOLATILE}


def state_of(user: ApiUser, skip_job: str = "") -> dict:
    """Everything the API shows `user` (signed URLs and queue estimates left out), and the bytes of every file; a
    job still running (`skip_job`) and its files are left out."""
    seen: dict = {"me": user.call("GET", "/users/me").json()}
    seen["ledger"] = user.call("GET", "/users/me/credits").json()["entries"]
    projects = user.call("GET", "/projects").json()["items"]
    seen["projects"] = projects
    files = {}
    for project in projects:
        assets = user.call("GET", f"/projects/{project['id']}/assets").json()["items"]
        assets = [a for a in assets if not skip_job or a.get("sourceJobId") != skip_job]
        seen[project["id"]] = [_plain(a) for a in assets]
        jobs = [j for j in user.call("GET", f"/jobs?projectId={project['id']}").json()["items"] if j["id"] != skip_job]
        seen[project["id"] + "/jobs"] = [{**_plain(j), "outputs": [_plain(o) for o in j["outputs"]]} for j in jobs]
        for asset in assets:
            if asset["status"] == "READY":
                url = user.call("GET", f"/assets/{asset['id']}").json()["download"]["url"]
                files[asset["id"]] = requests.get(url, timeout=30).content  # byte for byte
    seen["files"] = files
    return seen


def _without_credits(state: dict) -> dict:
    return {**state, "me": {k: v for k, v in state["me"].items() if k != "credits"}, "ledger": None}


def _stopped(stack) -> bool:
    api_port = int(stack.api_url.rsplit(":", 1)[1])
    emulator_port = int(stack.endpoint.rsplit(":", 1)[1])
    return not port_in_use(api_port) and not port_in_use(emulator_port)


def _still_listening(stack) -> str:
    """Which of the stack's servers still listen, and the end of the stack's log."""
    servers = {"api": stack.api_url, "emulator": stack.endpoint}
    listening = [name for name, url in servers.items() if port_in_use(int(url.rsplit(":", 1)[1]))]
    return f"still listening: {listening}; log ends:\n" + "\n".join(stack.log().splitlines()[-30:])


def _emulator_pid(stack) -> int:
    port = stack.endpoint.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"devstack.emulator.server" in command and port.encode() in command:
                return int(entry.name)
    raise AssertionError("no emulator process")


def _snapshotted(state: Path, text: str) -> bool:
    """Whether the emulator's last snapshot in the state dir holds `text` (written whole: temporary file, rename)."""
    try:
        return text.encode() in (state / "emulator" / "state.pickle").read_bytes()
    except FileNotFoundError:
        return False


def moved(stack, *users: ApiUser) -> None:
    """Point users at a stack started again (on new ports), keeping their tokens."""
    for user in users:
        user.api = stack.api_url


def test_everything_survives_a_restart_and_a_kill_9(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    stack = start_stack(state_dir=state)
    try:
        alice, bob = ApiUser(stack.api_url), ApiUser(stack.api_url)
        admin = make_admin(stack)
        assert admin.call("PATCH", f"/admin/users/{bob.id}", json={"creditAdjustment": 25, "reason": "gift"}).ok
        first = alice.project("first")
        model = alice.upload(first, "box.glb", media.box_glb(), "MODEL_3D", "model/gltf-binary")
        alice.upload(first, "a.png", media.png(80, 60), "IMAGE", "image/png")
        convert = alice.start_job(first, "CONVERT", {"modelAssetId": model["id"]}, params={"format": "obj"}).json()
        assert alice.wait_job(convert["id"], timeout=180)["status"] == "COMPLETED"
        bob.upload(bob.project("bob's"), "b.png", media.png(30, 20, rgba=True), "IMAGE", "image/png")
        running = alice.start_job(first, "TEXT_TO_AVATAR", {"prompt": "a man"}).json()
        assert eventually(lambda: alice.call("GET", f"/jobs/{running['id']}").json()["progress"] > 0, 120)
        before = {user.id: state_of(user, running["id"]) for user in (alice, bob)}
        balance = alice.credits()
    finally:
        stop_stack_process(stack.process)
    assert "state is kept in" in stack.log()

    stack = start_stack(state_dir=state)  # Ctrl-C, then start again
    moved(stack, alice, bob)
    try:
        for user in (alice, bob):  # the tokens issued before the restart still work: the same secrets
            assert _without_credits(state_of(user, running["id"])) == _without_credits(before[user.id])
        assert state_of(bob) == before[bob.id]
        ended = alice.wait_job(running["id"], timeout=300)  # completes, or fails with its credits returned
        assert ended["status"] in ("COMPLETED", "FAILED"), ended
        refund = ended["creditsUsed"] if ended["status"] == "FAILED" else 0
        assert alice.credits() == balance + refund
        carol = ApiUser(stack.api_url)
        carol.upload(carol.project("carol's"), "c.png", media.png(20, 10), "IMAGE", "image/png")
        after_restart = {user.id: state_of(user) for user in (alice, bob, carol)}
        time.sleep(2)  # longer than the emulator's snapshot period
        os.kill(stack.process.pid, signal.SIGKILL)  # kill -9 of the supervisor
        stack.process.wait()
        # every child gets SIGTERM (PR_SET_PDEATHSIG) and stops as on Ctrl-C (the emulator takes its last snapshot),
        # or exits hard devstack.STOP_GRACE seconds later
        stopping = time.monotonic()
        assert eventually(lambda: _stopped(stack), 90), _still_listening(stack)
        print(f"\nchildren stopped {time.monotonic() - stopping:.1f} s after kill -9 of the supervisor")
    finally:
        stop_stack_process(stack.process)

    stack = start_stack(state_dir=state)
    moved(stack, alice, bob, carol)
    try:
        for user in (alice, bob, carol):
            assert state_of(user) == after_restart[user.id]
        dave = ApiUser(stack.api_url)
        project = dave.project("dave's")
        # a kill -9 loses the writes since the last snapshot, whose period stretches with its cost on a loaded
        # machine: wait until a snapshot holds dave's project rather than for a fixed time
        assert eventually(lambda: _snapshotted(state, project), 60), "no snapshot took dave's project"
        os.kill(_emulator_pid(stack), signal.SIGKILL)  # kill -9 of the emulator: the supervisor stops the stack
        assert stack.process.wait(timeout=90) != 0
    finally:
        stop_stack_process(stack.process)

    stack = start_stack(state_dir=state)
    moved(stack, carol, dave)
    try:
        assert [p["name"] for p in dave.call("GET", "/projects").json()["items"]] == ["dave's"]
        assert state_of(carol) == after_restart[carol.id]
    finally:
        stop_stack_process(stack.process)
