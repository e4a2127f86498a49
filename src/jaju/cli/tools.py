"""`jaju tools list|call`, `jaju plugins list|show|enable|disable` and `jaju mcp serve`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from jaju.caller import Caller
from jaju.cli.common import ConfigOption, HomeOption, err, fail, load_settings, out

app = typer.Typer(help="Tools from plugins, MCP servers and OpenAPI services, under policy.",
                  no_args_is_help=True)
plugins_app = typer.Typer(help="Plugins: Python packages, MCP servers, OpenAPI services.",
                          no_args_is_help=True)
mcp_app = typer.Typer(help="jaju as an MCP server.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option(help="Act as this tenant (its policy applies).")]
WaitOption = Annotated[float, typer.Option(help="Seconds to wait for MCP servers to start.")]


@asynccontextmanager
async def _hub(config: Path | None, home: Path | None, wait: float) -> AsyncIterator[Any]:
    """The server's state without its backends: plugins loaded, MCP servers started."""
    from jaju.errors import ConfigError
    from jaju.state import AppState

    try:
        state = AppState.build(load_settings(config, home))
    except ConfigError as e:
        fail(str(e))
    await state.hub.start(wait=wait)
    try:
        yield state
    finally:
        await state.hub.aclose()
        state.store.close()


def _cli(tenant: str) -> Caller:
    return Caller(tenant, label=f"cli:{tenant}")


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    tenant: TenantOption = "local",
    wait: WaitOption = 10.0,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """List the tools the tenant may use, with their schema and permissions."""
    async def run() -> list[dict[str, Any]]:
        async with _hub(config, home, wait) as state:
            gateway, caller = state.gateway, _cli(tenant)
            context = gateway.tool_context(caller)
            return [t.card(context) for t in gateway.visible_tools(caller)]

    tools = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps(tools, ensure_ascii=False, indent=2))
        return
    table = Table()
    table.add_column("tool", no_wrap=True)  # the name `tools call` needs, never cut
    for column in ("source", "effect", "available", "description"):
        table.add_column(column, overflow="fold")
    for t in tools:
        table.add_row(t["name"], t["source"], t["permissions"]["effect"],
                      "yes" if t["available"] else "no", t["description"])
    out().print(table)


@app.command()
def call(
    name: Annotated[str, typer.Argument(help="Tool name, e.g. knowledge.search")],
    arguments: Annotated[str, typer.Argument(help="Arguments as a JSON object")] = "{}",
    tenant: TenantOption = "local",
    confirm: Annotated[bool, typer.Option("--confirm", help="Confirm a write tool.")] = False,
    wait: WaitOption = 10.0,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Call a tool (policy applies: enabled, schema, confirmation, limits, egress, audit)."""
    from jaju.errors import ToolError

    async def run() -> Any:
        async with _hub(config, home, wait) as state:
            return await state.gateway.call_tool(_cli(tenant), name, arguments,
                                                 confirmed=confirm)

    try:
        result = asyncio.run(run())
    except ToolError as e:
        fail(f"{e.code}: {e.message}", code=1)
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


# --- plugins ------------------------------------------------------------------------------------


@plugins_app.command("list")
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    wait: WaitOption = 10.0,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """List plugins, MCP servers and OpenAPI services: state, version and tools."""
    async def run() -> list[dict[str, Any]]:
        async with _hub(config, home, wait) as state:
            return [p.to_dict() for p in state.hub.plugins()]

    plugins = asyncio.run(run())
    if as_json:
        typer.echo(json.dumps(plugins, ensure_ascii=False, indent=2))
        return
    table = Table()
    table.add_column("plugin", no_wrap=True)  # the name `plugins enable|disable` needs
    for column in ("kind", "enabled", "state", "tools"):
        table.add_column(column, overflow="fold")
    for p in plugins:
        table.add_row(p["name"], p["kind"], "yes" if p["enabled"] else "no",
                      p["state"] + (f" ({p['error']})" if p["error"] else ""),
                      ", ".join(p["tools"]))
    out().print(table)


@plugins_app.command("show")
def plugins_show(
    name: str,
    wait: WaitOption = 10.0,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Show one plugin with its tools' schemas and permissions (JSON)."""
    async def run() -> dict[str, Any] | None:
        async with _hub(config, home, wait) as state:
            info = state.hub.plugin(name)
            if info is None:
                return None
            tools = [state.hub.registry.tools[t].card() for t in info.tools]
            return {**info.to_dict(), "tools": tools}

    found = asyncio.run(run())
    if found is None:
        fail(f"플러그인 '{name}'이(가) 없습니다 / no plugin named '{name}'", code=1)
    typer.echo(json.dumps(found, ensure_ascii=False, indent=2))


def _switch(name: str, enabled: bool, config: Path | None, home: Path | None) -> None:
    from jaju.tools.hub import CorePlugin, switch_note

    async def run() -> Any:
        async with _hub(config, home, 0.0) as state:
            return state.hub.switch(name, enabled, "cli")

    try:
        info = asyncio.run(run())
    except CorePlugin as e:
        fail(str(e), code=1)
    if info is None:
        fail(f"플러그인 '{name}'이(가) 없습니다 / no plugin named '{name}'", code=1)
    word = "켰습니다 / enabled" if enabled else "껐습니다 / disabled"
    err.print(f"{name}: {word}. {switch_note(info)}.", highlight=False)


@plugins_app.command("enable")
def plugins_enable(name: str, config: ConfigOption = None, home: HomeOption = None) -> None:
    """Enable a plugin (its tools become available to tenants whose policy allows them)."""
    _switch(name, True, config, home)


@plugins_app.command("disable")
def plugins_disable(name: str, config: ConfigOption = None, home: HomeOption = None) -> None:
    """Disable a plugin: its tools disappear for every tenant (recorded in the audit log)."""
    _switch(name, False, config, home)


# --- MCP server ---------------------------------------------------------------------------------


@mcp_app.command("serve")
def mcp_serve(
    tenant: TenantOption = "local",
    wait: WaitOption = 10.0,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Serve the tenant's knowledge search and enabled tools to an MCP client over stdio."""
    import logging

    from jaju.tools.mcp_server import serve_stdio

    logging.basicConfig(level=logging.WARNING)  # stdout carries the protocol; logs go to stderr

    async def run() -> None:
        async with _hub(config, home, wait) as state:
            await serve_stdio(state.gateway, tenant)

    asyncio.run(run())
