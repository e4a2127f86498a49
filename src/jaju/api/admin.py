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
from pydantic import BaseModel, ConfigDict, Field

from jaju.api.auth import authenticate, get_state, require_admin
from jaju.api.openai import _parse
from jaju.errors import InvalidRequest, NotFound
from jaju.tools.hub import CorePlugin
from jaju.tools.model import ToolContext
from jaju.tools.policy import policy_for
from jaju.tools.registry import ToolError

router = APIRouter(prefix="/v1")


class CallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    arguments: dict[str, Any] = Field(default_factory=dict)
    confirm: bool = False
    tenant: str | None = None
    """Run as this tenant (default: the admin key's own)."""


def _tool_card(tool: Any, caller: ToolContext | None = None) -> dict[str, Any]:
    schema = tool.openai_schema()["function"]
    if caller is not None:
        schema["parameters"] = tool.parameters_for(caller)
    return {**schema, "source": tool.source,
            "permissions": {**tool.permissions.__dict__,
                            "network": list(tool.permissions.network),
                            "knowledge": list(tool.permissions.knowledge)},
            "available": tool.unavailable is None, "unavailable": tool.unavailable}


@router.get("/tools")
async def list_tools(request: Request) -> dict[str, Any]:
    caller = authenticate(request)
    state = get_state(request)
    tools = state.hub.registry.visible(policy_for(state.settings, caller.tenant))
    context = ToolContext(caller.tenant, caller.actor)
    return {"object": "list", "data": [_tool_card(t, context) for t in tools]}


@router.post("/tools/{name}/call")
async def call_tool(name: str, request: Request) -> dict[str, Any]:
    caller = require_admin(request)
    state = get_state(request)
    body = await _parse(request, CallRequest)
    tenant = body.tenant or caller.tenant
    try:
        result = await state.hub.registry.call(
            name, body.arguments, policy=policy_for(state.settings, tenant), tenant=tenant,
            actor=f"admin:{caller.actor}", confirmed=body.confirm)
    except ToolError as e:
        if e.code == "unknown_tool":
            raise NotFound(e.message, code=e.code) from e
        raise InvalidRequest(e.message, code=e.code) from e
    return {"tool": name, "result": result}


@router.get("/plugins")
async def list_plugins(request: Request) -> dict[str, Any]:
    require_admin(request)
    return {"object": "list", "data": [p.to_dict() for p in get_state(request).hub.plugins()]}


def _plugin(request: Request, name: str) -> Any:
    info = get_state(request).hub.plugin(name)
    if info is None:
        raise NotFound(f"플러그인 '{name}'이(가) 없습니다 / no plugin named '{name}'")
    return info


@router.get("/plugins/{name}")
async def show_plugin(name: str, request: Request) -> dict[str, Any]:
    require_admin(request)
    return dict(_plugin(request, name).to_dict())


@router.post("/plugins/{name}/{action}")
async def switch_plugin(name: str, action: str, request: Request) -> dict[str, Any]:
    caller = require_admin(request)
    if action not in ("enable", "disable"):
        raise NotFound(f"unknown action {action!r}; use enable or disable")
    try:
        info = get_state(request).hub.switch(name, action == "enable", caller.actor)
    except CorePlugin as e:
        raise InvalidRequest(str(e), code="core_plugin") from e
    if info is None:
        raise NotFound(f"플러그인 '{name}'이(가) 없습니다 / no plugin named '{name}'")
    return dict(info.to_dict())
