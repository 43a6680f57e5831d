"""The emulator's durable state: snapshots of what it holds for DynamoDB, S3 and SQS, taken about every second while
something changes and once more when it stops, into the state dir; restored when it starts.

Why snapshots of moto's backends: moto 5.2.5 persists nothing (its recorder journals raw requests, which replay
neither presigned uploads past their expiry nor Step Functions' own calls), and a journal of our own would replay
writes whose conditions and timestamps no longer hold. Its backends pickle (with fresh locks in place of the ones
they hold), so a snapshot is exactly what the services held at one instant:

- consistent: requests that may change state pass a gate; a snapshot closes it, waits for those in flight (at most
  DRAIN_SECONDS, else it reopens and tries again later) and pickles all three services at that one instant, so no
  record points at an object taken later; reads and SQS receives (long polls) never wait;
- cheap: an S3 object's bytes are written once, to blobs/<md5>-<size>, and a snapshot names them; blobs no snapshot
  names are deleted; the pickle is written beside the last one and renamed over it (fsync'd), so a crash leaves one
  or the other whole;
- what it loses: a kill -9 of the emulator loses the writes since the last snapshot (at most SNAPSHOT_SECONDS, or
  longer while a snapshot waits for a large upload); Ctrl-C, SIGTERM and a kill -9 of the supervisor (which sends
  the emulator SIGTERM) lose nothing.

Step Functions executions are not kept (their state lives in the threads that run them): a restored task message
holding a task token is dropped, and the stack starts the jobs that were running again (devstack/recover.py). SQS
messages in flight when the emulator stopped are visible again at once: their consumers died with it.
"""

from __future__ import annotations

import fcntl
import io
import os
import pickle
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

SERVICES = ("dynamodb", "s3", "sqs")
SNAPSHOT_SECONDS = 1.0
DRAIN_SECONDS = 2.0
READ_ACTIONS = ("Get", "Query", "Scan", "Describe", "List", "BatchGet", "ReceiveMessage")
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


class Gate:
    """Requests that may change state pass together; a snapshot closes the gate and waits for them to finish."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self.dirty = True  # whatever was restored is written once more

    @contextmanager
    def request(self):
        """One request that may change state."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._active += 1
            self.dirty = True
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if not self._active:
                    self._cond.notify_all()

    @contextmanager
    def closed(self, drain: float):
        """Hold new requests back and wait for those in flight; yields False (and reopens) if they outlast `drain`."""
        deadline = time.monotonic() + drain
        with self._cond:
            self._closed = True
            while self._active and time.monotonic() < deadline:
                self._cond.wait(timeout=max(0.0, deadline - time.monotonic()))
            drained = not self._active
            if drained:
                self.dirty = False
        try:
            yield drained
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


def changes_state(environ: dict) -> bool:
    """Whether a request may change what the services hold (reads, receives and moto's own API do not)."""
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return False
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return False
    action = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
    return not action.startswith(READ_ACTIONS)


class Recorded:
    """WSGI middleware: every request that may change state passes the gate."""

    def __init__(self, app, gate: Gate):
        self.app = app
        self.gate = gate

    def __call__(self, environ, start_response):
        if not changes_state(environ):
            return self.app(environ, start_response)
        with self.gate.request():
            return list(self.app(environ, start_response))


# ---------------------------------------------------------------- pickling the backends
def _new_lock(kind: type):
    return kind()


def _restored_key(state: dict, blob: Path):
    """An S3 key rebuilt from its pickled attributes and its bytes."""
    from moto.s3.models import FakeKey

    key = FakeKey.__new__(FakeKey)
    key.__dict__.update(state)
    key._value_buffer = tempfile.SpooledTemporaryFile(max_size=key._max_buffer_size)  # noqa: SIM115 (as moto does)
    key.lock = threading.Lock()
    key.value = blob.read_bytes()
    return key


