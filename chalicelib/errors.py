"""Domain errors with an HTTP status and a stable code; app.py turns them into JSON responses."""

from __future__ import annotations

from chalice import ChaliceUnhandledError


class AppError(ChaliceUnhandledError):
    """Base of every error a client may see: {"error": {"code", "message"}} with `status`.

    A ChaliceUnhandledError, because Chalice turns any other exception raised in a view into its own
    500 before the http middleware (which maps these) can see it.
    """

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None, headers: dict | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.headers = headers or {}
        self.details = details or {}

    def body(self) -> dict:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class ValidationError(AppError):
    """The request is malformed or breaks a rule."""

    status, code = 400, "VALIDATION_ERROR"


class Unauthorized(AppError):
    """Missing, invalid or expired credentials."""

    status, code = 401, "UNAUTHORIZED"


class PaymentRequired(AppError):
    """Not enough credits."""

    status, code = 402, "INSUFFICIENT_CREDITS"


class Forbidden(AppError):
    """Authenticated but not allowed (used only where hiding existence makes no sense)."""

    status, code = 403, "FORBIDDEN"


class NotFound(AppError):
    """No such resource, or not yours (we never reveal which)."""

    status, code = 404, "NOT_FOUND"


class Conflict(AppError):
    """The resource's state forbids the request (duplicate email, job already finished...)."""

    status, code = 409, "CONFLICT"


class PayloadTooLarge(AppError):
    """Declared size over the tier's limit."""

    status, code = 413, "PAYLOAD_TOO_LARGE"


class TooManyRequests(AppError):
    """Throttled; carries Retry-After."""

    status, code = 429, "TOO_MANY_REQUESTS"
