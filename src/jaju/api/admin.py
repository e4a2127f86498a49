"""Tools and plugins over HTTP.

    GET  /v1/tools                        the caller's tools (its tenant's policy applies)
    POST /v1/tools/{name}/call            admin: {"arguments": {...}, "confirm": false,
                                          "tenant": "..."} -> {"result": ...}
    GET  /v1/plugins                      admin: plugins, MCP servers and OpenAPI services
    GET  /v1/plugins/{name}               admin: one of them
    POST /v1/plugins/{name}/enable|disable  admin: switch a plugin (kept in the store)

A refused or failed call answers 400 (or 404 for a tool the tenant cannot use) with the tool
error's code, and is in the audit log like every other call.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from jaju.api.auth import authenticate, get_state, require_admin
from jaju.errors import InvalidRequest, NotFound, ToolError
from jaju.pipeline import parse
from jaju.protocol import ToolCallRequest
from jaju.tools.hub import CorePlugin, switch_note

router = APIRouter(prefix="/v1")


@router.get("/tools")
async def list_tools(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    gateway = get_state(request).gateway
    context = gateway.tool_context(caller)
    return {"object": "list", "data": [t.card(context) for t in gateway.visible_tools(caller)]}


@router.post("/tools/{name}/call")
async def call_tool(name: str, request: Request) -> dict[str, Any]:
    caller = await require_admin(request)
    body = parse(await request.body(), ToolCallRequest)
    caller = caller.acting_as(body.tenant or caller.tenant, prefix="admin:")
    try:
        result = await get_state(request).gateway.call_tool(caller, name, body.arguments,
                                                            confirmed=body.confirm)
    except ToolError as e:
        if e.code == "unknown_tool":
            raise NotFound(e.message, code=e.code) from e
        raise InvalidRequest(e.message, code=e.code) from e
    return {"tool": name, "result": result}


@router.get("/plugins")
async def list_plugins(request: Request) -> dict[str, Any]:
    await require_admin(request)
    return {"object": "list", "data": [p.to_dict() for p in get_state(request).hub.plugins()]}


def _no_plugin(name: str) -> NotFound:
    return NotFound(f"플러그인 '{name}'이(가) 없습니다 / no plugin named '{name}'",
                    code="plugin_not_found")


def _plugin(request: Request, name: str) -> Any:
    info = get_state(request).hub.plugin(name)
    if info is None:
        raise _no_plugin(name)
    return info


@router.get("/plugins/{name}")
async def show_plugin(name: str, request: Request) -> dict[str, Any]:
    await require_admin(request)
    return dict(_plugin(request, name).to_dict())


@router.post("/plugins/{name}/{action}")
async def switch_plugin(name: str, action: str, request: Request) -> dict[str, Any]:
    caller = await require_admin(request)
    if action not in ("enable", "disable"):
        raise NotFound(f"알 수 없는 동작 / unknown action {action!r}; use enable or disable")
    try:
        info = get_state(request).hub.switch(name, action == "enable", caller.actor)
    except CorePlugin as e:
        raise InvalidRequest(str(e), code="core_plugin") from e
    if info is None:
        raise _no_plugin(name)
    return {**info.to_dict(), "note": switch_note(info)}