class _Pickler(pickle.Pickler):
    """Pickles moto's backends: locks and conditions become fresh ones, S3 bytes go to blob files."""

    def __init__(self, stream, blobs: Path):
        super().__init__(stream, protocol=pickle.HIGHEST_PROTOCOL)
        from moto.s3.models import FakeKey

        self.fake_key = FakeKey
        self.blobs = blobs
        self.named: set[str] = set()  # blobs this snapshot names
        self.new: dict[str, bytes] = {}  # blobs to write after the gate reopens

    def reducer_override(self, obj):
        """Locks, conditions and S3 keys; everything else as pickle does it."""
        if isinstance(obj, _LOCK_TYPES):
            return _new_lock, (type(obj),)
        if isinstance(obj, threading.Condition):
            return threading.Condition, ()
        if isinstance(obj, self.fake_key):
            name = f"{obj.etag.strip(chr(34))}-{obj.contentsize}"
            if name not in self.named and not (self.blobs / name).exists():
                self.new[name] = obj.value
            self.named.add(name)
            state = {k: v for k, v in obj.__dict__.items() if k not in ("_value_buffer", "lock")}
            return _restored_key, (state, self.blobs / name)
        return NotImplemented


class Snapshots:
    """The emulator's snapshots in `folder` (the stack's state dir / emulator)."""

    def __init__(self, folder: Path, gate: Gate):
        self.folder = folder
        self.blobs = folder / "blobs"
        self.file = folder / "state.pickle"
        self.gate = gate
        self.taken = 0
        self.seconds = 0.0  # the last snapshot's cost, which spaces them out when it grows
        self._stop = threading.Event()
        self._holder = None

    def claim(self, wait: float = 60) -> None:
        """Hold the folder for this process (an emulator still writing its last snapshot releases it when done)."""
        self.blobs.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._holder = open(self.folder / "lock", "w")  # noqa: SIM115 (held for the process's life)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"another emulator holds {self.folder}") from None
                time.sleep(0.2)

    def restore(self) -> bool:
        """Load the last snapshot into moto's backends; False when there is none."""
        if not self.file.exists():
            return False
        from moto.backends import get_backend

        with self.file.open("rb") as handle:
            saved = pickle.load(handle)
        for service, accounts in saved.items():
            backends = get_backend(service)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    backends[account][region].__dict__.update(backend.__dict__)
        _forget_executions()
        return True

    def capture(self) -> bool:
        """Take one snapshot if anything changed since the last; False when in-flight writes did not drain."""
        if not self.gate.dirty:
            return True
        from moto.backends import get_backend

        started = time.monotonic()
        buffer, pickler = io.BytesIO(), _Pickler(io.BytesIO(), self.blobs)
        with self.gate.closed(DRAIN_SECONDS) as drained:
            if not drained:
                return False
            for attempt in range(3):  # an SQS receive (never held back) may change a queue while it is pickled
                try:
                    buffer = io.BytesIO()
                    pickler = _Pickler(buffer, self.blobs)
                    pickler.dump({s: {a: dict(r) for a, r in get_backend(s).items()} for s in SERVICES})
                    break
                except RuntimeError:
                    if attempt == 2:
                        raise
        for name, data in pickler.new.items():
            _write(self.blobs / name, data)
        _write(self.file, buffer.getvalue())
        for blob in self.blobs.iterdir():
            if blob.name not in pickler.named and not blob.name.endswith(".tmp"):
                blob.unlink(missing_ok=True)
        self.taken += 1
        self.seconds = time.monotonic() - started
        return True

    def run(self) -> None:
        """Snapshot about every SNAPSHOT_SECONDS (or ten times the last one's cost, if more) until stopped."""
        while not self._stop.wait(max(SNAPSHOT_SECONDS, 10 * self.seconds)):
            try:
                self.capture()
            except Exception as exc:  # a failed snapshot must not stop the next
                print(f"emulator snapshot failed: {type(exc).__name__}: {exc}", flush=True)

    def stop(self) -> None:
        """Stop the periodic snapshots and take the last one (the server no longer answers)."""
        self._stop.set()
        self.gate.dirty = True
        self.capture()


def _write(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (temporary file, fsync, rename)."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _forget_executions() -> None:
    """No execution survives a restart: drop the task messages that carry its tokens, and let every other message
    be received again now (whoever held it died with the emulator)."""
    import json

    from moto.backends import get_backend

    for regions in get_backend("sqs").values():
        for backend in regions.values():
            for queue in backend.queues.values():
                kept = []
                for message in queue._messages:
                    try:
                        body = json.loads(message.body)
                    except ValueError:
                        body = None
                    if isinstance(body, dict) and "taskToken" in body:
                        continue
                    message.visible_at = 0.0
                    kept.append(message)
                queue._messages = kept
                queue._pending_messages = set()
