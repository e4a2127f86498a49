"""MCP servers as tool sources, through the official `mcp` SDK.

Each `[mcp_servers.NAME]` is kept connected by a supervisor task: it starts the server (stdio,
in a new network namespace when the server declares no network and the OS allows it) or
connects to it (streamable HTTP, through the egress guard), lists its tools into the registry
as `NAME.tool`, and pings it. A server that exits, breaks the connection or stops answering
pings is restarted with exponential backoff; meanwhile its tools are marked unavailable and a
call to them fails cleanly. Permissions are the operator's (from the config); a server's own
annotations can only make a tool stricter (`destructive_hint` -> write), never looser.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
from contextlib import AbstractAsyncContextManager, suppress
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from jaju.tools.egress import Egress, EgressRefused, egress_transport
from jaju.tools.model import Permissions, Tool
from jaju.tools.registry import ToolError, ToolRegistry

if TYPE_CHECKING:
    from jaju.config import McpServerSettings

log = logging.getLogger("jaju.mcp")
MAX_BACKOFF = 30.0


@cache
def network_sandbox() -> list[str] | None:
    """The command prefix that runs a program without network access, if this OS allows it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for prefix in ([unshare, "--net"], [unshare, "--map-root-user", "--net"]):
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=5).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return [*prefix, "--"]
    return None


def _describe(e: BaseException) -> str:
    """The leaf errors of an exception (groups from anyio task groups unwrapped)."""
    if isinstance(e, BaseExceptionGroup):
        return "; ".join(_describe(x) for x in e.exceptions)
    return f"{type(e).__name__}: {e}"


def _destructive(annotations: Any) -> bool:
    """A server's own hint can only make a tool stricter, never looser."""
    return annotations is not None and getattr(annotations, "destructive_hint", None) is True \
        and getattr(annotations, "read_only_hint", None) is not True


def _text(result: Any) -> str:
    parts = []
    for block in result.content or ():
        kind = getattr(block, "type", "")
        parts.append(block.text if kind == "text" else f"[{kind}]")
    return "\n".join(parts)


