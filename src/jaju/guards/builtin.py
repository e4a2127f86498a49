"""Default plugin: the built-in guards, registered through `register_guards` like any plugin's.

    pii        personal data: allow, mask, pseudonymise or block per type (`[guards.pii]`)
    content    content safety: flag or block (`[guards.content]`; off unless set)
    injection  instructions hidden in evidence and tool results: flag, strip or quarantine
               (`[guards] injection = "strip"`, the default)

Decisions that change or block something are audited (types and counts, never values).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

from jaju.errors import Blocked, PiiBlocked
from jaju.guards.actions import PiiPolicy, StreamFilter, Vault, apply, apply_joined
from jaju.guards.base import Guard, GuardContext, TextStream, ToolInfo
from jaju.hookspecs import hookimpl
from jaju.protocol import ChatRequest


def _strings(value: Any, fn: Callable[[str], str]) -> Any:
    """`value` with `fn` applied to every string in it (JSON-like structures)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strings(v, fn) for v in value]
    return value


# --- pii ----------------------------------------------------------------------------------------

_STRUCTURAL = frozenset({"model", "role", "type", "id", "tool_call_id", "stream", "n"})
"""Request fields that are identifiers or switches, not text."""


def _message_texts(data: dict[str, Any]) -> list[tuple[Any, Any]]:
    """(container, key) of every message text of a request body, in order."""
    slots: list[tuple[Any, Any]] = []
    for message in data.get("messages") or ():
        content = message.get("content")
        if isinstance(content, str):
            slots.append((message, "content"))
        elif isinstance(content, list):
            slots += [(part, "text") for part in content
                      if isinstance(part, dict) and isinstance(part.get("text"), str)]
    return slots


