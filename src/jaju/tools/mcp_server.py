"""jaju as an MCP server: the caller's enabled tools (knowledge search among them) for any MCP
client, over stdio (`jaju mcp serve`) or streamable HTTP (`/mcp` on `jaju serve`, with the same
API keys). Every call goes through the registry, so the tenant's policy, the PII guard and the
audit log apply exactly as in the assistant's tool loop. A write tool runs only when an operator
rule confirms it or the call's `_meta` carries `"jaju/confirm": true`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server

from jaju import __version__
from jaju.guards.actions import PiiPolicy
from jaju.tools.model import ToolContext
from jaju.tools.pii import ToolPii
from jaju.tools.policy import policy_for
from jaju.tools.registry import ToolError

Who = Callable[[Any], tuple[str, str]]
"""Request context -> (tenant, actor)."""


def build_server(state: Any, who: Who) -> Server[Any]:
    settings, registry = state.settings, state.hub.registry

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tenant, actor = who(ctx)
        caller = ToolContext(tenant, actor)
        tools = []
        for tool in registry.visible(policy_for(settings, tenant)):
            if tool.unavailable:
                continue
            read = tool.permissions.effect == "read"
            tools.append(types.Tool(
                name=tool.name, description=tool.description,
                input_schema=tool.parameters_for(caller),
                annotations=types.ToolAnnotations(read_only_hint=read, destructive_hint=not read)))
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tenant, actor = who(ctx)
        meta: dict[str, Any] = dict(params.meta or {})
        pii = PiiPolicy.from_mapping(settings.pii_actions(tenant, ""))
        try:
            result = await registry.call(
                params.name, params.arguments or {}, policy=policy_for(settings, tenant),
                tenant=tenant, actor=f"mcp:{actor}", confirmed=meta.get("jaju/confirm") is True,
                pii=ToolPii(pii) if pii.active else None)
        except ToolError as e:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=f"{e.code}: {e.message}")],
                is_error=True)
        text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content=result if isinstance(result, dict) else {"result": result})

    return Server("jaju", version=__version__, instructions=(
        "jaju: 조직의 지식 베이스 검색과 허용된 도구 / the organisation's knowledge search and "
        "the tools its policy enables"), on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(state: Any, tenant: str) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(state, lambda ctx: (tenant, f"{tenant}/stdio"))
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


class McpHttp:
    """The streamable-HTTP endpoint, mounted at `/mcp` by `create_app`. Authentication is jaju's
    own (a tenant's API key as `Authorization: Bearer`)."""

    def __init__(self, state: Any, loopback_only: bool) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        def who(ctx: Any) -> tuple[str, str]:
            caller = ctx.request.scope["jaju.caller"] if ctx.request is not None else None
            return (caller.tenant, caller.actor) if caller else ("local", "local")

        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        ) if loopback_only else None
        self.state = state
        self.manager = StreamableHTTPSessionManager(
            app=build_server(state, who), stateless=True, json_response=True,
            security_settings=security)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request
        from starlette.responses import JSONResponse

        from jaju.api.auth import authenticate
        from jaju.errors import ApiError

        if scope["type"] != "http":
            return
        try:
            scope["jaju.caller"] = authenticate(Request(scope))
        except ApiError as e:
            await JSONResponse(e.to_dict(), status_code=e.status_code)(scope, receive, send)
            return
        await self.manager.handle_request(scope, receive, send)
