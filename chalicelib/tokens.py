"""Access tokens (JWT, HS256 pinned), signed with the JWT secret (chalicelib/secrets.py); the authorizer's only dependency."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from chalicelib import secrets, settings
from chalicelib.errors import Unauthorized


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user id and role the authorizer verified."""

    user_id: str
    role: str

    @property
    def is_admin(self) -> bool:
        """True for the ADMIN role."""
        return self.role == "ADMIN"


def issue_access_token(user_id: str, role: str, now: float | None = None) -> str:
    """A signed 15-minute access token with sub, role, iat, exp, jti, iss and aud."""
    now = int(now if now is not None else time.time())
    claims = {
        "sub": user_id,
        "role": role,
        "iat": now,
        "exp": now + settings.ACCESS_TOKEN_SECONDS,
        "jti": uuid.uuid4().hex,
        "iss": settings.JWT_ISSUER,
        "aud": settings.JWT_AUDIENCE,
    }
    return jwt.encode(claims, secrets.jwt_secret(), algorithm=settings.JWT_ALGORITHM)


def verify_access_token(token: str) -> Principal:
    """Check signature (HS256 only), expiry, issuer and audience; raise Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token,
            secrets.jwt_secret(),
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            options={"require": ["sub", "role", "iat", "exp", "jti", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid access token: {exc}", code="INVALID_TOKEN") from exc
    return Principal(user_id=str(claims["sub"]), role=str(claims["role"]))
