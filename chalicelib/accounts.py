"""Accounts: sign-up, login with throttling, rotating refresh tokens, profiles and admin user management."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
import unicodedata
import uuid

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib import credits, paging, sessions, settings, tokens, views
from chalicelib.contract import keys
from chalicelib.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationError,
)
from chalicelib.passwords import check_policy, hash_password, verify_password
from chalicelib.store.db import (
    EmailClaim,
    Marker,
    RefreshToken,
    Throttle,
    TokenFamily,
    User,
    now_iso,
    transaction,
)

ROLES = ("USER", "ADMIN")
EMAIL_MAX = 254
NAME_MAX = 100
REASON_MAX = 500
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _now() -> float:
    return time.time()


# ---------------------------------------------------------------- input
def _fields(data: dict, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(unknown)}", code="UNKNOWN_FIELD")
    missing = [name for name in required if data.get(name) in (None, "")]
    if missing:
        raise ValidationError(f"missing field(s): {', '.join(missing)}")
    return data


def _string(data: dict, name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string")
    return value


def normalise_email(value) -> str:
    """The canonical form of an email (NFKC, trimmed, lower-cased); 400 if it is not an address."""
    if not isinstance(value, str):
        raise ValidationError("email must be a string", code="INVALID_EMAIL")
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise ValidationError("email is not a valid address", code="INVALID_EMAIL")
    return email


def _name(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("name must be a non-empty string")
    name = unicodedata.normalize("NFKC", value).strip()
    if len(name) > NAME_MAX:
        raise ValidationError(f"name must be at most {NAME_MAX} characters")
    return name


# ---------------------------------------------------------------- users
def _get(model: type[Model], pk: str, sk: str):
    try:
        return model.get(pk, sk, consistent_read=True)
    except model.DoesNotExist:
        return None


def _user(user_id: str) -> User | None:
    return _get(User, *keys.user(user_id))


def _claim(email: str) -> EmailClaim | None:
    return _get(EmailClaim, *keys.email(email))


def user_by_email(email: str) -> User | None:
    """The account registered under an already-normalised email, if any."""
    claim = _claim(email)
    return _user(claim.user_id) if claim else None


def active_user(user_id: str) -> User:
    """The caller's user record; 401 if the account was deleted or disabled since the access token was issued."""
    user = _user(user_id)
    if user is None or user.disabled or user.deleting:
        raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE")
    return user


def create_user(email: str, password: str, name: str, role: str = "USER") -> User:
    """Create an account on the FREE tier with its first monthly grant, in one transaction conditioned on the email being free."""
    email = normalise_email(email)
    password = check_policy(password, email)
    name = _name(name)
    user_id = uuid.uuid4().hex
    at = now_iso()
    tier = settings.DEFAULT_TIER
    user = User(
        *keys.user(user_id),
        id=user_id,
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
        tier=tier,
        credits=settings.TIERS[tier].monthly_credits,
        disabled=False,
        created_at=at,
        updated_at=at,
        gsi1pk=keys.USERS,
        gsi1sk=keys.listed("", at, user_id),
    )
    attempts = 0
    while True:
        try:
            with transaction() as tx:
                tx.save(user, condition=User.pk.does_not_exist())
                tx.save(EmailClaim(*keys.email(email), user_id=user_id), condition=EmailClaim.pk.does_not_exist())
                credits.add_grant(tx, user_id, tier, at)
            return user
        except TransactWriteError:
            if _claim(email) is not None:
                raise Conflict("an account with this email already exists", code="EMAIL_TAKEN") from None
            attempts += 1
            if attempts == 3:
                raise
            time.sleep(0.05 * attempts)  # a concurrent transaction held the claim (TransactionConflict): retry


