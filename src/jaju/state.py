"""`AppState`: everything one running jaju holds, built by `create_app` and passed around."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from jaju.assistants import Assistant
from jaju.backends.base import Backend
from jaju.config import ExtractiveBackend, Settings
from jaju.errors import ConfigError
from jaju.guards.base import GuardSet
from jaju.knowledge.index import KnowledgeIndex, knowledge_location
from jaju.limits import AuthThrottle, Limiter, RateLimiter, RedisLimiter
from jaju.pipeline import Gateway
from jaju.plugins import BackendType, backend_types, disabled_hint, get_plugin_manager, guard_types, packs
from jaju.store import AuditEvent, Store, open_store, sqlite_path
from jaju.tools.hub import ToolHub
from jaju.tools.services import ToolServices

log = logging.getLogger("jaju")

T = TypeVar("T")
HEALTH_WAIT = 1.5
"""Seconds /health waits for one database read before it reports the read as unanswered."""


class Probe(Generic[T]):
    """A read for /health, waited for at most `bound` seconds. One runs at a time (in a thread
    of its own): a read still running when the bound passes is waited on again by the next
    call instead of being started twice, so a database that hangs costs one thread, not one
    per probe. Raises TimeoutError past the bound, or what the read raised."""

    def __init__(self, read: Callable[[], T], bound: float = HEALTH_WAIT) -> None:
        self.read, self.bound = read, bound
        self._pending: Future[T] | None = None
        self._lock = threading.Lock()

    def _run(self, future: Future[T]) -> None:
        try:
            future.set_result(self.read())
        except BaseException as e:
            future.set_exception(e)

    def __call__(self) -> T:
        with self._lock:
            if self._pending is None or self._pending.done():
                self._pending = Future()
                threading.Thread(target=self._run, args=(self._pending,), daemon=True,
                                 name="jaju-health-probe").start()
            pending = self._pending
        return pending.result(timeout=self.bound)


def build_backend(name: str, conf: Any, types: dict[str, BackendType],
                  disabled: Collection[str] = ()) -> Backend:
    """The backend `[backends.NAME]` describes, its settings checked against its type's model
    (an unknown type's error names the `disabled` plugins)."""
    kind = types.get(conf.type)
    if kind is None:
        raise ConfigError(f"backends.{name}.type: 알 수 없는 백엔드 종류 / unknown backend type "
                          f"{conf.type!r} (registered: {', '.join(sorted(types))})"
                          + disabled_hint(conf.type, disabled))
    if kind.settings_model is not None and not isinstance(conf, kind.settings_model):
        try:
            conf = kind.settings_model.model_validate(conf.model_dump())
        except ValidationError as e:
            raise ConfigError("설정이 올바르지 않습니다 / invalid configuration:\n" + "\n".join(
                f"  backends.{name}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in e.errors())) from e
    backend: Backend = kind.factory(name, conf)
    return backend


def build_limiter(settings: Settings, store: Store) -> Limiter:
    """`[limits] redis_url` → limits shared through Redis; otherwise in this process."""
    conf = settings.limits
    if not conf.redis_url:
        return RateLimiter()

    def outage(phase: str, detail: dict[str, Any]) -> None:
        store.audit(AuditEvent("system", "limits.redis", "unavailable" if phase == "begin"
                               else "recovered", None, detail))

    return RedisLimiter(conf.redis_url, fail=conf.fail, on_outage=outage)


class LazyIndex:
    """The knowledge index, opened on first use (loading Kiwi takes a second or two)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index: KnowledgeIndex | None = None

    def __call__(self) -> KnowledgeIndex:
        if self.index is None:
            self.index = KnowledgeIndex(knowledge_location(self.settings))
        return self.index

    def close(self) -> None:
        if self.index is not None:
            self.index.close()


def disabled_plugins(settings: Settings) -> set[str]:
    """The plugins switched off in the store, as `jaju serve` reads them — read only: nothing
    is created or migrated (a config check must not change a production database); none when
    there is no store or no plugins table yet."""
    query = "SELECT name FROM plugins WHERE enabled=0"
    path = sqlite_path(settings.store_url)
    if path is not None:
        import sqlite3

        if not path.is_file():
            return set()
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro",
                                                uri=True, timeout=3)) as db:
            try:
                return {row[0] for row in db.execute(query)}
            except sqlite3.OperationalError:  # no plugins table: an older or empty store
                return set()
    import psycopg

    from jaju.store.postgres import hide_password, scrub

    url = settings.store_url
    try:
        with psycopg.connect(url, connect_timeout=3, autocommit=True) as pg:
            try:
                return {row[0] for row in pg.execute(query)}
            except psycopg.errors.UndefinedTable:
                return set()
    except psycopg.Error as e:
        raise ConfigError(f"저장소를 읽을 수 없습니다 / cannot read the store {hide_password(url)}: "
                          f"{scrub(str(e).strip(), url)}") from None


def check_config(settings: Settings, *, load_plugins: bool = True,
                 disabled: Collection[str] = ()) -> list[str]:
    """Validate `settings` as `jaju serve` would, with the installed plugins but the `disabled`
    ones (`disabled_plugins`), without starting anything. Raises ConfigError; returns what was
    checked."""
    pm = get_plugin_manager(load_entrypoints=load_plugins, blocked=frozenset(disabled))
    types = backend_types(pm)
    backends = {name: build_backend(name, conf, types, disabled)
                for name, conf in settings.backends.items()}
    GuardSet(guard_types(pm), settings, disabled)
    for name, spec in settings.assistants.items():
        if spec.tools and not backends[spec.backend].capabilities.tools:
            raise ConfigError(f"assistants.{name}.tools: 백엔드 '{spec.backend}'은(는) 도구를 "
                              f"호출할 수 없습니다 / backend {spec.backend!r} cannot call tools")
    return [*(f"backends.{n}" for n in backends), *(f"assistants.{n}" for n in settings.assistants),
            *(f"mcp_servers.{n}" for n in settings.mcp_servers),
            *(f"openapi.{n}" for n in settings.openapi)]


def _with_pack_assistants(settings: Settings, store: Store, registered: dict[str, Any],
                          backends: dict[str, Backend]
                          ) -> tuple[Settings, dict[str, list[str]]]:
    """`settings` with the installed packs' assistants added as if jaju.toml defined them, on
    `[packs] backend` (default: extractive; without tools when it cannot call them), and the
    tools each added assistant goes without for that reason. An assistant or backend of the
    same name in jaju.toml wins over a pack's assistant."""
    added: dict[str, Any] = {}
    idle: dict[str, list[str]] = {}
    for record in store.installed_packs():
        pack = registered.get(record["name"])
        if pack is None:
            log.warning("pack %s is installed but no plugin registers it", record["name"])
            continue
        backend = settings.packs.backend or "extractive"
        if backend not in backends:
            log.warning("pack %s: no backend %r to serve its assistants", pack.name, backend)
            continue
        can_call = backends[backend].capabilities.tools
        for name, spec in pack.assistant_settings(backend).items():
            if name in settings.assistants or name in backends or name in added:
                continue
            if spec.tools and not can_call:
                idle[name] = spec.tools
                spec = spec.model_copy(update={"tools": []})
            added[name] = spec
    if not added:
        return settings, idle
    return settings.model_copy(update={"assistants": {**added, **settings.assistants}}), idle


@dataclass
class AppState:
    settings: Settings
    store: Store
    backends: dict[str, Backend]
    models: dict[str, Assistant]
    hub: ToolHub
    gateway: Gateway
    limiter: Limiter
    open_knowledge: LazyIndex
    failed: dict[str, str] = field(default_factory=dict)
    """Backends that could not start, with the reason; their models answer 503."""
    keys_required: bool = False
    auth_throttle: AuthThrottle = field(default_factory=AuthThrottle)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    """Failed authentications per source address (api/auth.py)."""
    _probes: dict[str, Probe[Any]] = field(default_factory=dict)
    """/health's bounded reads of the store and the knowledge index."""

    def probe(self, name: str, read: Callable[[], T]) -> T:
        """`read()` for /health, within HEALTH_WAIT seconds (else TimeoutError)."""
        result: T = self._probes.setdefault(name, Probe(read))()  # one per name, race or not
        return result

    @classmethod
    def build(cls, settings: Settings, *, load_plugins: bool = True) -> AppState:
        store = open_store(settings.store_url, settings.store.commit_timeout)
        disabled = store.disabled_plugins()
        pm = get_plugin_manager(load_entrypoints=load_plugins, blocked=disabled)
        types = backend_types(pm)
        backends = {name: build_backend(name, conf, types, disabled)
                    for name, conf in settings.backends.items()}
        if settings.packs.backend is None and "extractive" not in backends \
                and store.installed_packs():
            # packs answer on the extractive backend by default; it needs no configuration,
            # so a jaju.toml that names only other backends does not lose their assistants
            backends["extractive"] = build_backend(
                "extractive", ExtractiveBackend(type="extractive"), types)
        settings, idle = _with_pack_assistants(settings, store, packs(pm), backends)
        models = {name: Assistant(name=name, backend=backend)
                  for name, backend in backends.items()}
        guards = GuardSet(guard_types(pm), settings, disabled)
        knowledge = LazyIndex(settings)
        services = ToolServices(settings.model_copy(deep=True), knowledge)
        hub = ToolHub(settings, pm, services, store)
        failed: dict[str, str] = {}
        limiter = build_limiter(settings, store)
        gateway = Gateway(settings=settings, store=store, limiter=limiter, models=models,
                          failed=failed, guards=guards, tools=hub.registry, knowledge=knowledge)
        state = cls(settings=settings, store=store, backends=backends, models=models, hub=hub,
                    gateway=gateway, limiter=limiter, failed=failed,
                    keys_required=store.has_keys(), open_knowledge=knowledge)
        for name, spec in settings.assistants.items():
            backend = backends[spec.backend]
            if spec.tools and not backend.capabilities.tools:
                raise ConfigError(f"assistant {name!r} has tools, but backend {spec.backend!r} "
                                  "cannot call tools")
            models[name] = Assistant.from_settings(
                name, spec, backend, state.knowledge if spec.knowledge else None,
                settings.limits.max_query_chars, idle.get(name))
        return state

    @property
    def knowledge(self) -> KnowledgeIndex:
        """The knowledge index, opened on first use (loading Kiwi takes a second or two)."""
        return self.open_knowledge()

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
        self._tasks.append(asyncio.create_task(self._refresh_switches()))
        for warning in await asyncio.to_thread(self.warnings):
            log.warning("%s", warning)

    def warnings(self) -> list[str]:
        """What an operator should fix: an assistant's knowledge base that no tenant has, a
        llama.cpp backend without a chat template, a backend that failed to start."""
        found = [f"backend '{name}' failed to start: {reason}"
                 for name, reason in self.failed.items()]
        for name, backend in self.backends.items():
            warning = getattr(backend, "template_warning", None)
            if warning:
                found.append(f"backend '{name}': {warning}")
        wanted = {(a.name, kb) for a in self.models.values() for kb in a.knowledge}
        if wanted:
            try:
                bases = self.probe("knowledge", lambda: self.knowledge.bases())
            except TimeoutError:
                return [*found, f"the knowledge index did not answer within {HEALTH_WAIT:g} s "
                                "(the assistants' knowledge bases are not checked)"]
            except Exception as e:  # a store outage: a warning, not a failed /health
                return [*found, f"the knowledge index cannot be read ({type(e).__name__})"]
            existing = {kb.name for kb in bases}
            found += [f"assistant '{assistant}': knowledge base '{kb}' does not exist "
                      f"(jaju ingest FILES --kb {kb})"
                      for assistant, kb in sorted(wanted) if kb not in existing]
        return found

    async def _refresh_switches(self) -> None:
        """Plugin switches made by another process (`jaju plugins disable`, another
        replica) reach this one within two seconds, read off the event loop."""
        while True:
            await asyncio.sleep(2.0)
            try:
                await asyncio.to_thread(self.store.disabled_plugins)
            except Exception as e:  # the store is down: keep the switches we know
                log.warning("could not read plugin switches: %s", e)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.hub.aclose()
        await self.limiter.aclose()
        for backend in self.backends.values():
            await backend.aclose()
        self.store.close()
        self.open_knowledge.close()

    def model(self, name: str) -> Assistant:
        return self.gateway.model(name)
