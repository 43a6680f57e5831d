"""Access tokens (JWT, HS256 pinned) and the signing secret; the authorizer's only dependency."""

from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass

import jwt

from chalicelib import settings
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


@functools.cache
def signing_secret() -> str:
    """The JWT secret: from SSM (SecureString) on AWS, from JWT_SECRET locally; never the default on AWS."""
    if settings.JWT_SECRET_SSM_NAME:
        from chalicelib.store.aws import client

        secret = client("ssm").get_parameter(Name=settings.JWT_SECRET_SSM_NAME, WithDecryption=True)["Parameter"][
            "Value"
        ]
    else:
        secret = settings.JWT_SECRET
    if settings.ON_AWS and secret == settings.DEFAULT_JWT_SECRET:
        raise RuntimeError("refusing to run on AWS with the default JWT secret: set JWT_SECRET_SSM_NAME")
    if len(secret) < 32:
        raise RuntimeError("the JWT secret must be at least 32 characters")
    return secret


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
    return jwt.encode(claims, signing_secret(), algorithm=settings.JWT_ALGORITHM)


def verify_access_token(token: str) -> Principal:
    """Check signature (HS256 only), expiry, issuer and audience; raise Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token,
            signing_secret(),
            algorithms=[settings.JWT_ALGORITHM],
            audience=settings.JWT_AUDIENCE,
            issuer=settings.JWT_ISSUER,
            options={"require": ["sub", "role", "iat", "exp", "jti", "iss", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid access token: {exc}", code="INVALID_TOKEN") from exc
    return Principal(user_id=str(claims["sub"]), role=str(claims["role"]))
