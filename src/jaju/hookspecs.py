"""The plugin contract. A plugin is a module or package with functions marked `@hookimpl`.

Each hook receives a `register` callback; call it once per thing the plugin provides.
Built-in features are registered the same way, by the default plugins in `jaju.plugins`.
docs/plugins.md documents every hook with an example.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("jaju")
hookimpl = pluggy.HookimplMarker("jaju")


@hookspec
def register_backends(register: Callable[..., None]) -> None:
    """Register backend types: register("type", factory(name, settings) -> Backend, Settings)."""


@hookspec
def register_parsers(register: Callable[[list[str], Callable[..., Any]], None]) -> None:
    """Register document parsers: register([".hwp"], parse(path) -> ParsedDocument)."""


@hookspec
def register_guards(register: Callable[[type[Any]], None]) -> None:
    """Register guards: register(GuardClass), a `jaju.guards.Guard` subclass with a `name`."""


@hookspec
def register_tools(register: Callable[..., None], services: Any) -> None:
    """Register tools: register(tool, namespace="plugin"); `services` is a `ToolServices`."""


@hookspec
def register_packs(register: Callable[[Any], None]) -> None:
    """Register industry packs: register(pack), a `jaju.packs.base.Pack` (see docs/packs.md)."""
