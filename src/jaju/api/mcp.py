"""`/mcp`: jaju as an MCP server over streamable HTTP, with jaju's own authentication (a
tenant's API key as `Authorization: Bearer`). The server itself is `jaju.tools.mcp_server`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jaju.caller import Caller
from jaju.errors import ApiError
from jaju.state import AppState
from jaju.tools.mcp_server import build_server


class McpHttp:
    """The ASGI endpoint mounted at `/mcp` by `create_app`."""

    def __init__(self, state: AppState, loopback_only: bool) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        def who(ctx: Any) -> Caller:
            caller: Caller = ctx.request.scope["jaju.caller"]  # set below for every request
            return caller

        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        ) if loopback_only else None
        self.manager = StreamableHTTPSessionManager(
            app=build_server(state.gateway, who), stateless=True, json_response=True,
            security_settings=security)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.requests import Request

        from jaju.api.auth import authenticate
        from jaju.api.errors import error_response

        if scope["type"] != "http":
            return
        try:
            caller = await authenticate(Request(scope))
        except ApiError as e:
            await error_response(e)(scope, receive, send)
            return
        scope["jaju.caller"] = replace(caller, label=f"mcp:{caller.actor}")
        await self.manager.handle_request(scope, receive, send)
