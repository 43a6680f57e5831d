"""The HTTP client of the public API: token store, automatic refresh, presigned uploads/downloads, errors with exit codes."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import requests

from ai3d import live
from chalicelib.contract import api_version
from chalicelib.contract.statuses import TERMINAL as TERMINAL_JOB_STATUSES

DEFAULT_API = "http://127.0.0.1:8000"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_UNREACHABLE = 0, 1, 2, 3, 4, 5


class CliError(Exception):
    """An error shown to the user as one line, ending the command with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message, self.exit_code, self.code, self.status = message, exit_code, code, status

    def __str__(self) -> str:
        return f"{self.message} ({self.code})" if self.code else self.message


def exit_code_for(status: int) -> int:
    """The CLI exit code for an HTTP error status: 401 auth, 403/404 not found, 400/413 usage, else failed."""
    if status == 401:
        return EXIT_AUTH
    if status in (403, 404):
        return EXIT_NOT_FOUND
    if status in (400, 413):
        return EXIT_USAGE
    return EXIT_FAILED


def api_error(response: requests.Response) -> CliError:
    """A CliError from an API error response (`{"error": {"code", "message"}}`) or any other failed response."""
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        code, message = None, f"the server answered {response.status_code} {response.reason or ''}".strip()
    return CliError(message, exit_code_for(response.status_code), code, response.status_code)


def s3_error(response: requests.Response) -> CliError:
    """A CliError from an S3 XML error response (presigned upload or download)."""
    code = re.search(r"<Code>(.*?)</Code>", response.text or "")
    message = re.search(r"<Message>(.*?)</Message>", response.text or "")
    return CliError(
        f"storage refused the transfer: {message.group(1) if message else response.status_code}",
        EXIT_FAILED,
        code.group(1) if code else None,
        response.status_code,
    )


