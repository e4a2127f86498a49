"""The guard contract: what a guard is, and the chain that runs a request's guards in order.

A guard inspects or rewrites what crosses a boundary of one request. It is a `Guard` subclass
with any of these steps (each passes its input through unless overridden):

    inbound(request)              the client's request, before anything else sees it
    upstream(request)             the final request to the backend (system prompt, evidence,
                                  tool definitions and results included), every round
    evidence(passages)            passages retrieved from knowledge bases
    outbound(result)              the whole answer, before the client sees it
    stream()                      a `TextStream` for a streamed answer (text in, text out)
    tool_arguments(tool, args)    arguments on their way to a tool
    tool_result(tool, result)     a tool's result on its way back to the model

Steps may be plain functions (run in a worker thread, off the event loop) or coroutines.
One instance serves one request, so a guard may keep state between its steps (the PII guard's
placeholders). A step refuses by raising `jaju.errors.Blocked` (400); any other exception
refuses too (fail closed), as a 500 `guard_failed` that names the guard: the request, or
for `tool_arguments` and `tool_result` only that tool call.

Guards are registered by plugins (`register_guards`), the built-in ones included, and chosen,
ordered and configured in jaju.toml under `[guards]`, `[tenants.NAME.guards]` and
`[assistants.NAME.guards]`. Inbound-side steps run in the configured order; outbound steps in
the reverse order (the first guard in is the last out, like middleware).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ValidationError

from jaju.caller import Caller
from jaju.config import GuardSettings, Settings
from jaju.errors import ConfigError, InternalError, JajuError
from jaju.plugins import disabled_hint
from jaju.protocol import ChatRequest

log = logging.getLogger("jaju")

STEPS = ("inbound", "upstream", "evidence", "outbound", "stream", "tool_arguments",
         "tool_result")


class Passage(Protocol):
    """A retrieved passage (`jaju.knowledge.Hit`): its text and where it came from."""

    text: str
    source: dict[str, Any]


class ToolInfo(Protocol):
    """What a guard learns of a tool (`jaju.tools.Tool`): its name and permissions (whose
    `pii` flag says whether it may see real personal data)."""

    name: str
    permissions: Any


@dataclass(frozen=True)
class GuardContext:
    """One request as guards see it: who asks, which model, and where decisions are recorded."""

    caller: Caller
    model: str
    audit: Callable[[str, str, str | None, dict[str, Any]], None]
    """audit(action, outcome, target, detail) appends to the audit log as this caller."""

    def record(self, guard: str, outcome: str, detail: dict[str, Any]) -> None:
        """Audit a guard's decision (types and counts, never the values it found)."""
        self.audit(f"guard.{guard}", outcome, self.model, detail)


class TextStream:
    """A guard's step over a streamed answer. `feed` gets each piece of text and returns what
    may be shown now (hold back what you still need to see); `flush` returns the rest at the
    end; `close` runs once when the stream ends, however it ends (for auditing)."""

    def feed(self, text: str) -> str:
        return text

    def flush(self) -> str:
        return ""

    def arguments(self, text: str) -> str:
        """A piece of a streamed tool call's arguments (gateway mode)."""
        return text

    def close(self) -> None:
        return None


