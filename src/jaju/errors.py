"""The one exception tree of jaju.

    JajuError                         base class; never raised itself
    ├── ConfigError                   jaju.toml or a command-line option is wrong (not HTTP)
    ├── ParseError                    a document could not be read (the batch goes on)
    ├── EgressRefused                 the egress guard refused a connection (host, reason)
    ├── PiiBlocked                    the PII policy blocks these types (types)
    ├── ToolError                     a tool call was refused or failed (code, message)
    └── ApiError                      anything that becomes an OpenAI-style error response
        ├── InvalidRequest        400 malformed JSON, bad parameter, unsupported feature
        │   ├── ValidationFailed  422 a field has the wrong type or value
        │   └── Blocked           400 a guard refused the request (pii_blocked, ...)
        ├── AuthenticationFailed  401 missing, unknown or revoked API key
        ├── PermissionDenied      403 an admin-only endpoint called with a tenant's key
        ├── NotFound              404 a resource that does not exist or the tenant may not see
        │   └── ModelNotFound     404 unknown model
        ├── PayloadTooLarge       413 request body over the configured limit
        ├── RateLimited           429 per-key requests or tokens per minute exceeded
        ├── InternalError         500 a bug or a failing guard (the request is refused)
        ├── ServiceUnavailable    503 the store or the shared limits are unreachable
        └── UpstreamError         502 a backend failed (bad answer, broken stream)
            └── UpstreamUnavailable 503 no backend replica reachable, or timed out

Raise these; do not return error values. `error_body` turns any exception into the status and
the `{"error": {"message", "type", "param", "code"}}` JSON that the HTTP layer sends, as a
response or as the last event of a stream. Messages are given in Korean and English, Korean
first, because jaju is Korean-first and operators read both.
"""

from __future__ import annotations

from typing import Any


class JajuError(Exception):
    """Base class of every error jaju raises on purpose."""


class ConfigError(JajuError):
    """The configuration (jaju.toml, flags, environment) is invalid."""


class ParseError(JajuError):
    """A file could not be read: corrupt, encrypted, empty, too large or unsupported. Says why."""


class EgressRefused(JajuError):
    """A request the egress guard refused; the message names the host and the reason."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"외부 접속이 거부되었습니다 / egress to '{host}' refused: {reason}")
        self.host, self.reason = host, reason


class PiiBlocked(JajuError):
    """The PII policy says `block` for these types."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(", ".join(types))
        self.types = types


class ToolError(JajuError):
    """A tool call was refused or failed. `code` (unknown_tool, invalid_arguments,
    confirmation_required, ...) and `message` are what the model sees, so it can correct."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def to_dict(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class ApiError(JajuError):
    """An error that is reported to an API client."""

    status_code = 500
    error_type = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(ApiError):
    status_code = 400
    error_type = "invalid_request_error"


class ValidationFailed(InvalidRequest):
    status_code = 422


class Blocked(InvalidRequest):
    """A guard refused the request (its `code` says which: pii_blocked, content_blocked)."""

    code = "blocked"


class AuthenticationFailed(ApiError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(ApiError):
    status_code = 403
    error_type = "permission_error"
    code = "admin_required"


class NotFound(ApiError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class PayloadTooLarge(ApiError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class RateLimited(ApiError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, retry_after)


class InternalError(ApiError):
    status_code = 500
    error_type = "api_error"
    code = "internal_error"


class ServiceUnavailable(ApiError):
    """A service jaju needs for every request is unreachable (the store, or the shared
    limits' Redis with `[limits] fail = "closed"`); `code` says which."""

    status_code = 503
    error_type = "api_error"
    code = "service_unavailable"
    retry_after = 1
    """Sent as `Retry-After`: such outages are retried after a pause, not at once."""


class UpstreamError(ApiError):
    status_code = 502
    error_type = "upstream_error"
    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    status_code = 503
    code = "upstream_unavailable"


def as_api_error(exc: BaseException) -> ApiError:
    """`exc` as the ApiError a client sees; anything unexpected is a 500 that names only the
    exception's type (details stay in the server log)."""
    if isinstance(exc, ApiError):
        return exc
    return InternalError(f"내부 오류 / internal error: {type(exc).__name__}")


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """The HTTP status and OpenAI error JSON for any exception: the one place both are made."""
    error = as_api_error(exc)
    return error.status_code, error.to_dict()
