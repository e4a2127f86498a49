"""Error responses: every error, FastAPI's own included, as OpenAI-style error JSON (the body
and status come from `jaju.errors.error_body`, the one place they are made)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jaju import jsonio
from jaju.errors import (
    ApiError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ValidationFailed,
    error_body,
)

log = logging.getLogger("jaju")


def error_response(error: BaseException) -> JSONResponse:
    status, body = error_body(error)
    retry = error.retry_after if isinstance(error, RateLimited | ServiceUnavailable) else None
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def sse_event(data: dict[str, Any]) -> bytes:
    """One server-sent event: `data: {...}` (a chunk, or an error as the stream's last event).
    Compact UTF-8 JSON by `jaju.jsonio.dumps` (orjson; `json` for what orjson refuses)."""
    return b"data: " + jsonio.dumps(data) + b"\n\n"


def validation_error(exc: RequestValidationError) -> ApiError:
    errors: list[Any] = list(exc.errors())
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return InvalidRequest("요청 본문이 올바른 JSON이 아닙니다 / request body is not valid JSON: "
                              f"{first.get('ctx', {}).get('error', '')}", code="invalid_json")
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "missing" and not loc:
        return InvalidRequest("요청 본문이 없습니다 / request body is required")
    return ValidationFailed(
        f"잘못된 요청 값 / invalid value for '{param}': {first.get('msg', 'invalid')}",
        param=param, code="invalid_value")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(NotFound("경로가 없습니다 / no such endpoint"))
        if exc.status_code == 405:
            error = InvalidRequest("이 경로는 그 메서드를 받지 않습니다 / method not allowed on this "
                                   "endpoint", code="method_not_allowed")
        else:
            error = InvalidRequest(str(exc.detail), code="http_error")
        error.status_code = exc.status_code
        response = error_response(error)
        response.headers.update(exc.headers or {})  # e.g. 405's Allow
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(exc)