class Guard:
    """Base class of guards. Set `name`, optionally `settings_model` (the pydantic model of
    the guard's `[guards.NAME]` section), and override the steps you need."""

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[BaseModel] | None] = None
    default: ClassVar[bool] = False
    """Runs when no `order` is configured even if its section is absent (built-in guards)."""

    def __init__(self, settings: Any, turn: GuardContext) -> None:
        self.settings, self.turn = settings, turn

    @property
    def active(self) -> bool:
        """False when this guard has nothing to do for this request (it is then skipped)."""
        return True

    @classmethod
    def merge(cls, levels: list[Any]) -> Any:
        """Settings from global, tenant and assistant levels (None where a level sets none),
        most general first. Default: the most specific one wins."""
        return next((s for s in reversed(levels) if s is not None), None)

    @classmethod
    def check(cls, text: str) -> Any:
        """A report on `text` for `POST /v1/guard/check` and `jaju guard check`; None when the
        guard offers none."""
        return None

    def inbound(self, request: ChatRequest) -> ChatRequest:
        return request

    def upstream(self, request: ChatRequest) -> ChatRequest:
        return request

    def evidence(self, passages: list[Any]) -> list[Any]:
        return passages

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        return result

    def stream(self) -> TextStream | None:
        return None

    def tool_arguments(self, tool: ToolInfo, arguments: dict[str, Any]) -> dict[str, Any]:
        return arguments

    def tool_result(self, tool: ToolInfo, result: Any) -> Any:
        return result


def overrides(guard: Guard, step: str) -> bool:
    return getattr(type(guard), step) is not getattr(Guard, step)


@contextmanager
def _failing_closed(guard: Guard, step: str) -> Iterator[None]:
    """A guard's step that raises anything but a JajuError refuses (500 guard_failed, naming
    the guard and the exception's type; the message and traceback go to the log). A tool
    step's failure refuses that tool call only; any other step's, the request."""
    try:
        yield
    except JajuError:
        raise
    except Exception as e:
        raise _refusal(guard, step, e) from e


def _refusal(guard: Guard, step: str, error: Exception) -> InternalError:
    log.error("guard %s failed in %s", guard.name, step, exc_info=error)
    if step.startswith("tool_"):
        refused = "도구 호출을 거부했습니다 / guard '{}' failed, so the tool call was refused"
    else:
        refused = "요청을 거부했습니다 / guard '{}' failed, so the request was refused"
    return InternalError(f"보호 장치 '{guard.name}'이(가) 실패해 " + refused.format(guard.name)
                         + f": {type(error).__name__}", code="guard_failed")


async def _run(guard: Guard, step: str, *args: Any) -> Any:
    fn = getattr(guard, step)
    with _failing_closed(guard, step):
        if inspect.iscoroutinefunction(fn):
            return await fn(*args)
        return await asyncio.to_thread(fn, *args)