def register(data: dict, source_ip: str) -> dict:
    """POST /auth/register: create an account and open its first session; sign-ups per address are throttled."""
    _fields(data, {"email", "password", "name"}, required=("email", "password", "name"))
    now = _now()
    key = f"register:{source_ip}"
    limit_message = "too many sign-ups from this address; try again later"
    _check_limit(key, settings.REGISTER_MAX_PER_ADDRESS, now, limit_message)
    user = create_user(data["email"], data["password"], data["name"])
    _count(key, now, settings.LOGIN_FAILURE_WINDOW_SECONDS, sliding=False)
    return {"user": views.user(user), **_open_session(user)}


# ---------------------------------------------------------------- sessions (refresh-token families)
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refresh_item(user_id: str, family_id: str, now: float) -> tuple[str, RefreshToken]:
    token = secrets.token_urlsafe(32)
    expires = int(now) + settings.REFRESH_TOKEN_SECONDS
    pk, sk = keys.refresh_token(_digest(token))
    item = RefreshToken(
        pk,
        sk,
        user_id=user_id,
        family_id=family_id,
        used=False,
        expires_at=expires,
        ttl=expires,
        gsi1pk=keys.user_partition(user_id),
        gsi1sk=pk,
    )
    return token, item


def _token_pair(user: User, refresh_token: str, family_id: str) -> dict:
    return {
        "accessToken": tokens.issue_access_token(user.id, user.role, family_id, int(user.token_version or 0)),
        "refreshToken": refresh_token,
        "expiresIn": settings.ACCESS_TOKEN_SECONDS,
    }


def _open_session(user: User) -> dict:
    now = _now()
    family_id = uuid.uuid4().hex
    token, item = _refresh_item(user.id, family_id, now)
    family = TokenFamily(
        *keys.family(family_id),
        user_id=user.id,
        revoked=False,
        created_at=now_iso(),
        ttl=item.ttl,
        gsi1pk=keys.user_partition(user.id),
        gsi1sk=keys.family(family_id)[0],
    )
    with transaction() as tx:
        tx.save(family, condition=TokenFamily.pk.does_not_exist())
        tx.save(item, condition=RefreshToken.pk.does_not_exist())
    return _token_pair(user, token, family_id)


