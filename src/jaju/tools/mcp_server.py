"""jaju as an MCP server: the caller's enabled tools (knowledge search among them) for any MCP
client, over stdio (`jaju mcp serve`) or streamable HTTP (`/mcp` on `jaju serve`, with the same
API keys; mounted by `jaju.api.mcp`). Every call goes through the gateway, so the tenant's
policy, its guards and the audit log apply exactly as in the assistant's tool loop. A write
tool runs only when an operator rule confirms it or the call's `_meta` carries
`"jaju/confirm": true`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server

from jaju import __version__
from jaju.caller import Caller
from jaju.errors import ToolError

Who = Callable[[Any], Caller]
"""Request context -> the Caller (the stdio server's tenant, or the HTTP request's key)."""


def build_server(gateway: Any, who: Who) -> Server[Any]:
    """An MCP server over `gateway` (a `jaju.pipeline.Gateway`): its tools, its policy."""

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        caller = who(ctx)
        context = gateway.tool_context(caller)
        tools = []
        for tool in gateway.visible_tools(caller):
            if tool.unavailable:
                continue
            read = tool.permissions.effect == "read"
            tools.append(types.Tool(
                name=tool.name, description=tool.description,
                input_schema=tool.parameters_for(context),
                annotations=types.ToolAnnotations(read_only_hint=read, destructive_hint=not read)))
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        caller = who(ctx)
        meta: dict[str, Any] = dict(params.meta or {})
        try:
            result = await gateway.call_tool(caller, params.name, params.arguments or {},
                                             confirmed=meta.get("jaju/confirm") is True)
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


async def serve_stdio(gateway: Any, tenant: str) -> None:
    from mcp.server.stdio import stdio_server

    caller = Caller(tenant, label=f"mcp:{tenant}/stdio")
    server = build_server(gateway, lambda ctx: caller)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())