class GuardChain:
    """The active guards of one request, in order. Each step runs only the guards that
    implement it, so a request with nothing to guard costs nothing."""

    def __init__(self, guards: list[Guard]) -> None:
        self.guards = [g for g in guards if g.active]

    def __bool__(self) -> bool:
        return bool(self.guards)

    def uses(self, step: str) -> bool:
        """Whether any guard of this request has `step` (so callers can skip a layer)."""
        return any(overrides(g, step) for g in self.guards)

    def _with(self, step: str, reverse: bool = False) -> list[Guard]:
        found = [g for g in self.guards if overrides(g, step)]
        return found[::-1] if reverse else found

    async def _through(self, step: str, value: Any, *, reverse: bool = False) -> Any:
        for guard in self._with(step, reverse):
            value = await _run(guard, step, value)
        return value

    async def inbound(self, request: ChatRequest) -> ChatRequest:
        result: ChatRequest = await self._through("inbound", request)
        return result

    async def upstream(self, request: ChatRequest) -> ChatRequest:
        result: ChatRequest = await self._through("upstream", request)
        return result

    async def evidence(self, passages: list[Any]) -> list[Any]:
        result: list[Any] = await self._through("evidence", passages)
        return result

    async def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await self._through("outbound", result, reverse=True)
        return answer

    async def tool_arguments(self, tool: ToolInfo, arguments: dict[str, Any]) -> dict[str, Any]:
        for guard in self._with("tool_arguments"):
            arguments = await _run(guard, "tool_arguments", tool, arguments)
        return arguments

    async def tool_result(self, tool: ToolInfo, result: Any) -> Any:
        for guard in self._with("tool_result"):
            result = await _run(guard, "tool_result", tool, result)
        return result

    async def outbound_stream(self, chunks: AsyncGenerator[dict[str, Any], None]
                              ) -> AsyncGenerator[dict[str, Any], None]:
        """The streamed answer through every guard's `TextStream` (reverse order): the text
        of each chunk's delta, what is held back flushed at the end."""
        steps: list[tuple[Guard, TextStream]] = []
        meta: dict[str, Any] = {"object": "chat.completion.chunk"}
        said_role = False
        try:
            for guard in self._with("stream", reverse=True):
                with _failing_closed(guard, "stream"):
                    if (step := guard.stream()) is not None:
                        steps.append((guard, step))
            async for data in chunks:
                meta.update((k, data[k]) for k in ("id", "object", "created", "model")
                            if k in data)
                held = 0  # choices whose text is all held back, with nothing else to say
                for choice in data.get("choices") or ():
                    if not isinstance(choice.get("delta"), dict):
                        choice["delta"] = {}
                    delta = choice["delta"]
                    if isinstance(delta.get("content"), str):
                        text = delta["content"]
                        delta["content"] = _feed(steps, text)
                        held += bool(text) and not delta["content"] and _says_nothing(
                            choice, said_role)
                    if choice.get("finish_reason"):
                        rest = _flush(steps)
                        if rest:
                            delta["content"] = (delta.get("content") or "") + rest
                    for call in delta.get("tool_calls") or ():
                        fn = call.get("function") or {}
                        if isinstance(fn.get("arguments"), str):
                            for guard, step in steps:
                                with _failing_closed(guard, "stream"):
                                    fn["arguments"] = step.arguments(fn["arguments"])
                if held and held == len(data["choices"]) and not any(
                        v for k, v in data.items() if k not in CHUNK_KEYS):
                    continue  # a chunk that would say nothing (its text comes later)
                said_role = said_role or any((c.get("delta") or {}).get("role")
                                             for c in data.get("choices") or ())
                yield data
            rest = _flush(steps)
            if rest:  # the upstream ended without a finish_reason: what was held, now
                yield {**meta, "choices": [
                    {"index": 0, "delta": {"content": rest}, "finish_reason": None}]}
        finally:
            await chunks.aclose()
            for _, step in steps:
                step.close()


CHUNK_KEYS = {"id", "object", "created", "model", "choices", "system_fingerprint",
              "service_tier"}
"""A chunk's fields that say nothing of their own (unlike usage or citations)."""


def _says_nothing(choice: dict[str, Any], said_role: bool) -> bool:
    """Whether a choice whose text is held back carries nothing else: no finish, logprobs or
    tool call, and no role but one already sent (some upstreams repeat it in every chunk)."""
    if any(v for k, v in choice.items() if k not in ("index", "delta")):
        return False
    return not any(v for k, v in choice["delta"].items()
                   if k != "content" and not (k == "role" and said_role))


def _feed(steps: list[tuple[Guard, TextStream]], text: str) -> str:
    """Every chunk's text through the steps: one `try` for them all (this runs per chunk)."""
    current: Guard | None = None
    try:
        for current, step in steps:  # noqa: B007 (`current` names the guard that failed)
            text = step.feed(text) if text else text
    except JajuError:
        raise
    except Exception as e:
        assert current is not None
        raise _refusal(current, "stream", e) from e
    return text


def _flush(steps: list[tuple[Guard, TextStream]]) -> str:
    """Flush the steps in order; what one releases still passes the steps after it."""
    text = ""
    for guard, step in steps:
        with _failing_closed(guard, "stream"):
            text = (step.feed(text) if text else "") + step.flush()
    return text


PLANS_HELD = 4096
"""Most (tenant, model) guard plans held; past it the cache starts empty again."""


