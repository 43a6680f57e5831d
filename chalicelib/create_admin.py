"""Create the first admin, or promote an existing account: python -m chalicelib.create_admin --email E --password P [--name N]."""

from __future__ import annotations

import argparse
import getpass
import sys

from chalicelib import accounts
from chalicelib.errors import AppError, ValidationError
from chalicelib.store.db import User, now_iso


def ensure_admin(email: str, password: str | None, name: str | None = None) -> tuple[User, bool]:
    """Make `email` an enabled ADMIN: promote (and re-enable) the account if it exists, else create it; (user, created)."""
    email = accounts.normalise_email(email)
    user = accounts.user_by_email(email)
    if user is not None:
        user.update(actions=[User.role.set("ADMIN"), User.disabled.set(False), User.updated_at.set(now_iso())])
        return user, False
    if not password:
        raise ValidationError("no account has this email: a password is needed to create it")
    return accounts.create_user(email, password, name or email.split("@", 1)[0], role="ADMIN"), True


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; the password may be omitted to be prompted for (keeps it out of the shell history)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", help="for a new account; an existing account keeps its password")
    parser.add_argument("--name", help="display name of a new account (default: the part of the email before @)")
    args = parser.parse_args(argv)
    password = args.password
    try:
        email = accounts.normalise_email(args.email)
        if password is None and accounts.user_by_email(email) is None and sys.stdin.isatty():
            password = getpass.getpass("password for the new admin: ")
        user, created = ensure_admin(email, password, args.name)
    except AppError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    note = "created" if created else "promoted (password unchanged)"
    print(f"{note}: admin {user.email} (id {user.id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
