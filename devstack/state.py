"""The local stack's state dir (`.stack/` unless `--state-dir` says otherwise): the secrets generated at its first
start, the emulator's snapshots (users, projects, assets and their bytes, jobs, ledger), the deployed outputs and
the lock of the stack using it. `make reset` (`python -m devstack.state --reset`) wipes it."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / ".stack"
SECRETS_FILE = "secrets.json"
SECRET_NAMES = ("JWT_SECRET", "WEBHOOK_SECRET", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET")
SECRET_PREFIXES = {"STRIPE_API_KEY": "sk_test_", "STRIPE_WEBHOOK_SECRET": "whsec_"}  # the shapes Stripe's secrets have
PID_FILE = "stack.pid"


def prepare(state_dir: Path) -> None:
    """Create the state dir readable by its owner only, and claim it for this process; SystemExit if another
    running stack holds it (two emulators would overwrite each other's snapshots)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    holder = running_stack(state_dir)
    if holder:
        raise SystemExit(f"another stack (pid {holder}) uses {state_dir}: stop it or pass another --state-dir")
    (state_dir / PID_FILE).write_text(str(os.getpid()))


def release(state_dir: Path) -> None:
    """Give up the claim on the state dir (at a clean exit)."""
    pid_file = state_dir / PID_FILE
    if pid_file.exists() and pid_file.read_text().strip() == str(os.getpid()):
        pid_file.unlink()


def running_stack(state_dir: Path) -> int | None:
    """The pid of a live stack that claimed this state dir, if any."""
    try:
        pid = int((state_dir / PID_FILE).read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and b"devstack" in command else None


def _new_secret(name: str) -> str:
    return SECRET_PREFIXES.get(name, "") + secrets.token_urlsafe(48)


def local_secrets(state_dir: Path) -> dict[str, str]:
    """The stack's secrets (JWT_SECRET, WEBHOOK_SECRET, the Stripe emulator's API key and webhook secret): random at
    the first start, written with mode 0600, and read back at every later start, so tokens and webhook secrets
    outlive a restart (a state dir from before a secret existed gets it added)."""
    path = state_dir / SECRETS_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)  # whatever happened to it since, only its owner reads it
        try:
            values = json.loads(path.read_text())
            known = {name: str(values[name]) for name in SECRET_NAMES if name in values}
            if not {"JWT_SECRET", "WEBHOOK_SECRET"} <= set(known):
                raise KeyError("JWT_SECRET")
        except (ValueError, KeyError, TypeError):
            raise SystemExit(f"{path} is damaged: `make reset` starts afresh (all local data is lost)") from None
        if len(known) < len(SECRET_NAMES):
            known.update({name: _new_secret(name) for name in SECRET_NAMES if name not in known})
            path.write_text(json.dumps(known))
        return known
    values = {name: _new_secret(name) for name in SECRET_NAMES}
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


def reset(state_dir: Path) -> None:
    """Delete the state dir; SystemExit while a stack runs on it."""
    holder = running_stack(state_dir)
    if holder:
        raise SystemExit(f"a stack (pid {holder}) is running on {state_dir}: stop it first (Ctrl-C)")
    shutil.rmtree(state_dir, ignore_errors=True)
    print(f"wiped {state_dir}")


def main() -> None:
    """CLI: `--reset` wipes the state dir."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT)
    parser.add_argument("--reset", action="store_true", help="delete every user, project, asset, job and secret")
    args = parser.parse_args()
    if args.reset:
        reset(args.state_dir)
    else:
        print(args.state_dir)


if __name__ == "__main__":
    main()
