"""`ToolHub`: every tool source of one jaju in one registry — Python plugins (the
`register_tools` hook, built-in tools included), MCP servers and OpenAPI services — and the
plugin switches (`jaju plugins enable|disable`, kept in the store so a running server sees them).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

from jaju import __version__
from jaju.plugins import DEFAULT_PLUGINS, PluginManager, collect
from jaju.tools.mcp import McpServer
from jaju.tools.openapi import OpenApiService
from jaju.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from jaju.config import Settings
    from jaju.store import Store
    from jaju.tools.services import ToolServices


def switch_note(info: PluginInfo) -> str:
    """When a switch takes effect, for the CLI and the admin API to say."""
    note = ("실행 중인 서버는 다음 호출부터 도구에 적용합니다 / a running server applies this to "
            "tools from the next call")
    if info.kind == "python":
        note += ("; 가드·백엔드·파서는 서버를 다시 시작해야 바뀝니다 / its guards, backends and "
                 "parsers change when the server restarts")
    return note


class CorePlugin(Exception):
    """A core plugin cannot be switched off."""


@dataclass
class PluginInfo:
    name: str
    kind: str
    """builtin, python, mcp or openapi."""
    version: str = ""
    description: str = ""
    enabled: bool = True
    state: str = "loaded"
    error: str | None = None
    tools: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def entry_point_plugins() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group="jaju")}


class ToolHub:
    def __init__(self, settings: Settings, pm: PluginManager, services: ToolServices,
                 store: Store | None) -> None:
        self.settings, self.pm, self.store = settings, pm, store
        self.registry = ToolRegistry(store, disabled_sources=self.disabled)
        self.mcp: dict[str, McpServer] = {}
        self.openapi: dict[str, OpenApiService] = {}

        def register(tool: Any, namespace: str | None = None) -> tuple[Any, str | None]:
            return tool, namespace

        found = collect(pm, "register_tools", register, services=services)
        clashed: set[str] = set()
        for source, (tool, namespace) in sorted(found, key=lambda f: f[0] not in DEFAULT_PLUGINS):
            if source in clashed:
                continue
            tool.source = source  # each tool knows its plugin
            try:
                self.registry.add(tool, namespace)
            except ValueError as e:  # a name taken (jaju's own tools come first)
                if source in DEFAULT_PLUGINS:
                    raise
                pm.failed(source, e, "register_tools")
                self.registry.remove_source(source)  # none of its tools, as for a hook that raised
                clashed.add(source)
        for name, conf in settings.openapi.items():
            if conf.enabled:
                service = OpenApiService(name, conf)
                self.openapi[name] = service
                for tool in service.tools():
                    self.registry.add(tool)
        for name, mconf in settings.mcp_servers.items():
            if mconf.enabled:
                self.mcp[name] = McpServer(name, mconf, self.registry)

    def disabled(self) -> set[str]:
        """Switched-off plugins as last read (refreshed off the event loop by AppState)."""
        return self.store.disabled_plugins(max_age=float("inf")) if self.store is not None \
            else set()

    async def start(self, wait: float = 0.0) -> None:
        """Start the MCP supervisors; with `wait`, give them that long to come up."""
        for server in self.mcp.values():
            await server.start()
        if wait and self.mcp:
            await asyncio.gather(*(s.wait_ready(wait) for s in self.mcp.values()))

    async def aclose(self) -> None:
        await asyncio.gather(*(s.aclose() for s in self.mcp.values()))
        await asyncio.gather(*(s.aclose() for s in self.openapi.values()))

    # --- plugins --------------------------------------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        off = self.disabled()
        tools: dict[str, list[str]] = {}
        for tool in self.registry.tools.values():
            tools.setdefault(tool.source, []).append(tool.name)
        found: list[PluginInfo] = []
        entry_points = entry_point_plugins()
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            kind = "builtin" if name in DEFAULT_PLUGINS else "python"
            version = __version__ if kind == "builtin" else ""
            if name in entry_points and entry_points[name].dist is not None:
                version = entry_points[name].dist.version  # type: ignore[union-attr]
            error = self.pm.broken.get(name)  # loaded, but a hook of it failed
            found.append(PluginInfo(name, kind, version, (getattr(plugin, "__doc__", "") or "")
                                    .strip().split("\n")[0], name not in off,
                                    "failed" if error else "loaded", error,
                                    tools=sorted(tools.get(name, []))))
        for name, ep in entry_points.items():
            version = ep.dist.version if ep.dist else ""
            if self.pm.is_blocked(name):
                found.append(PluginInfo(name, "python", version, f"entry point {ep.value}",
                                        False, "not loaded"))
            elif name in self.pm.broken and not self.pm.has_plugin(name):  # did not load
                found.append(PluginInfo(name, "python", version, f"entry point {ep.value}",
                                        name not in off, "failed", self.pm.broken[name]))
        for name, service in self.openapi.items():
            found.append(PluginInfo(name, "openapi", service.version, service.description,
                                    name not in off, tools=sorted(tools.get(name, [])),
                                    detail={"title": service.title, "base_url": service.base_url}))
        for name, server in self.mcp.items():
            found.append(PluginInfo(
                name, "mcp", str(server.server_info.get("version", "")),
                str(server.server_info.get("name", "")), name not in off, server.state,
                server.error, sorted(tools.get(name, [])),
                {"transport": "http" if server.conf.url else "stdio", "restarts": server.restarts,
                 "sandboxed": server.sandboxed}))
        for name, conf in self.settings.mcp_servers.items():
            if not conf.enabled:
                found.append(PluginInfo(name, "mcp", enabled=False, state="disabled in config"))
        for name, oconf in self.settings.openapi.items():
            if not oconf.enabled:
                found.append(PluginInfo(name, "openapi", enabled=False,
                                        state="disabled in config"))
        return sorted(found, key=lambda p: (p.kind != "builtin", p.name))

    def plugin(self, name: str) -> PluginInfo | None:
        return next((p for p in self.plugins() if p.name == name), None)

    def switch(self, name: str, enabled: bool, actor: str) -> PluginInfo | None:
        """Enable or disable a plugin (kept in the store, audited); None if there is no such
        plugin. Core plugins (backends, parsers, guards: builtin without tools) refuse."""
        info = self.plugin(name)
        if info is None:
            return None
        if info.kind == "builtin" and not info.tools:
            raise CorePlugin(f"'{name}'은(는) 핵심 플러그인이라 끌 수 없습니다 / '{name}' is a "
                             "core plugin and cannot be switched")
        assert self.store is not None
        self.store.set_plugin_enabled(name, enabled, actor)
        return self.plugin(name)
