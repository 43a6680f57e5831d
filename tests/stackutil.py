"""Start the real stack (`python -m devstack`) for integration and e2e tests, and talk to it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import localstack_client.session
import requests

from tests.openapi_check import check_response

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True while something accepts connections on 127.0.0.1:port."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RunningStack:
    """Handles on a running stack."""

    api_url: str
    web_url: str
    endpoint: str
    outputs: dict
    process: subprocess.Popen
    log_path: Path
    env: dict = field(default_factory=dict)
    stripe_url: str = ""

    def aws(self, service: str):
        """A boto3 client on the stack's emulator (localstack-client builds it, as for a LocalStack edge port)."""
        host = self.endpoint.split("://", 1)[1]
        return localstack_client.session.Session(localstack_host=host, region_name="us-east-1").client(service)

    def log(self) -> str:
        """Everything the stack printed so far."""
        return self.log_path.read_text(errors="replace")

    def worker_pid(self, name: str) -> int | None:
        """The pid of a worker process (gpu-2; a bare kind means its first process), from its heartbeat."""
        kind, _, number = name.partition("-")
        key = {"pk": {"S": f"WORKER#{kind}"}, "sk": {"S": f"INSTANCE#{kind}-{number or 1}"}}
        item = self.aws("dynamodb").get_item(TableName=self.outputs["TABLE_NAME"], Key=key)
        pid = item.get("Item", {}).get("pid", {}).get("N")
        return int(pid) if pid else None


def wait_for(check, what: str, timeout: float = 30, interval: float = 0.3):
    """Poll `check` until it returns something truthy (and return that); AssertionError naming `what` on timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def _stop_with_tests() -> None:
    """In the stack's process: receive SIGINT (a clean Ctrl-C shutdown) when the test process dies."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG


def start_stack(
    lease_seconds: float = 20,
    schedule_scale: float = 0.05,
    timeout: float = 180,
    gpu_workers: int | None = None,
    blender_workers: int | None = None,
    restart_delay: float = 1,
    iam: bool = False,
    state_dir: Path | None = None,
    extra_env: dict | None = None,
) -> RunningStack:
    """Start the stack on free ports and wait until /health is green (workers included).

    Worker counts default to GPU_WORKERS / BLENDER_WORKERS (else 1), as for `make run`; a short lease makes a
    killed worker's task move to another worker within seconds. `iam`: every process acts as its declared role.
    `state_dir`: where the stack keeps its state (a new temporary folder unless given, e.g. to start it again).
    `extra_env`: settings for every process of the stack (e.g. a short BILLING_GRACE_SECONDS). With no workers
    at all, /health answering (503: no workers) is enough.
    """
    api_port, emulator_port, web_port = free_port(), free_port(), free_port()
    ws_port, stripe_port = free_port(), free_port()
    state = state_dir or Path(tempfile.mkdtemp(prefix="ai3d-stack-"))
    log_path = state / "stack.log"
    own = (
        "AWS_ENDPOINT_URL",
        "JWT_SECRET",
        "WEBHOOK_SECRET",
        "STRIPE_API_BASE",
        "STRIPE_API_KEY",
        "STRIPE_WEBHOOK_SECRET",
    )
    env = {k: v for k, v in os.environ.items() if k not in own}
    env.update(BCRYPT_ROUNDS="4", WORKER_KEEPALIVE_SECONDS="3", **(extra_env or {}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack",
            "--api-port",
            str(api_port),
            "--emulator-port",
            str(emulator_port),
            "--web-port",
            str(web_port),
            "--ws-port",
            str(ws_port),
            "--stripe-port",
            str(stripe_port),
            "--schedule-scale",
            str(schedule_scale),
            "--lease-seconds",
            str(lease_seconds),
            "--restart-delay",
            str(restart_delay),
            *(["--gpu-workers", str(gpu_workers)] if gpu_workers is not None else []),
            *(["--blender-workers", str(blender_workers)] if blender_workers is not None else []),
            *(["--iam"] if iam else []),
            "--state-dir",
            str(state),
        ],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "a"),  # noqa: SIM115 (the stack process owns the log file; a restart appends)
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_stop_with_tests,
    )  # a killed test run takes its stack down with it
    api_url = f"http://127.0.0.1:{api_port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the stack exited early:\n{log_path.read_text()[-4000:]}")
        try:
            health = requests.get(f"{api_url}/health", timeout=2)
            if health.status_code == 200 or (gpu_workers == blender_workers == 0 and health.status_code == 503):
                outputs = json.loads((state / "outputs.json").read_text())
                return RunningStack(
                    api_url,
                    f"http://127.0.0.1:{web_port}",
                    f"http://127.0.0.1:{emulator_port}",
                    outputs,
                    process,
                    log_path,
                    env,
                    f"http://127.0.0.1:{stripe_port}",
                )
        except requests.RequestException:
            pass
        time.sleep(1)
    stop_stack_process(process)
    raise RuntimeError(f"the stack did not become healthy in {timeout} s:\n{log_path.read_text()[-4000:]}")


