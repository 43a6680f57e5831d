"""Bring the whole stack up in the foreground: emulator, infrastructure, API, event runner, workers and web app.

`python -m devstack` (and so `make run`) calls this. If AWS_ENDPOINT_URL is already set (a LocalStack, say) it is used instead
of the embedded emulator. Ctrl-C (or SIGTERM) stops every process. Any process that dies is
restarted with backoff - workers as a container service would be, the API and the event runner as Lambda
would start a fresh instance; only the emulator's death stops the stack. Children get PR_SET_PDEATHSIG so
none outlives this process, even if it is killed with SIGKILL.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from devstack import state

ROOT = Path(__file__).resolve().parents[1]
COLORS = {"stripe": 96, "emulator": 36, "api": 32, "events": 35, "gpu": 33, "blender": 34, "web": 37, "stack": 1}
WORKERS = ("gpu", "blender")  # worker kinds; each runs as N processes named <kind>-1 ... <kind>-N


def kind_of(name: str) -> str:
    """The kind of a process name: gpu-2 -> gpu, api -> api."""
    return name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_dependencies() -> list[str]:
    """Names of missing Python modules the stack needs."""
    import importlib.util

    needed = [
        "moto",
        "chalice",
        "boto3",
        "pynamodb",
        "aws_lambda_powertools",
        "mediapipe",
        "cv2",
        "bpy",
        "trimesh",
        "stripe",
        "localstripe",
    ]
    return [name for name in needed if importlib.util.find_spec(name) is None]


class Stack:
    """The supervised set of processes."""

    def __init__(
        self,
        api_port: int,
        emulator_port: int,
        web_port: int,
        schedule_scale: float,
        state_dir: Path,
        workers: dict[str, int] | None = None,
        lease_seconds: float = 60,
        restart_delay: float = 1,
        iam: bool = False,
        ws_port: int = 8001,
        stripe_port: int | None = None,
    ):
        self.api_port = api_port
        self.ws_port = ws_port
        self.stripe_port = stripe_port or emulator_port + 1
        self.web_port = web_port
        self.emulator_port = emulator_port
        self.schedule_scale = schedule_scale
        self.workers = workers or dict.fromkeys(WORKERS, 1)
        self.restart_delay = restart_delay
        self.iam = iam  # each process acts as its declared role; the emulator refuses the rest (devstack/iam.py)
        self.state_dir = state_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.restarts: dict[str, int] = {}
        self.stopping = threading.Event()
        self.failed: str | None = None
        self.lock = threading.Lock()
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        self.env.setdefault("AWS_ACCESS_KEY_ID", "test")
        self.env.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        self.env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        for name, value in state.local_secrets(state_dir).items():
            self.env.setdefault(name, value)  # secrets set in the environment win over the generated ones
        self.env["WORKER_LEASE_SECONDS"] = str(lease_seconds)  # the workers hold tasks by it, the sweeper judges by it

    def say(self, name: str, line: str) -> None:
        """Print one log line prefixed with its process name."""
        color = COLORS.get(kind_of(name), 0)
        prefix = f"\033[{color}m{name:>8} |\033[0m " if sys.stdout.isatty() else f"{name:>8} | "
        with self.lock:
            print(prefix + line, flush=True)

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a child with prefixed logs (and remember how, to restart it)."""
        self.commands[name] = (args, env or {})
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent,
            process_group=0,
        )  # Ctrl-C reaches only this supervisor
        self.procs[name] = proc
        threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()
        return proc

    def _pump(self, name: str, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.say(name, line.rstrip())

    def start(self) -> None:
        """Start everything in order; raise SystemExit with a clear message on failure."""
        missing = check_dependencies()
        if missing:
            raise SystemExit(f"missing Python packages: {', '.join(missing)} - run `make setup` first")
        for port, flag in ((self.api_port, "--api-port"), (self.web_port, "--web-port"), (self.ws_port, "--ws-port")):
            if not port_free("127.0.0.1", port):
                raise SystemExit(f"port {port} is already in use: stop what holds it or pass {flag}")
        self.say("stack", f"state is kept in {self.state_dir} (`make reset` wipes it)")
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            self.say("stack", f"using the AWS endpoint already set: {endpoint}")
        else:
            if not port_free("127.0.0.1", self.emulator_port):
                raise SystemExit(
                    f"port {self.emulator_port} is already in use (another emulator or LocalStack?): "
                    f"stop it, pass --emulator-port, or set AWS_ENDPOINT_URL to use it"
                )
            endpoint = f"http://127.0.0.1:{self.emulator_port}"
            emulator_state = str(self.state_dir / "emulator")
            args = ["-m", "devstack.emulator.server", "--port", str(self.emulator_port), "--state-dir", emulator_state]
            self.spawn("emulator", args)
            self._wait(f"{endpoint}/moto-api/", "emulator", 60)
        self.env["AWS_ENDPOINT_URL"] = endpoint
        self._start_stripe()
        self.say("stack", "deploying infrastructure/template.yaml")
        outputs_file = self.state_dir / "outputs.json"
        deploy = subprocess.run(
            [
                sys.executable,
                "-m",
                "devstack.deploy",
                "--out",
                str(outputs_file),
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if deploy.returncode != 0:
            raise SystemExit(f"deploying the infrastructure failed:\n{deploy.stderr[-2000:]}")
        for line in deploy.stderr.splitlines():  # what the emulator does not run, and who plays it
            self.say("stack", line)
        outputs = json.loads(outputs_file.read_text())
        self.env.update(outputs)
        from devstack.ws import callback_url

        # the WebSocket API (devstack/ws.py): where clients connect, and where the app pushes to them
        self.env.update(
            WEBSOCKET_URL=f"ws://127.0.0.1:{self.ws_port}/", WEBSOCKET_CALLBACK_URL=callback_url(self.ws_port)
        )
        (self.state_dir / "outputs.env").write_text("".join(f"{k}={v}\n" for k, v in outputs.items()))
        recovered = subprocess.run(
            [sys.executable, "-m", "devstack.recover"], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if recovered.returncode != 0:
            raise SystemExit(f"resuming the jobs of the last run failed:\n{recovered.stderr[-2000:]}")
        for line in recovered.stdout.splitlines():
            self.say("stack", line)
        roles: dict[str, dict[str, str]] = {}
        if self.iam:
            from devstack import iam

            roles = iam.enforce(endpoint)
            self.say("stack", f"IAM enforced: {', '.join(sorted(roles))} each act as their declared role")
        self.spawn("api", ["-m", "devstack.api", "--port", str(self.api_port)], roles.get("api"))
        self.spawn("ws", ["-m", "devstack.ws", "--port", str(self.ws_port)], roles.get("ws"))
        if self.iam:  # one process per event source, as each is its own Lambda function with its own role
            for name in (n for n in roles if n.startswith("events-")):
                scale = str(self.schedule_scale)
                args = ["-m", "devstack.iam", "--event-source", name.removeprefix("events-"), "--schedule-scale", scale]
                self.spawn(name, args, roles[name])
        else:
            self.spawn("events", ["-m", "devstack.events", "--schedule-scale", str(self.schedule_scale)])
        for kind, count in self.workers.items():
            for i in range(1, count + 1):
                env = {"WORKER_NAME": f"{kind}-{i}", **roles.get(kind, {})}
                self.spawn(f"{kind}-{i}", ["-m", f"container_workers.{kind}_worker"], env)
        api = f"http://127.0.0.1:{self.api_port}"
        self.spawn(
            "web",
            [
                "-m",
                "devstack.web",
                *("--port", str(self.web_port), "--api", api, "--assets-origin", endpoint),
                *("--ws", f"ws://127.0.0.1:{self.ws_port}"),
                *("--stripe", self.env.get("STRIPE_API_BASE", "https://api.stripe.com")),
            ],
        )
        self._wait(f"http://127.0.0.1:{self.api_port}/health", "api", 60, any_status=True)
        self.say(
            "stack",
            f"API ready at http://127.0.0.1:{self.api_port}  (AWS endpoint {endpoint}) - Ctrl-C stops everything",
        )

    def _start_stripe(self) -> None:
        """The Stripe emulator (localstripe, a GPL dev tool in its own process), unless STRIPE_API_BASE names a
        Stripe already (e.g. Stripe's test mode, with STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET set to match)."""
        if os.environ.get("STRIPE_API_BASE"):
            self.say("stack", f"using the Stripe API already set: {os.environ['STRIPE_API_BASE']}")
            return
        if not port_free("127.0.0.1", self.stripe_port):
            raise SystemExit(f"port {self.stripe_port} is already in use: stop what holds it or pass --stripe-port")
        base = f"http://127.0.0.1:{self.stripe_port}"
        args = [
            "-m",
            "devstack.stripe_emulator.server",
            "--port",
            str(self.stripe_port),
            "--state-dir",
            str(self.state_dir / "stripe"),
            "--webhook-url",
            f"http://127.0.0.1:{self.api_port}/billing/webhook",
        ]
        self.spawn("stripe", args)
        self._wait(f"{base}/js.stripe.com/v3/", "stripe", 60)
        self.env["STRIPE_API_BASE"] = base

    def _wait(self, url: str, name: str, seconds: float, any_status: bool = False) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.stopping.is_set():
                raise SystemExit("interrupted while starting")
            if self.procs[name].poll() is not None:
                raise SystemExit(f"{name} exited with code {self.procs[name].returncode} while starting")
            try:
                response = requests.get(url, timeout=2)
                if any_status or response.ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise SystemExit(f"{name} did not come up at {url} within {seconds:.0f} s")

    def supervise(self) -> None:
        """Restart any process that dies (with backoff); stop the stack when the emulator dies.

        Runs on the main thread, like every spawn: PR_SET_PDEATHSIG fires when the spawning *thread* ends.
        """
        due: dict[str, float] = {}
        while not self.stopping.wait(0.5):
            for name, when in list(due.items()):
                if time.time() >= when:
                    del due[name]
                    self.spawn(name, *self.commands[name])
            for name, proc in list(self.procs.items()):
                code = proc.poll()
                if code is None or name in due:
                    continue
                if name != "emulator":
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    delay = min(30, self.restart_delay * 2 ** (self.restarts[name] - 1))
                    what = f"{name} worker" if kind_of(name) in WORKERS else name
                    self.say("stack", f"{what} exited with code {code}; restarting it in {delay:g} s")
                    due[name] = time.time() + delay
                else:
                    self.failed = f"{name} exited with code {code}"
                    self.say("stack", self.failed + "; stopping the stack")
                    self.stopping.set()

    def shutdown(self, grace: float = 30.0) -> None:
        """Stop in order - web app, event runner and API, then workers (they finish their task), then the emulator -
        each with SIGTERM, and SIGKILL for whatever outlives the grace period."""
        self.stopping.set()
        workers = tuple(name for name in self.procs if kind_of(name) in WORKERS)
        front = ("web", "api", "ws", *(name for name in self.procs if name.startswith("events")))
        for phase in (front, workers, ("stripe", "emulator")):
            procs = [(name, self.procs[name]) for name in phase if name in self.procs]
            for _, proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.time() + grace
            for name, proc in procs:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    self.say("stack", f"{name} did not stop in time; killing it")
                    proc.kill()
                    proc.wait()
        self.say("stack", "stopped")


def main() -> None:
    """Run the stack until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("AI3D_API_PORT", "8000")))
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("AI3D_EMULATOR_PORT", "4566")))
    parser.add_argument("--web-port", type=int, default=int(os.environ.get("AI3D_WEB_PORT", "8080")))
    parser.add_argument("--ws-port", type=int, default=int(os.environ.get("AI3D_WS_PORT", "8001")))
    parser.add_argument(
        "--stripe-port", type=int, default=int(os.environ.get("AI3D_STRIPE_PORT", "8420")), help="the Stripe emulator"
    )
    parser.add_argument("--schedule-scale", type=float, default=1.0, help="speed up schedules (tests use < 1)")
    for kind in WORKERS:
        parser.add_argument(
            f"--{kind}-workers",
            type=int,
            default=int(os.environ.get(f"{kind.upper()}_WORKERS", "1")),
            help=f"how many {kind} worker processes (env {kind.upper()}_WORKERS)",
        )
    parser.add_argument(
        "--lease-seconds",
        type=float,
        default=float(os.environ.get("WORKER_LEASE_SECONDS", "60")),
        help="a worker that stops renewing its lease this long loses its task to another worker",
    )
    parser.add_argument(
        "--restart-delay", type=float, default=1.0, help="first restart delay of a dead process (doubles)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=state.DEFAULT,
        help="where the stack keeps its data, secrets and outputs across restarts (make reset wipes it)",
    )
    parser.add_argument("--iam", action="store_true", help="enforce IAM: each process gets exactly its declared role")
    args = parser.parse_args()
    workers = {kind: getattr(args, f"{kind}_workers") for kind in WORKERS}
    state.prepare(args.state_dir)
    stack = Stack(
        args.api_port,
        args.emulator_port,
        args.web_port,
        args.schedule_scale,
        args.state_dir,
        workers,
        args.lease_seconds,
        args.restart_delay,
        args.iam,
        args.ws_port,
        args.stripe_port,
    )
    signal.signal(signal.SIGTERM, lambda *_: stack.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stack.stopping.set())
    try:
        stack.start()
        stack.supervise()
    except SystemExit as exc:
        stack.say("stack", str(exc))
        stack.failed = str(exc)
    finally:
        stack.shutdown()
        state.release(args.state_dir)
    sys.exit(1 if stack.failed else 0)


if __name__ == "__main__":
    main()