class GuardSet:
    """The guards one jaju has (registered by plugins) and the settings that choose them. Built
    once per app; `chain` makes the guards of one request."""

    def __init__(self, types: dict[str, type[Guard]], settings: Settings,
                 disabled: Collection[str] = ()) -> None:
        self.types, self.settings = types, settings
        self.disabled = disabled
        """Switched-off plugins, named when a guard is unknown."""
        self._check_settings()
        self._plans: dict[tuple[str, str], list[tuple[type[Guard], Any]]] = {}

    def _levels(self) -> list[tuple[str, GuardSettings]]:
        s = self.settings
        return [("guards", s.guards),
                *((f"tenants.{n}.guards", t.guards) for n, t in s.tenants.items()),
                *((f"assistants.{n}.guards", a.guards) for n, a in s.assistants.items())]

    def _check_settings(self) -> None:
        """Every plugin guard's section validates against its model; every name exists."""
        known = ", ".join(sorted(self.types))
        for path, level in self._levels():
            for name in level.order or ():
                if name not in self.types:
                    raise ConfigError(f"{path}.order: 등록된 보호 장치가 아닙니다 / no guard named "
                                      f"{name!r} is registered (registered: {known})"
                                      + disabled_hint(name, self.disabled))
            for name, value in list((level.model_extra or {}).items()):
                guard = self.types.get(name)
                if guard is None:
                    raise ConfigError(f"{path}.{name}: 등록된 보호 장치가 아닙니다 / no guard "
                                      f"named {name!r} is registered (registered: {known})"
                                      + disabled_hint(name, self.disabled))
                if guard.settings_model is not None and not isinstance(value, BaseModel):
                    try:
                        level.model_extra[name] = guard.settings_model.model_validate(  # type: ignore[index]
                            value)
                    except ValidationError as e:
                        raise ConfigError("설정이 올바르지 않습니다 / invalid configuration:\n" +
                                          "\n".join(f"  {path}.{name}."
                                                    f"{'.'.join(str(p) for p in err['loc'])}: "
                                                    f"{err['msg']}" for err in e.errors())) from e

    def _value(self, level: GuardSettings, name: str) -> Any:
        if name in type(level).model_fields:
            return getattr(level, name)
        return (level.model_extra or {}).get(name)

    def order(self, levels: list[GuardSettings]) -> list[str]:
        """The guards that run, in order: the most specific `order`, or the default guards
        followed by every plugin guard that has settings at some level."""
        for level in reversed(levels):
            if level.order is not None:
                return list(level.order)
        names = [n for n, g in self.types.items() if g.default]
        names += [n for n in self.types if n not in names
                  and any(self._value(level, n) is not None for level in levels)]
        return names

    def plan(self, tenant: str, model: str) -> list[tuple[type[Guard], Any]]:
        """The guards that run for `tenant` calling `model`, in order, each with its merged
        settings. Settings do not change while jaju runs, so each pair's plan is made once
        (ordering and merging was a twentieth of a chat request's time)."""
        plan = self._plans.get((tenant, model))
        if plan is None:
            levels = self.settings.guard_levels(tenant, model)
            plan = [(self.types[name], self.types[name].merge(
                        [self._value(level, name) for level in levels]))
                    for name in self.order(levels)]
            if len(self._plans) >= PLANS_HELD:
                self._plans.clear()
            self._plans[(tenant, model)] = plan
        return plan

    def chain(self, caller: Caller, model: str,
              audit: Callable[[str, str, str | None, dict[str, Any]], None]) -> GuardChain:
        """The guards of one request by `caller` to `model`, each with its merged settings."""
        context = GuardContext(caller, model, audit)
        return GuardChain([kind(settings, context)
                           for kind, settings in self.plan(caller.tenant, model)])

    def check(self, text: str) -> dict[str, Any]:
        """Every guard's report on `text` (`POST /v1/guard/check`)."""
        found = {}
        for name, kind in self.types.items():
            result = kind.check(text)
            if result is not None:
                found[name] = result
        return found