def _revoke_family(family_id: str) -> None:
    try:
        TokenFamily(*keys.family(family_id)).update(
            actions=[TokenFamily.revoked.set(True)], condition=TokenFamily.pk.exists()
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _families(user_id: str):
    return TokenFamily.by_parent.query(keys.user_partition(user_id), TokenFamily.gsi1sk.startswith(keys.FAMILY_PREFIX))


def revoke_sessions(user_id: str) -> None:
    """Revoke every refresh-token family of a user: their refresh tokens stop working, and so (sessions.py) do the
    access tokens issued from them."""
    for family in _families(user_id):
        if not family.revoked:
            _revoke_family(family.pk.removeprefix(keys.FAMILY_PREFIX))
    sessions.forget(user_id)


def _refused() -> Unauthorized:
    return Unauthorized("the refresh token is invalid, expired or revoked", code="INVALID_REFRESH_TOKEN")


def _reused(family_id: str) -> Unauthorized:
    _revoke_family(family_id)
    return Unauthorized(
        "this refresh token was already used; the session has been revoked", code="REFRESH_TOKEN_REUSED"
    )


def refresh(data: dict) -> dict:
    """POST /auth/refresh: rotate a refresh token (exactly once) into a new pair; reuse revokes the whole family."""
    token = _string(_fields(data, {"refreshToken"}, required=("refreshToken",)), "refreshToken")
    now = _now()
    record = _get(RefreshToken, *keys.refresh_token(_digest(token)))
    if record is None or record.expires_at <= now:
        raise _refused()
    if record.used:
        raise _reused(record.family_id)
    family = _get(TokenFamily, *keys.family(record.family_id))
    if family is None or family.revoked:
        raise _refused()
    user = _user(record.user_id)
    if user is None or user.disabled or user.deleting:
        _revoke_family(record.family_id)
        raise _refused()
    new_token, item = _refresh_item(user.id, record.family_id, now)
    try:
        with transaction() as tx:
            tx.update(record, [RefreshToken.used.set(True)], condition=RefreshToken.used == False)  # noqa: E712 (a PynamoDB condition)
            tx.update(family, [TokenFamily.ttl.set(item.ttl)], condition=TokenFamily.revoked == False)  # noqa: E712
            tx.save(item, condition=RefreshToken.pk.does_not_exist())
    except TransactWriteError:
        current = _get(RefreshToken, record.pk, record.sk)
        if current is not None and current.used:  # another request rotated it first: two uses of one token
            raise _reused(record.family_id) from None
        family = _get(TokenFamily, family.pk, family.sk)
        if current is None or family is None or family.revoked:  # expired, logged out or revoked meanwhile
            raise _refused() from None
        raise  # not a verdict on the token (throughput, service error): a 500 keeps the session
    return _token_pair(user, new_token, record.family_id)


def logout(data: dict) -> None:
    """POST /auth/logout: revoke the refresh token's family, and with it the session's access tokens; unknown tokens
    are ignored (logging out is idempotent)."""
    token = _string(_fields(data, {"refreshToken"}, required=("refreshToken",)), "refreshToken")
    record = _get(RefreshToken, *keys.refresh_token(_digest(token)))
    if record is not None:
        _revoke_family(record.family_id)
        sessions.forget(record.user_id)


def _bump(user_id: str) -> None:
    """Revoke every access token of a user (the token version goes up), and every session."""
    try:
        User(*keys.user(user_id)).update(actions=[User.token_version.add(1)], condition=User.pk.exists())
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    revoke_sessions(user_id)


def logout_everywhere(principal: tokens.Principal) -> None:
    """POST /auth/logout-all: end every session of the caller, and every access token issued to them."""
    _bump(principal.user_id)


# ---------------------------------------------------------------- login and its throttle
# Failures slow whoever fails and never lock the owner out (docs/accounts.md: OWASP ASVS V2.2.1). Three counters:
# per email and address (a few free failures, then growing delays), per address over all emails (more free
# failures, then the same delays), and per email over all addresses (at most LOGIN_ACCOUNT_MAX_FAILURES an hour, then
# only addresses the account logged in from before may try). A refused (429) attempt counts nothing.
def delay_after(failures: int, free: int) -> int:
    """Seconds a caller waits after the last of `failures` failures: none for the first `free`, then 1, 2, 4...
    up to LOGIN_MAX_DELAY_SECONDS."""
    if failures < free:
        return 0
    return min(2 ** min(failures - free, 20), settings.LOGIN_MAX_DELAY_SECONDS)


def _login_counters(email: str, source_ip: str) -> tuple[str, str, str]:
    return f"login:{email}|{source_ip}", f"ip:{source_ip}", f"email:{email}"


def _too_many(message: str, seconds: float) -> TooManyRequests:
    return TooManyRequests(message, headers={"Retry-After": str(max(1, math.ceil(seconds)))})


def _known_address(email: str, source_ip: str, now: float) -> bool:
    user = user_by_email(email)
    marker = _get(Marker, keys.user_partition(user.id), keys.known_address_sk(source_ip)) if user else None
    return marker is not None and (marker.ttl or 0) > now


def _check_login(email: str, source_ip: str, now: float) -> None:
    """429 with Retry-After while this caller must wait before trying this email again."""
    pair, address, account = _login_counters(email, source_ip)
    for key, free in ((pair, settings.LOGIN_FREE_FAILURES), (address, settings.LOGIN_ADDRESS_FREE_FAILURES)):
        item = _get(Throttle, *keys.throttle(key))
        if item is not None and item.ttl > now:
            wait = float(item.last or 0) + delay_after(int(item.failures), free) - now
            if wait > 0:
                raise _too_many("too many failed logins: wait before trying again", wait)
    item = _get(Throttle, *keys.throttle(account))
    if (
        item is not None
        and item.ttl > now
        and item.failures >= settings.LOGIN_ACCOUNT_MAX_FAILURES
        and not _known_address(email, source_ip, now)
    ):
        raise _too_many("too many failed logins for this account; try again later", item.ttl - now)


def _count_login_failure(email: str, source_ip: str, now: float) -> None:
    pair, address, account = _login_counters(email, source_ip)
    for key in (pair, address):
        _count(key, now, settings.LOGIN_FAILURE_MEMORY_SECONDS, sliding=True)
    _count(account, now, settings.LOGIN_ACCOUNT_WINDOW_SECONDS, sliding=False)


def _check_limit(key: str, limit: int, now: float, message: str) -> None:
    """429 once a fixed-window counter reached its limit (sign-ups per address)."""
    item = _get(Throttle, *keys.throttle(key))
    if item is not None and item.ttl > now and item.failures >= limit:
        raise _too_many(message, item.ttl - now)


def _count(key: str, now: float, window: float, sliding: bool) -> None:
    """Count one more in a counter: a window opened by the first count (`sliding`: pushed on by each)."""
    expires = int(now + window)
    for _ in range(3):
        try:  # inside a live window: count
            actions: list[Action] = [Throttle.failures.add(1), Throttle.last.set(now)]
            if sliding:
                actions.append(Throttle.ttl.set(expires))
            Throttle(*keys.throttle(key)).update(actions=actions, condition=Throttle.ttl > int(now))
            return
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
        try:  # no window (or an expired one DynamoDB has not deleted yet): open one
            Throttle(*keys.throttle(key), failures=1, last=now, ttl=expires).save(
                condition=Throttle.pk.does_not_exist() | (Throttle.ttl <= int(now))
            )
            return
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise


def _invalid_credentials() -> Unauthorized:
    return Unauthorized("wrong email or password", code="INVALID_CREDENTIALS")


def login(data: dict, source_ip: str) -> dict:
    """POST /auth/login: check the password (same answer and cost for unknown emails), slow down failures, open a
    session."""
    _fields(data, {"email", "password"}, required=("email", "password"))
    email = normalise_email(data["email"])
    password = _string(data, "password")
    now = _now()
    _check_login(email, source_ip, now)
    user = user_by_email(email)
    if not verify_password(password, user.password_hash if user else None) or user is None:
        _count_login_failure(email, source_ip, now)
        raise _invalid_credentials()
    Throttle(*keys.throttle(_login_counters(email, source_ip)[0])).delete()  # this caller's delays start afresh
    Marker(
        keys.user_partition(user.id),
        keys.known_address_sk(source_ip),
        created_at=now_iso(),
        ttl=int(now) + settings.KNOWN_ADDRESS_SECONDS,
    ).save()
    if user.disabled:
        raise Forbidden("this account is disabled", code="ACCOUNT_DISABLED")
    return {**_open_session(user), "user": views.user(user)}


# ---------------------------------------------------------------- the caller's own account
def get_me(principal: tokens.Principal) -> dict:
    """GET /users/me."""
    return views.user(active_user(principal.user_id))


def update_me(principal: tokens.Principal, data: dict, source_ip: str) -> dict:
    """PATCH /users/me: change the name and/or the password (newPassword + currentPassword; ends every other session)."""
    _fields(data, {"name", "newPassword", "currentPassword"})
    if not data:
        raise ValidationError("nothing to change: send name and/or newPassword with currentPassword")
    user = active_user(principal.user_id)
    actions: list[Action] = [User.updated_at.set(now_iso())]
    if "name" in data:
        actions.append(User.name.set(_name(data["name"])))
    changing_password = "newPassword" in data
    if changing_password:
        new_password = check_policy(data["newPassword"], user.email)
        current = data.get("currentPassword")
        if not isinstance(current, str) or not current:
            raise ValidationError("currentPassword is required to change the password")
        now = _now()
        _check_login(user.email, source_ip, now)
        if not verify_password(current, user.password_hash):
            _count_login_failure(user.email, source_ip, now)
            raise Forbidden("currentPassword is wrong", code="INVALID_CURRENT_PASSWORD")
        actions += [User.password_hash.set(hash_password(new_password)), User.token_version.add(1)]
    elif "currentPassword" in data:
        raise ValidationError("currentPassword is only used with newPassword")
    try:
        user.update(actions=actions, condition=User.pk.exists())
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise Unauthorized("this account no longer exists or is disabled", code="ACCOUNT_UNAVAILABLE") from None
        raise
    if not changing_password:
        return {"user": views.user(user)}
    revoke_sessions(user.id)
    return {"user": views.user(user), **_open_session(user)}


# ---------------------------------------------------------------- admin
def require_admin(principal: tokens.Principal) -> User:
    """The calling admin's record; 403 unless the stored role (not only the token's) is ADMIN."""
    if not principal.is_admin:
        raise Forbidden("admin only")
    user = active_user(principal.user_id)
    if user.role != "ADMIN":
        raise Forbidden("admin only")
    return user


def list_users(principal: tokens.Principal, params: dict) -> dict:
    """GET /admin/users: newest first, `limit` per page, opaque `nextToken` (a gsi1 "USERS" query, never a scan)."""
    require_admin(principal)
    users, next_token = paging.page(User.by_parent, "gsi1pk", keys.USERS, params)
    return {"items": [views.user(user) for user in users], "nextToken": next_token}


def _admin_changes(data: dict, admin: User, user_id: str) -> tuple[list, int, str | None]:
    actions: list[Action] = [User.updated_at.set(now_iso())]
    if "role" in data or "disabled" in data:  # what the access tokens carry or allow changes: revoke them
        actions.append(User.token_version.add(1))
    if "role" in data:
        if data["role"] not in ROLES:
            raise ValidationError(f"role must be one of {', '.join(ROLES)}")
        actions.append(User.role.set(data["role"]))
    if "tier" in data:
        if data["tier"] not in settings.TIERS:
            raise ValidationError(f"tier must be one of {', '.join(settings.TIERS)}")
        actions.append(User.tier.set(data["tier"]))
    if "disabled" in data:
        if not isinstance(data["disabled"], bool):
            raise ValidationError("disabled must be true or false")
        actions.append(User.disabled.set(data["disabled"]))
    if user_id == admin.id and (data.get("role", "ADMIN") != "ADMIN" or data.get("disabled") is True):
        raise ValidationError("admins cannot demote or disable themselves", code="SELF_LOCKOUT")
    delta, reason = data.get("creditAdjustment"), data.get("reason")
    if delta is None and reason is None:
        return actions, 0, None
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise ValidationError("creditAdjustment must be a non-zero integer")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > REASON_MAX:
        raise ValidationError(f"reason (1-{REASON_MAX} characters) is required with creditAdjustment")
    return actions + [User.credits.add(delta)], delta, reason.strip()


def admin_update_user(principal: tokens.Principal, user_id: str, data: dict) -> dict:
    """PATCH /admin/users/{id}: role, tier, disabled and a credit adjustment (with its ADJUST entry) in one transaction."""
    admin = require_admin(principal)
    _fields(data, {"role", "tier", "disabled", "creditAdjustment", "reason"})
    if not data:
        raise ValidationError("nothing to change")
    actions, delta, reason = _admin_changes(data, admin, user_id)
    user = _user(user_id)
    if user is None:
        raise NotFound("no such user")
    condition = User.pk.exists()
    if delta < 0:
        condition &= User.credits >= -delta
    try:
        with transaction() as tx:
            tx.update(user, actions, condition=condition)
            if delta:
                credits.add_entry(tx, user.id, "ADJUST", delta, now_iso(), reason=f"{reason} (by {admin.id})")
    except TransactWriteError:
        if _user(user_id) is None:
            raise NotFound("no such user") from None
        raise Conflict("the adjustment would make the balance negative", code="NEGATIVE_BALANCE") from None
    if data.get("disabled") is True:
        revoke_sessions(user_id)
    sessions.forget(user_id)
    return views.user(User.get(*keys.user(user_id), consistent_read=True))
