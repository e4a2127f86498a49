"""The two tool servers bench/tools.py calls, directly and through jaju.

    python tool_servers.py mcp          an MCP server on stdio (official SDK): add(a, b)
    python tool_servers.py http PORT    an HTTP JSON service: GET /add?a=&b=
"""

from __future__ import annotations

import sys


def mcp() -> None:
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("bench")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    server.run()


def http(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.get("/add", operation_id="add")
    def add(a: int, b: int) -> dict[str, int]:
        return {"sum": a + b}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if sys.argv[1] == "mcp":
        mcp()
    else:
        http(int(sys.argv[2]))
