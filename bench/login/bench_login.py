"""Cost of a login on this machine: bcrypt hash/verify at 10-13 rounds, and a whole login (moto in-process) at each."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
PASSWORD = b"correct horse battery staple"


def _best_ms(fn, repeat: int) -> float:
    # The fastest run is the cost itself; slower ones measure whatever else shares the CPUs (as timeit advises).
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return round(min(samples), 1)


def bcrypt_costs(rounds: list[int], repeat: int) -> list[dict]:
    """Best-of-`repeat` milliseconds to hash and to verify one password at each cost."""
    rows = []
    for cost in rounds:
        hashed = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(cost))
        rows.append(
            {
                "rounds": cost,
                "hashMs": _best_ms(lambda cost=cost: bcrypt.hashpw(PASSWORD, bcrypt.gensalt(cost)), repeat),
                "verifyMs": _best_ms(lambda hashed=hashed: bcrypt.checkpw(PASSWORD, hashed), repeat),
            }
        )
    return rows


def login_costs(rounds: list[int], repeat: int) -> dict[int, dict]:
    """Best-of-`repeat` milliseconds of accounts.login (right password, unknown email) per cost, on moto in-process."""
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("JWT_SECRET", secrets.token_urlsafe(48)),  # a login signs a token; nothing secret is in the code
    ):
        os.environ.setdefault(name, value)
    from moto import mock_aws

    from chalicelib import accounts, passwords, settings
    from devstack.deploy import deploy

    result = {}
    with mock_aws():
        deploy()
        for cost in rounds:
            settings.BCRYPT_ROUNDS = cost
            passwords._dummy_hash.cache_clear()
            email = f"bench{cost}@example.com"
            accounts.create_user(email, PASSWORD.decode(), "Bench")
            good = {"email": email, "password": PASSWORD.decode()}
            unknown = {"email": f"nobody{cost}@example.com", "password": PASSWORD.decode()}

            def refused(body=unknown, address=f"10.0.0.{cost}"):
                try:
                    accounts.login(body, address)
                except accounts.Unauthorized:
                    pass

            result[cost] = {
                "loginMs": _best_ms(lambda good=good: accounts.login(good, "10.0.1.1"), repeat),
                "unknownEmailMs": _best_ms(refused, min(repeat, settings.LOGIN_FREE_FAILURES)),  # never slowed
            }
    return result


def main(argv: list[str] | None = None) -> None:
    """Print a table (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, nargs="+", default=[10, 11, 12, 13])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = bcrypt_costs(args.rounds, args.repeat)
    logins = login_costs(args.rounds, args.repeat)
    for row in rows:
        row.update(logins[row["rounds"]])
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "loadAverage": os.getloadavg()[0], "results": rows}, indent=2))
        return
    print(f"bcrypt on {os.cpu_count()} CPUs, best of {args.repeat} (load average {os.getloadavg()[0]:.1f})")
    print(f"{'rounds':>6} {'hash ms':>9} {'verify ms':>10} {'login ms':>9} {'unknown-email ms':>17}")
    for row in rows:
        print(
            f"{row['rounds']:>6} {row['hashMs']:>9} {row['verifyMs']:>10} {row['loginMs']:>9} {row['unknownEmailMs']:>17}"
        )


if __name__ == "__main__":
    main()