def _fields(value: Any, fn: Callable[[str], str]) -> Any:
    """Like `_strings`, but leaving structural fields and every dict key alone."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: v if k in _STRUCTURAL else _fields(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_fields(v, fn) for v in value]
    return value



class PiiGuard(Guard):
    """Korean personal data. Pseudonymised values become placeholders (`<주민등록번호_1>`)
    that neither the model nor an untrusted tool ever sees behind; the answer and the tools
    with the `pii` permission get the real values back."""

    name = "pii"
    default = True

    def __init__(self, settings: dict[str, str] | None, turn: GuardContext) -> None:
        super().__init__(settings, turn)
        self.policy = PiiPolicy.from_mapping(settings or {})
        self.vault = Vault()

    @property
    def active(self) -> bool:
        return self.policy.active

    @classmethod
    def merge(cls, levels: list[Any]) -> dict[str, str]:
        """Per type: global, then the tenant's, then the assistant's; the most specific wins."""
        merged: dict[str, str] = {}
        for level in levels:
            merged.update(level or {})
        return merged

    @classmethod
    def check(cls, text: str) -> list[dict[str, Any]]:
        from jaju.guards.pii import detect

        return [f.to_dict() for f in detect(text)]

    def _audit(self, direction: str, decisions: Counter[str], outcome: str = "changed",
               **extra: Any) -> None:
        if decisions:
            self.turn.record("pii", outcome, {"direction": direction,
                                              "decisions": dict(decisions), **extra})

    def _text(self, text: str, decisions: Counter[str], outbound: bool = False) -> str:
        applied = apply(text, self.policy, self.vault, outbound=outbound)
        decisions.update(applied.decisions)
        return applied.text

    def _blocked(self, e: PiiBlocked, decisions: Counter[str], direction: str) -> Blocked:
        from jaju.guards.pii import TYPE_NAMES

        decisions.update(f"block:{t}" for t in e.types)
        self._audit(direction, decisions, "blocked")
        names = ", ".join(f"{TYPE_NAMES[t]}({t})" for t in e.types)
        return Blocked(f"요청에 보호 정책상 보낼 수 없는 개인정보가 있습니다: {names} / the request "
                       f"contains personal data that policy blocks: {', '.join(e.types)}",
                       code="pii_blocked")

    def inbound(self, request: ChatRequest) -> ChatRequest:
        """The client's messages, their texts detected as one (a number split across content
        parts or messages is still found), and the arguments of their tool calls."""
        decisions: Counter[str] = Counter()
        data = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        try:
            slots = _message_texts(data)
            texts, found = apply_joined([c[k] for c, k in slots], self.policy, self.vault)
            decisions.update(found)
            for (container, key), text in zip(slots, texts, strict=True):
                container[key] = text
            for message in data.get("messages") or ():
                for call in message.get("tool_calls") or ():
                    function = call.get("function") or {}
                    if isinstance(function.get("arguments"), str):
                        function["arguments"] = self._text(function["arguments"], decisions)
        except PiiBlocked as e:
            raise self._blocked(e, decisions, "inbound") from e
        self._audit("inbound", decisions)
        return ChatRequest.model_validate(data) if decisions else request

    def upstream(self, request: ChatRequest) -> ChatRequest:
        """The final request to the backend, every field: message texts are detected as one
        text (a number split across content parts or messages is still found); retrieved
        evidence and tool results the user did not send are masked where policy says block;
        any other field (`user`, `name`, `stop`, tool definitions, `response_format`, unknown
        fields) is rewritten like the user's messages, and refused where policy says block."""
        data = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        decisions: Counter[str] = Counter()
        slots = _message_texts(data)
        try:
            texts, found = apply_joined([c[k] for c, k in slots], self.policy, self.vault,
                                        block_as_mask=True)
            decisions.update(found)
            for (container, key), text in zip(slots, texts, strict=True):
                container[key] = text
            for key, value in data.items():
                if key == "messages":
                    for message in value:
                        for field, inner in message.items():
                            if field not in ("content", *_STRUCTURAL):
                                message[field] = _fields(inner, lambda t: self._text(t, decisions))
                elif key not in _STRUCTURAL:
                    data[key] = _fields(value, lambda t: self._text(t, decisions))
        except PiiBlocked as e:
            raise self._blocked(e, decisions, "upstream") from e
        self._audit("upstream", decisions)
        if not decisions:
            return request
        return ChatRequest.model_validate(data)

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        decisions: Counter[str] = Counter()
        for choice in result.get("choices") or ():
            message = choice.get("message") or {}
            if isinstance(message.get("content"), str):
                message["content"] = self._text(self.vault.restore(message["content"]),
                                                decisions, outbound=True)
            for call in message.get("tool_calls") or ():
                fn = call.get("function") or {}
                if isinstance(fn.get("arguments"), str):
                    fn["arguments"] = self.vault.restore(fn["arguments"])
        self._audit("outbound", decisions)
        return result

    def stream(self) -> TextStream:
        return _PiiStream(self)

    def tool_arguments(self, tool: ToolInfo, arguments: dict[str, Any]) -> dict[str, Any]:
        """A tool with the `pii` permission gets the real values behind placeholders; any
        other gets the arguments under the policy."""
        if getattr(tool.permissions, "pii", False):
            restored: dict[str, Any] = _strings(arguments, self.vault.restore)
            return restored
        decisions: Counter[str] = Counter()
        try:
            checked: dict[str, Any] = _strings(
                arguments, lambda text: self._text(text, decisions))
        except PiiBlocked as e:
            raise self._blocked(e, decisions, "tool_arguments") from e
        self._audit("tool_arguments", decisions, tool=tool.name)
        return checked

    def tool_result(self, tool: ToolInfo, result: Any) -> Any:
        decisions: Counter[str] = Counter()
        try:
            checked = _strings(result, lambda text: self._text(text, decisions))
        except PiiBlocked as e:
            raise self._blocked(e, decisions, "tool_result") from e
        self._audit("tool_result", decisions, tool=tool.name)
        return checked


class _PiiStream(TextStream):
    def __init__(self, guard: PiiGuard) -> None:
        self.guard = guard
        self.filter = StreamFilter(guard.policy, guard.vault)

    def feed(self, text: str) -> str:
        return self.filter.feed(text)

    def flush(self) -> str:
        return self.filter.flush()

    def arguments(self, text: str) -> str:
        return self.guard.vault.restore(text)

    def close(self) -> None:
        self.guard._audit("outbound", self.filter.decisions)


# --- content safety -----------------------------------------------------------------------------


@cache
def _classifier() -> Any:
    """The content-safety lexicon and model, loaded once (read-only afterwards)."""
    from jaju.guards.content import ContentGuard

    return ContentGuard()