def config_dir() -> Path:
    """$XDG_CONFIG_HOME/ai3d (default ~/.config/ai3d)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "ai3d"


class TokenStore:
    """Sessions saved per API URL in a JSON file only its owner can read (0600)."""

    def __init__(self, path: Path | None = None):
        self.path = path or config_dir() / "credentials.json"

    def _read_all(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            raise CliError(f"{self.path} is not valid JSON: delete it and log in again", EXIT_AUTH) from None
        return data if isinstance(data, dict) else {}

    def _write_all(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.replace(tmp, self.path)

    def get(self, api: str) -> dict | None:
        """The saved session for an API: {email, accessToken, refreshToken}, or None."""
        return self._read_all().get(api)

    def save(self, api: str, session: dict) -> None:
        """Save (replace) the session for an API."""
        data = self._read_all()
        data[api] = session
        self._write_all(data)

    def delete(self, api: str) -> None:
        """Forget the session for an API."""
        data = self._read_all()
        if data.pop(api, None) is not None:
            self._write_all(data)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an exclusive lock so concurrent CLI processes rotate a refresh token only once."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class MultipartFile:
    """A multipart/form-data body (the form fields, then the file) read in blocks, reporting the file's bytes as they go."""

    def __init__(
        self,
        fields: dict,
        file: BinaryIO,
        size: int,
        filename: str,
        content_type: str,
        on_read: Callable[[int], None] = lambda n: None,
    ):
        self.boundary = uuid.uuid4().hex
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        quoted = filename.replace('"', "%22").replace("\r", "").replace("\n", "")
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._file = file
        self._parts = [head, file, f"\r\n--{self.boundary}--\r\n".encode()]
        self._length = len(head) + size + len(self._parts[2])
        self._index, self._offset = 0, 0
        self.on_read = on_read

    @property
    def content_type(self) -> str:
        """The request's Content-Type header."""
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the body (all that is left when size < 0)."""
        chunks, wanted = [], size if size >= 0 else self._length
        while wanted > 0 and self._index < len(self._parts):
            part = self._parts[self._index]
            if part is self._file:
                chunk = self._file.read(wanted)
                if not chunk:
                    self._index += 1
                    continue
                self.on_read(len(chunk))
            else:
                chunk = part[self._offset : self._offset + wanted]
                self._offset += len(chunk)
                if self._offset >= len(part):
                    self._index, self._offset = self._index + 1, 0
            chunks.append(chunk)
            wanted -= len(chunk)
        return b"".join(chunks)


class Client:
    """The platform's public HTTP API for one user session; 401s refresh the session once and retry."""

    def __init__(
        self, api: str = DEFAULT_API, store: TokenStore | None = None, timeout: float = 30, api_key: str | None = None
    ):
        self.api = api.rstrip("/")
        self.base = self.api + api_version.BASE_PATH  # the versioned paths (the session is kept per `api`)
        self.store = store or TokenStore()
        self.timeout = timeout
        self.api_key = api_key  # when set, every call authenticates with it instead of the saved session
        self.transport = ""  # how the last wait_job followed its job: websocket or polling
        self.http = requests.Session()

    # ------------------------------------------------------------ transport
    def _send(self, method: str, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self.http.request(method, url, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            where = self.api if url.startswith(self.api) else url.split("?", 1)[0]
            raise CliError(f"cannot reach {where}: {type(exc).__name__}", EXIT_UNREACHABLE) from None

    def _session(self) -> dict:
        session = self.store.get(self.api)
        if not session:
            raise CliError(f"not logged in to {self.api}: run `ai3d login`", EXIT_AUTH)
        return session

    def call(self, method: str, path: str, body: dict | None = None, params: dict | None = None, auth: bool = True):
        """One API call; the parsed JSON answer (None for 204). Raises CliError."""
        headers = {}
        if auth:
            token = self.bearer()
            headers["Authorization"] = f"Bearer {token}"
        params = {k: v for k, v in (params or {}).items() if v is not None}
        response = self._send(method, self.base + path, json=body, params=params, headers=headers)
        if auth and not self.api_key and response.status_code == 401 and self._error_code(response) == "INVALID_TOKEN":
            headers["Authorization"] = f"Bearer {self._refreshed(token)}"
            response = self._send(method, self.base + path, json=body, params=params, headers=headers)
        if not response.ok:
            raise api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"the server sent a response that is not JSON ({response.status_code})") from None

    def bearer(self) -> str:
        """What this client authenticates with: the API key if given, else the saved session's access token."""
        return self.api_key or self._session()["accessToken"]

    @staticmethod
    def _error_code(response: requests.Response) -> str | None:
        try:
            return response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None

    def _refreshed(self, stale_access_token: str) -> str:
        """A fresh access token: another process's if it already rotated the session, else our own refresh."""
        with self.store.locked():
            session = self._session()
            if session["accessToken"] != stale_access_token:
                return session["accessToken"]
            response = self._send("POST", f"{self.base}/auth/refresh", json={"refreshToken": session["refreshToken"]})
            if not response.ok:
                self.store.delete(self.api)
                raise CliError(
                    "your session has expired: run `ai3d login`",
                    EXIT_AUTH,
                    self._error_code(response),
                    response.status_code,
                )
            pair = response.json()
            self.store.save(
                self.api, {**session, "accessToken": pair["accessToken"], "refreshToken": pair["refreshToken"]}
            )
            return pair["accessToken"]

    # ------------------------------------------------------------ accounts
    def _open_session(self, answer: dict) -> dict:
        user = answer["user"]
        self.store.save(
            self.api,
            {"email": user["email"], "accessToken": answer["accessToken"], "refreshToken": answer["refreshToken"]},
        )
        return user

    def register(self, email: str, password: str, name: str) -> dict:
        """Sign up and save the session; the new user."""
        return self._open_session(
            self.call("POST", "/auth/register", {"email": email, "password": password, "name": name}, auth=False)
        )

    def login(self, email: str, password: str) -> dict:
        """Log in and save the session; the user."""
        return self._open_session(self.call("POST", "/auth/login", {"email": email, "password": password}, auth=False))

    def logout(self) -> bool:
        """Revoke the saved session on the server and forget it; False if there was none."""
        session = self.store.get(self.api)
        if not session:
            return False
        try:
            self.call("POST", "/auth/logout", {"refreshToken": session["refreshToken"]}, auth=False)
        finally:
            self.store.delete(self.api)
        return True

    def me(self) -> dict:
        """The caller's account."""
        return self.call("GET", "/users/me")

    def rotate_webhook_secret(self) -> dict:
        """A new webhook signing secret ({secret, createdAt, previousValidUntil}); the server never shows it again."""
        return self.call("POST", "/users/me/webhook-secret")

    def create_api_key(self, name: str, scopes: list[str]) -> dict:
        """A new API key ({id, name, scopes, prefix, last4, createdAt, lastUsedAt, key}); its value is shown only now."""
        return self.call("POST", "/api-keys", {"name": name, "scopes": scopes})

    def api_keys(self) -> list[dict]:
        """The caller's API keys (never their values)."""
        return self.call("GET", "/api-keys")["items"]

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke an API key: requests made with it are refused from now on."""
        self.call("DELETE", f"/api-keys/{key_id}")

    def credits(self, limit: int | None = None) -> dict:
        """Balance, tier and the newest ledger entries."""
        return self.call("GET", "/users/me/credits", params={"limit": limit})

    # ------------------------------------------------------------ billing
    def plans(self) -> list[dict]:
        """Every tier with its monthly price, credits and limits."""
        return self.call("GET", "/billing/plans")["plans"]

    def subscription(self) -> dict:
        """The caller's subscription (status "none" before the first)."""
        return self.call("GET", "/billing/subscription")

    def subscribe(self, plan: str, payment_method: str) -> dict:
        """Subscribe to a paid plan with a Stripe PaymentMethod id."""
        return self.call("POST", "/billing/subscription", {"plan": plan, "paymentMethod": payment_method})

    def change_plan(self, plan: str) -> dict:
        """Move to another paid plan (an upgrade now, a downgrade at the period's end)."""
        return self.call("PATCH", "/billing/subscription", {"plan": plan})

    def cancel_subscription(self) -> dict:
        """Cancel at the end of the paid period."""
        return self.call("DELETE", "/billing/subscription")

    def resume_subscription(self) -> dict:
        """Undo a cancellation before the period ends."""
        return self.call("POST", "/billing/subscription/resume")

    def invoices(self) -> list[dict]:
        """The caller's invoices, newest first."""
        return self.call("GET", "/billing/invoices")["invoices"]

    # ------------------------------------------------------------ projects and assets
    def projects(self, limit: int | None = None) -> list[dict]:
        """The caller's projects, newest first (one page)."""
        return self.call("GET", "/projects", params={"limit": limit})["items"]

    def create_project(self, name: str, description: str | None = None) -> dict:
        """Create a project."""
        return self.call("POST", "/projects", {"name": name, **({"description": description} if description else {})})

    def project(self, project_id: str) -> dict:
        """One project."""
        return self.call("GET", f"/projects/{project_id}")

    def delete_project(self, project_id: str) -> None:
        """Delete a project with its assets (its running jobs are cancelled)."""
        self.call("DELETE", f"/projects/{project_id}")

    def assets(self, project_id: str, limit: int | None = None) -> list[dict]:
        """A project's assets, newest first (one page)."""
        return self.call("GET", f"/projects/{project_id}/assets", params={"limit": limit})["items"]

    def asset(self, asset_id: str) -> dict:
        """One asset (with a signed download URL once READY)."""
        return self.call("GET", f"/assets/{asset_id}")

    def upload(
        self, project_id: str, path: Path, kind: str, content_type: str, on_read: Callable[[int], None] = lambda n: None
    ) -> dict:
        """Register an asset and POST the file's bytes to its presigned URL, streamed; the asset (PENDING_UPLOAD)."""
        size = path.stat().st_size
        ticket = self.call(
            "POST",
            f"/projects/{project_id}/assets",
            {"filename": path.name, "contentType": content_type, "sizeBytes": size, "kind": kind},
        )
        with open(path, "rb") as handle:
            body = MultipartFile(ticket["upload"]["fields"], handle, size, path.name, content_type, on_read)
            response = self._send(
                "POST",
                ticket["upload"]["url"],
                data=body,
                headers={"Content-Type": body.content_type},
                timeout=max(self.timeout, 600),
            )
        if not response.ok:
            raise s3_error(response)
        return ticket["asset"]

    def wait_asset(self, asset_id: str, timeout: float = 300, interval: float = 0.5) -> dict:
        """Poll an asset until the platform has judged its bytes (READY or REJECTED)."""
        deadline = time.monotonic() + timeout
        while True:
            asset = self.asset(asset_id)
            if asset["status"] != "PENDING_UPLOAD":
                return asset
            if time.monotonic() > deadline:
                raise CliError(f"asset {asset_id} was still being checked after {timeout:.0f} s")
            time.sleep(interval)

    def download(self, url: str, dest: Path, on_read: Callable[[int], None] = lambda n: None) -> Path:
        """Stream a signed URL to `dest` (written whole or not at all)."""
        response = self._send("GET", url, stream=True, timeout=max(self.timeout, 600))
        with response:
            if not response.ok:
                raise s3_error(response)
            dest.parent.mkdir(parents=True, exist_ok=True)
            partial = dest.with_name(f".{dest.name}.part")
            with open(partial, "wb") as handle:
                for chunk in response.iter_content(64 * 1024):
                    handle.write(chunk)
                    on_read(len(chunk))
        os.replace(partial, dest)
        return dest

    # ------------------------------------------------------------ jobs
    def create_job(
        self, job_type: str, project_id: str, inputs: dict, params: dict, webhook_url: str | None = None
    ) -> dict:
        """Start a job (debits its credits)."""
        body = {"type": job_type, "projectId": project_id, "inputs": inputs, "params": params}
        if webhook_url:
            body["webhookUrl"] = webhook_url
        return self.call("POST", "/jobs", body)

    def websocket_url(self) -> str | None:
        """Where the platform serves live progress (None if it serves none)."""
        try:
            return self.call("GET", "/websocket", auth=False).get("url")
        except CliError:
            return None

    def job(self, job_id: str) -> dict:
        """One job with its progress and signed output URLs."""
        return self.call("GET", f"/jobs/{job_id}")

    def jobs(self, project_id: str | None = None, status: str | None = None, limit: int | None = None) -> list[dict]:
        """Jobs of a project or of the caller, newest first (one page)."""
        return self.call("GET", "/jobs", params={"projectId": project_id, "status": status, "limit": limit})["items"]

    def cancel_job(self, job_id: str) -> dict:
        """Cancel a running job (it is refunded)."""
        return self.call("POST", f"/jobs/{job_id}/cancel")

    def wait_job(
        self,
        job_id: str,
        on_update: Callable[[dict], None] = lambda job: None,
        timeout: float | None = None,
        interval: float = 1.0,
    ) -> dict:
        """Follow a job until it is COMPLETED, FAILED or CANCELLED, calling on_update with each state seen: over the
        WebSocket when the platform has one (`transport` says which was used), else - or when it fails - by polling."""
        deadline = None if timeout is None else time.monotonic() + timeout
        live_url = self.websocket_url()
        if live_url:
            try:
                live.follow(live_url, self.bearer(), job_id, on_update, timeout)
                self.transport = "websocket"
                return self.job(job_id)  # the final state with its outputs' download links
            except live.TimedOut:
                raise CliError(
                    f"job {job_id} did not end within {timeout:.0f} s; follow it with `ai3d jobs show {job_id}`"
                ) from None
            except live.LiveUnavailable as exc:
                self.transport = f"polling (WebSocket unavailable: {exc})"
        else:
            self.transport = "polling"
        while True:
            job = self.job(job_id)
            on_update(job)
            if job["status"] in TERMINAL_JOB_STATUSES:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise CliError(
                    f"job {job_id} is still {job['status']} after {timeout:.0f} s; "
                    f"follow it with `ai3d jobs show {job_id}`"
                )
            time.sleep(interval)
