"""The plugin manager. Built-in features are default plugins; others come from the `jaju`
entry-point group of installed packages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from jaju import hookspecs

DEFAULT_PLUGINS = ("jaju.backends.builtin", "jaju.knowledge.parsers.builtin",
                   "jaju.guards.builtin", "jaju.tools.builtin", "jaju.packs.law.plugin",
                   "jaju.packs.finance.plugin", "jaju.packs.commerce.plugin",
                   "jaju.packs.education.plugin")


def get_plugin_manager(*, load_entrypoints: bool = True,
                       blocked: set[str] | frozenset[str] = frozenset()) -> pluggy.PluginManager:
    """Default plugins, then installed ones. A `blocked` (disabled) plugin is not imported."""
    import importlib

    pm = pluggy.PluginManager("jaju")
    pm.add_hookspecs(hookspecs)
    for module in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module), name=module)
    for name in blocked:
        if name not in DEFAULT_PLUGINS:
            pm.set_blocked(name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints("jaju")
    return pm


@dataclass(frozen=True)
class BackendType:
    """A backend type a plugin registered: how to build one, and its `[backends.X]` model."""

    factory: Callable[..., Any]
    settings_model: type[Any] | None = None


def backend_types(pm: pluggy.PluginManager) -> dict[str, BackendType]:
    found: dict[str, BackendType] = {}

    def register(kind: str, factory: Callable[..., Any], settings_model: type[Any] | None = None
                 ) -> None:
        found[kind] = BackendType(factory, settings_model)

    pm.hook.register_backends(register=register)
    return found


def parsers(pm: pluggy.PluginManager) -> dict[str, Callable[..., Any]]:
    """Parser functions by lower-case file suffix."""
    found: dict[str, Callable[..., Any]] = {}

    def register(suffixes: list[str], parser: Callable[..., Any]) -> None:
        for suffix in suffixes:
            found[suffix.lower()] = parser

    pm.hook.register_parsers(register=register)
    return found


def guard_types(pm: pluggy.PluginManager) -> dict[str, type[Any]]:
    """Guard classes by name (pii, content, injection, and any a plugin adds)."""
    found: dict[str, type[Any]] = {}

    def register(guard: type[Any]) -> None:
        if not getattr(guard, "name", ""):
            raise TypeError(f"guard {guard!r} has no name")
        found[guard.name] = guard

    pm.hook.register_guards(register=register)
    return found


def packs(pm: pluggy.PluginManager) -> dict[str, Any]:
    """Packs (`jaju.packs.base.Pack`) by name."""
    found: dict[str, Any] = {}

    def register(pack: Any) -> None:
        if not getattr(pack, "name", ""):
            raise TypeError(f"pack {pack!r} has no name")
        found[pack.name] = pack

    pm.hook.register_packs(register=register)
    return found