def make_admin(stack: RunningStack) -> ApiUser:
    """A registered user promoted with the documented command (python -m chalicelib.create_admin)."""
    admin = ApiUser(stack.api_url)
    env = dict(stack.env, AWS_ENDPOINT_URL=stack.endpoint, **stack.outputs)
    subprocess.run(
        [sys.executable, "-m", "chalicelib.create_admin", "--email", admin.email],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    admin.login()
    return admin


@contextlib.contextmanager
def running_stack(**options) -> Iterator[RunningStack]:
    """A stack of start_stack(**options) for the `with` block, Ctrl-C'd when it ends (for a module's own stack)."""
    running = start_stack(**options)
    try:
        yield running
    finally:
        stop_stack_process(running.process)


def stop_stack_process(process: subprocess.Popen) -> None:
    """Ctrl-C the stack and wait for it (its children die with it)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


class ApiUser:
    """A registered user talking to the API over HTTP."""

    def __init__(self, api_url: str, email: str | None = None, password: str = "correct horse battery staple"):
        self.api = api_url
        self.email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        self.password = password
        response = requests.post(
            f"{api_url}/auth/register", json={"email": self.email, "password": password, "name": "Test"}
        )
        check_response(api_url, "POST", response)
        assert response.status_code == 201, response.text
        data = response.json()
        self.id = data["user"]["id"]
        self.token = data["accessToken"]

    def login(self) -> None:
        """Log in again (picks up a changed role)."""
        response = requests.post(f"{self.api}/auth/login", json={"email": self.email, "password": self.password})
        check_response(self.api, "POST", response)
        assert response.status_code == 200, response.text
        self.token = response.json()["accessToken"]

    def credits(self) -> int:
        """The current balance."""
        return self.call("GET", "/users/me/credits").json()["balance"]

    @property
    def headers(self) -> dict:
        """The bearer header."""
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """An authenticated request (extra `headers` are added to the bearer header); its answer must be one the served
        OpenAPI document allows (status and schema)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = requests.request(method, f"{self.api}{path}", headers=headers, timeout=30, **kwargs)
        check_response(self.api, method, response)
        return response

    def project(self, name: str = "test project") -> str:
        """Create a project; its id."""
        response = self.call("POST", "/projects", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def start_job(self, project_id: str, job_type: str, inputs: dict, **fields) -> requests.Response:
        """POST /jobs for a job of job_type in the project (`fields`: params, webhookUrl...); the answer, unchecked."""
        return self.call("POST", "/jobs", json={"projectId": project_id, "type": job_type, "inputs": inputs, **fields})

    def upload(
        self, project_id: str, filename: str, data: bytes, kind: str, content_type: str, wait: bool = True
    ) -> dict:
        """Request an upload, POST the bytes to S3 like a browser, and wait until the asset is judged."""
        response = self.call(
            "POST",
            f"/projects/{project_id}/assets",
            json={"filename": filename, "contentType": content_type, "sizeBytes": len(data), "kind": kind},
        )
        assert response.status_code == 201, response.text
        ticket = response.json()
        posted = requests.post(
            ticket["upload"]["url"],
            data=ticket["upload"]["fields"],
            files={"file": (filename, data, content_type)},
            timeout=60,
        )
        assert posted.status_code == 204, posted.text
        return self.wait_asset(ticket["asset"]["id"]) if wait else ticket

    def wait_asset(self, asset_id: str, timeout: float = 60) -> dict:
        """Poll an asset until it leaves PENDING_UPLOAD."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            asset = self.call("GET", f"/assets/{asset_id}").json()
            if asset["status"] != "PENDING_UPLOAD":
                return asset
            time.sleep(0.3)
        raise AssertionError(f"asset {asset_id} was never processed")

    def wait_job(self, job_id: str, timeout: float = 300, seen: list | None = None, interval: float = 0.25) -> dict:
        """Poll a job until it ends; `seen` collects every (status, stage, progress) observed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.call("GET", f"/jobs/{job_id}").json()
            if seen is not None and (not seen or seen[-1] != (job["status"], job["stage"], job["progress"])):
                seen.append((job["status"], job["stage"], job["progress"]))
            if job["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                return job
            time.sleep(interval)
        raise AssertionError(f"job {job_id} did not finish in {timeout} s")
