"""The one exception tree of jaju.

    JajuError                       base class; never raised itself
    ├── ConfigError                 jaju.toml or a command-line option is wrong (not HTTP)
    └── ApiError                    anything that becomes an OpenAI-style error response
        ├── InvalidRequest          400  malformed JSON, bad parameter, unsupported feature
        │   └── ValidationFailed    422  a field has the wrong type or value
        ├── AuthenticationFailed    401  missing, unknown or revoked API key
        ├── PermissionDenied        403  an admin-only endpoint called with a tenant's key
        ├── NotFound                404  unknown model (or a resource the tenant may not see)
        ├── PayloadTooLarge         413  request body over the configured limit
        ├── RateLimited             429  per-key requests or tokens per minute exceeded
        └── UpstreamError           502  a backend failed (bad answer, broken stream)
            └── UpstreamUnavailable 503  no backend replica reachable, or timed out

Raise these; do not return error values. `jaju.api.errors` maps every `ApiError` to
`{"error": {"message", "type", "param", "code"}}` with its status code. Messages are given in
Korean and English, Korean first, because jaju is Korean-first and operators read both.
"""

from __future__ import annotations


class JajuError(Exception):
    """Base class of every error jaju raises on purpose."""


class ConfigError(JajuError):
    """The configuration (jaju.toml, flags, environment) is invalid."""


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

    def to_dict(self) -> dict[str, object]:
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


class UpstreamError(ApiError):
    status_code = 502
    error_type = "upstream_error"
    code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    status_code = 503
    code = "upstream_unavailable"
