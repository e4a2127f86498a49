"""Who is calling: the `Authorization: Bearer KEY` header resolved to a tenant and key.

With no key ever created, jaju serves local development without keys (and `jaju serve`
refuses to listen on anything but loopback then). Once a key exists every request needs one.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from jaju.caller import LOCAL_TENANT, Caller
from jaju.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServiceUnavailable,
)
from jaju.state import AppState
from jaju.store import AuditEvent

__all__ = ["Caller", "acting_for", "authenticate", "get_state", "require_admin"]


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.jaju
    return state


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _deny(request: Request, reason: str, message: str) -> AuthenticationFailed | RateLimited:
    """401, audited at most once per window per address with the count it stands for; an
    address that keeps failing gets 429 instead (a valid key from it still works)."""
    state = get_state(request)
    address = _address(request)
    wait = state.auth_throttle.retry_after(address)
    count = state.auth_throttle.failed(address)
    if count is not None:
        state.store.audit(AuditEvent("anonymous", "auth", "denied", None,
                                     {"reason": reason, "address": address, "count": count}))
    if wait is not None:
        return RateLimited("인증 실패가 너무 많습니다 / too many failed authentications from this "
                           "address", retry_after=wait, code="too_many_auth_failures")
    return AuthenticationFailed(message)


def _store_down(error: Exception) -> ServiceUnavailable:
    return ServiceUnavailable("저장소에 연결할 수 없습니다 / the store is unavailable "
                              f"({type(error).__name__})", code="store_unavailable")


async def authenticate(request: Request) -> Caller:
    """The caller, or 401 (429 for an address that keeps failing)."""
    state = get_state(request)
    if not state.keys_required:
        try:
            state.keys_required = await asyncio.to_thread(state.store.has_keys)
        except Exception as e:
            raise _store_down(e) from e
        if not state.keys_required:
            return Caller(LOCAL_TENANT, admin=True)  # keyless: loopback only, the operator
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise _deny(request, "missing", "API 키가 필요합니다 / an API key is required "
                    "(Authorization: Bearer KEY)")
    try:
        key = await state.gateway.find_key(secret.strip())  # cached briefly; reads off the loop
    except Exception as e:  # the store is down: a clear 503, not a 500
        raise _store_down(e) from e
    if key is None:
        raise _deny(request, "unknown", "API 키가 올바르지 않습니다 / invalid API key")
    if key.revoked_at is not None:
        raise _deny(request, "revoked", "폐기된 API 키입니다 / this API key has been revoked")
    return Caller(key.tenant, key.id, key.qpm, key.tpm, key.admin)


async def require_admin(request: Request) -> Caller:
    caller = await authenticate(request)
    if not caller.admin:
        get_state(request).store.audit(AuditEvent(caller.actor, "admin", "denied",
                                                  request.url.path[:200]))
        raise PermissionDenied("관리자 키가 필요합니다 / this endpoint needs an admin key "
                               "(jaju keys create --admin)")
    return caller


def acting_for(request: Request, caller: Caller) -> Caller:
    """`?tenant=NAME`: an admin acts for that tenant (the audit log names the admin); for
    anyone else another tenant's things do not exist (404, as for a name that does not)."""
    tenant = request.query_params.get("tenant")
    if not tenant or tenant == caller.tenant:
        return caller
    if not caller.admin:
        raise NotFound("찾을 수 없습니다 / not found", code="not_found")
    return caller.acting_as(tenant[:256], prefix="admin:")
