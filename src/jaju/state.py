"""`AppState`: everything one running jaju holds, built by `create_app` and passed around."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from jaju.assistants import Assistant
from jaju.backends.base import Backend
from jaju.config import Settings
from jaju.errors import ConfigError, NotFound, UpstreamUnavailable
from jaju.knowledge.index import KnowledgeIndex
from jaju.limits import RateLimiter
from jaju.plugins import backend_factories, get_plugin_manager, guards
from jaju.store import Store

log = logging.getLogger("jaju")


@dataclass
class AppState:
    settings: Settings
    store: Store
    backends: dict[str, Backend]
    models: dict[str, Assistant]
    limiter: RateLimiter = field(default_factory=RateLimiter)
    failed: dict[str, str] = field(default_factory=dict)
    """Backends that could not start, with the reason; their models answer 503."""
    keys_required: bool = False
    guards: dict[str, Any] = field(default_factory=dict)
    """Text checks from the `register_guards` hook, by name."""
    hub: Any = None
    """The ToolHub: every tool from plugins, MCP servers and OpenAPI services."""
    _knowledge: KnowledgeIndex | None = None
    _content_guard: Any = None

    @classmethod
    def build(cls, settings: Settings, *, load_plugins: bool = True) -> AppState:
        from jaju.tools.hub import ToolHub

        store = Store(settings.db_path)
        pm = get_plugin_manager(load_entrypoints=load_plugins, blocked=store.disabled_plugins())
        factories = backend_factories(pm)
        backends: dict[str, Backend] = {}
        for name, conf in settings.backends.items():
            if conf.type not in factories:
                raise ConfigError(f"unknown backend type {conf.type!r} for backend {name!r}")
            backends[name] = factories[conf.type](name, conf)
        models = {name: Assistant(name, backend) for name, backend in backends.items()}
        state = cls(settings=settings, store=store, backends=backends, models=models,
                    keys_required=store.has_keys(), guards=guards(pm))
        state.hub = ToolHub(settings, pm, state, store)
        for name, spec in settings.assistants.items():
            backend = backends[spec.backend]
            if spec.tools and not backend.capabilities.tools:
                raise ConfigError(f"assistant {name!r} has tools, but backend {spec.backend!r} "
                                  "cannot call tools")
            defaults = {k: v for k in ("temperature", "top_p", "max_tokens")
                        if (v := getattr(spec, k)) is not None}
            models[name] = Assistant(name, backend, spec.description,
                                     spec.system_prompt, defaults, list(spec.knowledge),
                                     state.knowledge if spec.knowledge else None, spec.top_k,
                                     spec.guards.injection or settings.guards.injection
                                     or "strip", list(spec.tools), spec.tool_choice,
                                     spec.max_tool_rounds)
        return state

    @property
    def content_guard(self) -> Any:
        """The content-safety guard, loaded on first use."""
        if self._content_guard is None:
            from jaju.guards.content import ContentGuard

            self._content_guard = ContentGuard()
        return self._content_guard

    @property
    def knowledge(self) -> KnowledgeIndex:
        """The knowledge index, opened on first use (loading Kiwi takes a second or two)."""
        if self._knowledge is None:
            self._knowledge = KnowledgeIndex(self.settings.db_path)
        return self._knowledge

    async def start(self) -> None:
        if any(a.knowledge for a in self.models.values()):
            _ = self.knowledge.analyzer  # load Kiwi now, not during the first request
        for name, backend in self.backends.items():
            try:
                await backend.start()
            except ConfigError as e:
                self.failed[name] = str(e)
                log.error("backend %s failed to start: %s", name, e)
        await self.hub.start(wait=10.0)  # first requests see the MCP tools; a dead server
        # does not hold the start longer (it keeps restarting in the background)

    async def aclose(self) -> None:
        await self.hub.aclose()
        for backend in self.backends.values():
            await backend.aclose()
        self.store.close()
        if self._knowledge is not None:
            self._knowledge.close()

    def model(self, name: str) -> Assistant:
        assistant = self.models.get(name)
        if assistant is None:
            raise NotFound(f"모델 '{name}'이(가) 없습니다 / the model '{name}' does not exist",
                           param="model")
        reason = self.failed.get(assistant.backend.name)
        if reason:
            raise UpstreamUnavailable(f"모델 '{name}'을(를) 사용할 수 없습니다 / model '{name}' "
                                      f"is unavailable: {reason}")
        return assistant
