"""The plugin manager. Built-in features are default plugins; others come from the `jaju`
entry-point group of installed packages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

from jaju import hookspecs

DEFAULT_PLUGINS = ("jaju.backends.builtin", "jaju.knowledge.parsers.builtin",
                   "jaju.guards.builtin", "jaju.tools.builtin")


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


def backend_factories(pm: pluggy.PluginManager) -> dict[str, Callable[..., Any]]:
    factories: dict[str, Callable[..., Any]] = {}

    def register(kind: str, factory: Callable[..., Any]) -> None:
        factories[kind] = factory

    pm.hook.register_backends(register=register)
    return factories


def parsers(pm: pluggy.PluginManager) -> dict[str, Callable[..., Any]]:
    """Parser functions by lower-case file suffix."""
    found: dict[str, Callable[..., Any]] = {}

    def register(suffixes: list[str], parser: Callable[..., Any]) -> None:
        for suffix in suffixes:
            found[suffix.lower()] = parser

    pm.hook.register_parsers(register=register)
    return found


def guards(pm: pluggy.PluginManager) -> dict[str, Callable[[str], Any]]:
    """Text checks by name (pii, content, injection, and any a plugin adds)."""
    found: dict[str, Callable[[str], Any]] = {}

    def register(name: str, check: Callable[[str], Any]) -> None:
        found[name] = check

    pm.hook.register_guards(register=register)
    return found