class ContentSafetyGuard(Guard):
    """Content safety on the last user message and on the answer. Streams cannot be taken
    back: a streamed answer is checked and audited when it ends."""

    name = "content"
    default = True
    REFUSAL = ("이 응답은 콘텐츠 안전 정책에 따라 표시되지 않습니다. / This answer was withheld by "
               "the content-safety policy.")

    @property
    def active(self) -> bool:
        return self.settings is not None and self.settings.action != "allow"

    @classmethod
    def check(cls, text: str) -> dict[str, Any]:
        result: dict[str, Any] = _classifier().check(text).to_dict()
        return result

    def flagged(self, text: str) -> list[str]:
        guard = _classifier()
        result = guard.check(text)
        return [c for c in self.settings.categories
                if result.categories.get(c, 0.0) > 0
                and result.categories[c] >= self.settings.thresholds.get(
                    c, guard.thresholds.get(c, 0.5))]

    def _audit(self, direction: str, categories: list[str], outcome: str) -> None:
        self.turn.record("content", outcome, {"direction": direction, "categories": categories})

    def inbound(self, request: ChatRequest) -> ChatRequest:
        text = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        categories = self.flagged(text) if text else []
        if categories and self.settings.action == "block":
            self._audit("inbound", categories, "blocked")
            raise Blocked(self.settings.message or
                          f"콘텐츠 안전 정책에 맞지 않는 요청입니다 ({', '.join(categories)}) / "
                          "the request violates the content policy", code="content_blocked")
        if categories:
            self._audit("inbound", categories, "flagged")
        return request

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        for choice in result.get("choices") or ():
            message = choice.get("message") or {}
            text = message.get("content")
            if not isinstance(text, str) or not text:
                continue
            categories = self.flagged(text)
            if categories and self.settings.action == "block":
                message["content"] = self.settings.message or self.REFUSAL
                choice["finish_reason"] = "content_filter"
                self._audit("outbound", categories, "blocked")
            elif categories:
                self._audit("outbound", categories, "flagged")
        return result

    def stream(self) -> TextStream:
        return _ContentStream(self)


class _ContentStream(TextStream):
    def __init__(self, guard: ContentSafetyGuard) -> None:
        self.guard = guard
        self.parts: list[str] = []

    def feed(self, text: str) -> str:
        self.parts.append(text)
        return text

    def close(self) -> None:
        text = "".join(self.parts)
        categories = self.guard.flagged(text) if text else []
        if categories:
            self.guard._audit("outbound", categories, "flagged")


# --- prompt injection ---------------------------------------------------------------------------


class InjectionGuard(Guard):
    """Retrieved passages and tool results are data, not instructions: what reads like an
    injection is flagged, stripped of its instructions, or dropped (quarantined), as set by
    `[guards] injection`. Whatever it says, it cannot enable a tool: the policy decides."""

    name = "injection"
    default = True

    @property
    def action(self) -> str:
        return str(self.settings or "strip")

    @classmethod
    def check(cls, text: str) -> dict[str, Any]:
        from jaju.guards.injection import check

        return check(text).to_dict()

    def evidence(self, passages: list[Any]) -> list[Any]:
        from jaju.guards import injection

        kept = []
        for passage in passages:
            result = injection.check(passage.text)
            if not result.flagged:
                kept.append(passage)
                continue
            passage.source["injection"] = result.categories
            self.turn.record("injection", self.action, {"direction": "evidence",
                                                        "categories": result.categories})
            if self.action == "quarantine":
                continue
            if self.action == "strip":
                passage.text = injection.strip(passage.text)
            kept.append(passage)
        return kept

    def tool_result(self, tool: ToolInfo, result: Any) -> Any:
        from jaju.guards import injection

        screened = injection.check(json.dumps(result, ensure_ascii=False))
        if not screened.flagged:
            return result
        self.turn.record("injection", self.action, {"direction": "tool_result", "tool": tool.name,
                                                    "categories": screened.categories})
        if self.action == "quarantine":
            return {"error": "quarantined",
                    "message": "the result was withheld: it carried instructions"}
        if self.action == "strip":
            return _strings(result, injection.strip)
        return result


@hookimpl
def register_guards(register: Callable[[type[Guard]], None]) -> None:
    register(PiiGuard)
    register(ContentSafetyGuard)
    register(InjectionGuard)
