"""Access tokens (JWT, HS256 pinned), signed with the JWT secret (chalicelib/secrets.py). Each names its session (the
refresh-token family it came from) and its user's token version, which chalicelib/sessions.py checks for revocation."""

from __future__ import annotations

import time
import uuid
from typing import NamedTuple

import jwt

from chalicelib import secrets, settings
from chalicelib.errors import Unauthorized


class Principal(NamedTuple):
    """Who is calling: the user id and role the authorizer verified."""

    user_id: str
    role: str

    @property
    def is_admin(self) -> bool:
        """True for the ADMIN role."""
        return self.role == "ADMIN"


class Claims(NamedTuple):
    """What a verified access token says: who, in which session, at which token version."""

    user_id: str
    role: str
    session_id: str
    token_version: int


def issue_access_token(user_id: str, role: str, session_id: str, token_version: int, now: float | None = None) -> str:
    """A signed 15-minute access token with sub, role, sid (session), tv (token version), iat, exp, jti, iss, aud."""
    now = int(now if now is not None else time.time())
    claims = {
        "sub": user_id,
        "role": role,
        "sid": session_id,
        "tv": token_version,
        "iat": now,
        "exp": now + settings.ACCESS_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
    }
    return jwt.encode(claims, secrets.jwt_secret(), algorithm=settings.JWT_ALGORITHM)


def verify_access_token(token: str) -> Claims:
    """Check signature (HS256 only), expiry, issuer, audience and claims; raise Unauthorized otherwise. Whether the
    token was revoked since is sessions.check's question."""
    try:
        claims = jwt.decode(
            token,
            secrets.jwt_secret(),
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            options={"require": ["sub", "role", "sid", "tv", "iat", "exp", "jti", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid access token: {exc}", code="INVALID_TOKEN") from exc
    if not isinstance(claims["tv"], int) or isinstance(claims["tv"], bool):
        raise Unauthorized("invalid access token: bad token version", code="INVALID_TOKEN")
    return Claims(str(claims["sub"]), str(claims["role"]), str(claims["sid"]), claims["tv"])