class McpServer:
    """One configured MCP server and the supervisor that keeps it connected."""

    def __init__(self, name: str, conf: McpServerSettings, registry: ToolRegistry) -> None:
        self.name, self.conf, self.registry = name, conf, registry
        self.ping_interval = conf.ping_interval
        self.state = "stopped"
        self.error: str | None = None
        self.restarts = 0
        self.sandboxed = False
        self.server_info: dict[str, Any] = {}
        self._session: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._broken = asyncio.Event()
        self._ready = asyncio.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._supervise(), name=f"mcp:{self.name}")

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        self.state = "stopped"

    async def _supervise(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            self.state = "starting"
            try:
                await self._connect_and_serve()
                self.error = self.error or "connection closed"
            except Exception as e:
                self.error = _describe(e)
            if self._ready.is_set():
                delay = 0.5  # it was up: start the backoff afresh
            self._session = None
            self._ready.clear()
            if self._stop.is_set():
                break
            self.state = "down"
            self._mark_unavailable(f"MCP server '{self.name}' is restarting ({self.error})")
            log.warning("MCP server %s is down (%s); restarting in %.1fs", self.name,
                        self.error, delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            self.restarts += 1
            delay = min(delay * 2, MAX_BACKOFF)
        self._mark_unavailable(f"MCP server '{self.name}' is stopped")

    def _transport(self) -> AbstractAsyncContextManager[Any]:
        if self.conf.url:
            import httpx2  # the HTTP library of the MCP SDK
            from mcp.client.streamable_http import streamable_http_client

            host = urlsplit(self.conf.url).hostname or ""
            egress = Egress(hosts=(host, *self.conf.network), allow_private=self.conf.allow_private)
            headers = {k: os.environ.get(v, "") for k, v in self.conf.headers_env.items()}
            client = httpx2.AsyncClient(transport=egress_transport(egress, httpx2),
                                        headers=headers,
                                        timeout=httpx2.Timeout(self.conf.timeout, read=300))
            return streamable_http_client(self.conf.url, http_client=client)
        from mcp.client.stdio import StdioServerParameters, stdio_client

        assert self.conf.command
        command = shutil.which(self.conf.command)
        if command is None and self.conf.cwd is not None:  # a path relative to `cwd`
            command = shutil.which(str(self.conf.cwd / self.conf.command))
        if command is None:
            raise FileNotFoundError(f"명령을 찾을 수 없습니다 / command not found: "
                                    f"{self.conf.command}")
        args = list(self.conf.args)
        prefix = network_sandbox() if self.conf.sandbox and not self.conf.network else None
        self.sandboxed = prefix is not None
        if prefix:
            command, args = prefix[0], [*prefix[1:], command, *args]
        params = StdioServerParameters(command=command, args=args, env=self.conf.env or None,
                                       cwd=self.conf.cwd)
        return stdio_client(params)

    async def _connect_and_serve(self) -> None:
        from mcp import ClientSession

        self.error = None
        async with self._transport() as (read, write), ClientSession(read, write) as session:
            init = await asyncio.wait_for(session.initialize(), self.conf.timeout)
            info = getattr(init, "server_info", None)
            self.server_info = {"name": getattr(info, "name", ""),
                                "version": getattr(info, "version", "")}
            listing = await asyncio.wait_for(session.list_tools(), self.conf.timeout)
            self._register(listing.tools)
            self._session = session
            self._broken.clear()
            self.state = "ready"
            self._ready.set()
            log.info("MCP server %s ready with %d tools", self.name, len(listing.tools))
            while not self._stop.is_set():
                stop, broken = (asyncio.create_task(self._stop.wait()),
                                asyncio.create_task(self._broken.wait()))
                done, pending = await asyncio.wait({stop, broken}, timeout=self.ping_interval,
                                                   return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                if self._stop.is_set():
                    return
                if broken in done:
                    raise ConnectionError("a call found the connection broken")
                try:
                    await asyncio.wait_for(session.send_ping(), min(5.0, self.conf.timeout))
                except TimeoutError as e:
                    raise TimeoutError("the server stopped answering pings") from e

    # --- tools ----------------------------------------------------------------------------------

    def _register(self, listed: list[Any]) -> None:
        self.registry.remove_source(self.name)
        for t in listed:
            permissions = Permissions(
                network=tuple(self.conf.network), knowledge=tuple(self.conf.knowledge),
                pii=self.conf.pii,
                effect=self.conf.effect_of(t.name, _destructive(t.annotations)))
            self.registry.add(Tool(name=f"{self.name}.{t.name}", description=t.description or "",
                                   parameters=t.input_schema, run=self._runner(t.name),
                                   permissions=permissions, source=self.name))

    def _mark_unavailable(self, reason: str) -> None:
        for tool in self.registry.tools.values():
            if tool.source == self.name:
                tool.unavailable = reason

    def _runner(self, tool_name: str) -> Any:
        async def run(**arguments: Any) -> Any:
            from mcp.shared.exceptions import MCPError
            from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

            session = self._session
            if session is None:
                raise ToolError("unavailable", f"MCP server '{self.name}' is not connected")
            try:
                result = await session.call_tool(tool_name, arguments,
                                                 read_timeout_seconds=self.conf.timeout)
            except MCPError as e:
                if e.code == CONNECTION_CLOSED:
                    self._broken.set()
                    raise ToolError("unavailable", f"MCP server '{self.name}' is down") from e
                if e.code == REQUEST_TIMEOUT:
                    raise ToolError("timeout", f"{self.name}.{tool_name} did not answer within "
                                    f"{self.conf.timeout:g}s") from e
                raise ToolError("tool_failed", f"{self.name}.{tool_name}: {e}") from e
            except (EgressRefused, ConnectionError, OSError, anyio.BrokenResourceError,
                    anyio.ClosedResourceError) as e:
                self._broken.set()
                raise ToolError("unavailable", f"MCP server '{self.name}': "
                                f"{type(e).__name__} {e}") from e
            if getattr(result, "is_error", False):
                raise ToolError("tool_failed", _text(result)[:2000] or "the tool reported an error")
            structured = getattr(result, "structured_content", None)
            return structured if structured is not None else _text(result)
        return run
