"""A real MCP server, written with the official SDK, for the tests. stdio by default;
`http PORT` serves streamable HTTP (with /health). Every call is appended to the file named by
MCP_CALL_LOG (one JSON line), so a test can see exactly what reached the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

mcp = MCPServer("jaju-test-mcp", version="1.2.3")


def _log(tool: str, arguments: dict) -> None:
    if os.environ.get("MCP_CALL_LOG"):
        with open(os.environ["MCP_CALL_LOG"], "a", encoding="utf-8") as f:
            f.write(json.dumps({"tool": tool, "arguments": arguments}, ensure_ascii=False) + "\n")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    _log("add", {"a": a, "b": b})
    return a + b


@mcp.tool()
def echo(text: str) -> str:
    """Return the text exactly as the server received it."""
    _log("echo", {"text": text})
    return f"받은 글: {text}"


@mcp.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


@mcp.tool()
def crash() -> str:
    """Kill the server process."""
    os._exit(3)


@mcp.tool()
def hang() -> str:
    """Stop the whole server process (it answers nothing, not even pings)."""
    os.kill(os.getpid(), signal.SIGSTOP)
    return "unreachable"


@mcp.tool()
def connect(port: int) -> str:
    """Try to open a TCP connection to 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return "connected"
    except OSError as e:
        return f"failed: {e}"


@mcp.tool(annotations=ToolAnnotations(destructive_hint=True))
def delete_all() -> str:
    """Delete every record."""
    _log("delete_all", {})
    return "deleted everything"


@mcp.tool()
def order(item: str, qty: int = 1) -> dict:
    """Order an item."""
    _log("order", {"item": item, "qty": qty})
    return {"ordered": item, "qty": qty}


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        from starlette.responses import PlainTextResponse

        @mcp.custom_route("/health", methods=["GET"])
        async def health(request):  # type: ignore[no-untyped-def]
            return PlainTextResponse("ok")

        mcp.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        mcp.run()
