"""The plugin manager. Built-in features are default plugins; others come from the `jaju`
entry-point group of installed packages.

An installed plugin that fails — its module does not import, its hooks do not match the
contract, or a `register_*` hook raises — is logged and left out (only that plugin, only what
it failed at), and kept in `PluginManager.broken` for `jaju plugins list`, so that it can be
switched off. A default plugin that fails is jaju's bug and raises."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TypeVar

import pluggy

from jaju import hookspecs

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PLUGINS = ("jaju.backends.builtin", "jaju.knowledge.parsers.builtin",
                   "jaju.guards.builtin", "jaju.tools.builtin", "jaju.packs.law.plugin",
                   "jaju.packs.finance.plugin", "jaju.packs.commerce.plugin",
                   "jaju.packs.education.plugin")


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, with the installed plugins that failed."""

    def __init__(self) -> None:
        super().__init__("jaju")
        self.add_hookspecs(hookspecs)
        self.broken: dict[str, str] = {}
        """Plugin name → "ExceptionType: message" of its first failure."""

    def failed(self, name: str, error: Exception, doing: str) -> None:
        log.error("plugin %s failed (%s), left out: %s: %s", name, doing,
                  type(error).__name__, error, exc_info=error)
        self.broken.setdefault(name, f"{type(error).__name__}: {error}")

    def load_entry_points(self) -> None:
        """Register the `jaju` entry points one by one; skip blocked ones and failures."""
        for ep in metadata.entry_points(group="jaju"):
            if self.is_blocked(ep.name) or self.has_plugin(ep.name) or ep.name in self.broken:
                continue
            try:
                self.register(ep.load(), name=ep.name)
            except Exception as e:
                if self.get_plugin(ep.name) is not None:  # hooks registered before the bad one
                    self.unregister(name=ep.name)
                self.failed(ep.name, e, "loading")


def get_plugin_manager(*, load_entrypoints: bool = True,
                       blocked: set[str] | frozenset[str] = frozenset()) -> PluginManager:
    """Default plugins, then installed ones. A `blocked` (disabled) plugin is not imported."""
    pm = PluginManager()
    for module in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module), name=module)
    for name in blocked:
        if name not in DEFAULT_PLUGINS:
            pm.set_blocked(name)
    if load_entrypoints:
        pm.load_entry_points()
    return pm


def disabled_hint(name: str, disabled: Collection[str]) -> str:
    """What an "unknown backend type / guard `name`" error adds when plugins are switched off:
    the plugin of that name, or else the disabled ones (a blocked plugin is not imported, so
    what it would register is not known)."""
    if name in disabled:
        return (f"; 플러그인 '{name}'이(가) 꺼져 있습니다 / plugin '{name}' is disabled: "
                f"jaju plugins enable {name}")
    if disabled:
        return (f"; 꺼진 플러그인 / disabled plugins: {', '.join(sorted(disabled))} "
                "(jaju plugins enable NAME)")
    return ""


def collect(pm: PluginManager, hook: str, register: Callable[..., T], **kwargs: Any
            ) -> list[tuple[str, T]]:
    """Call `hook` one plugin at a time (in pluggy's order). Each `register(...)` call of a
    plugin goes through `register`, which checks it and returns what to keep; a plugin's
    calls count only if its hook returned. Returns (plugin name, kept) pairs."""
    found: list[tuple[str, T]] = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        staged: list[T] = []
        offered = {"register": _staging(staged, register), **kwargs}
        try:
            impl.function(*(offered[arg] for arg in impl.argnames))
        except Exception as e:
            if impl.plugin_name in DEFAULT_PLUGINS:
                raise
            pm.failed(impl.plugin_name, e, hook)
            continue
        found.extend((impl.plugin_name, item) for item in staged)
    return found


def _staging(staged: list[T], register: Callable[..., T]) -> Callable[..., None]:
    def stage(*args: Any, **kwargs: Any) -> None:
        staged.append(register(*args, **kwargs))
    return stage


@dataclass(frozen=True)
class BackendType:
    """A backend type a plugin registered: how to build one, and its `[backends.X]` model."""

    factory: Callable[..., Any]
    settings_model: type[Any] | None = None


def backend_types(pm: PluginManager) -> dict[str, BackendType]:
    def register(kind: str, factory: Callable[..., Any], settings_model: type[Any] | None = None
                 ) -> tuple[str, BackendType]:
        return kind, BackendType(factory, settings_model)

    return dict(item for _, item in collect(pm, "register_backends", register))


def parsers(pm: PluginManager) -> dict[str, Callable[..., Any]]:
    """Parser functions by lower-case file suffix."""
    def register(suffixes: list[str], parser: Callable[..., Any]
                 ) -> list[tuple[str, Callable[..., Any]]]:
        return [(suffix.lower(), parser) for suffix in suffixes]

    return {suffix: parser for _, items in collect(pm, "register_parsers", register)
            for suffix, parser in items}


def guard_types(pm: PluginManager) -> dict[str, type[Any]]:
    """Guard classes by name (pii, content, injection, and any a plugin adds)."""
    def register(guard: type[Any]) -> tuple[str, type[Any]]:
        if not getattr(guard, "name", ""):
            raise TypeError(f"guard {guard!r} has no name")
        return guard.name, guard

    return dict(item for _, item in collect(pm, "register_guards", register))


def packs(pm: PluginManager) -> dict[str, Any]:
    """Packs (`jaju.packs.base.Pack`) by name."""
    def register(pack: Any) -> tuple[str, Any]:
        if not getattr(pack, "name", ""):
            raise TypeError(f"pack {pack!r} has no name")
        return pack.name, pack

    return dict(item for _, item in collect(pm, "register_packs", register))
