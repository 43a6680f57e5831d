"""Password policy and bcrypt hashing, with a dummy hash so unknown accounts cost as much as known ones."""

from __future__ import annotations

import functools

import bcrypt

from chalicelib import settings
from chalicelib.errors import ValidationError

MAX_BYTES = 72  # bcrypt ignores (bcrypt 5 refuses) anything longer


def check_policy(password, email: str) -> str:
    """Return `password` if it is acceptable for `email`, or raise a 400 saying which rule it breaks."""
    if not isinstance(password, str) or not password:
        raise ValidationError("password is required")
    if len(password) < settings.PASSWORD_MIN_LENGTH:
        raise ValidationError(
            f"the password must be at least {settings.PASSWORD_MIN_LENGTH} characters", code="WEAK_PASSWORD"
        )
    if len(password.encode()) > MAX_BYTES:
        raise ValidationError(f"the password must be at most {MAX_BYTES} bytes (UTF-8)", code="PASSWORD_TOO_LONG")
    folded = password.strip().casefold()
    if folded in (email.casefold(), email.split("@", 1)[0].casefold()):
        raise ValidationError("the password must not be the email address", code="WEAK_PASSWORD")
    return password


def hash_password(password: str) -> str:
    """A bcrypt hash with settings.BCRYPT_ROUNDS."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=settings.BCRYPT_ROUNDS)).decode()


@functools.cache
def _dummy_hash() -> bytes:
    return bcrypt.hashpw(b"dummy password for unknown accounts", bcrypt.gensalt(rounds=settings.BCRYPT_ROUNDS))


def verify_password(password: str, hashed: str | None) -> bool:
    """True when `password` matches `hashed`; with no hash (unknown account) it burns the same bcrypt work and is False."""
    raw = password.encode()
    if hashed is None or len(raw) > MAX_BYTES:
        bcrypt.checkpw(raw[:MAX_BYTES], _dummy_hash())
        return False
    return bcrypt.checkpw(raw, hashed.encode())
