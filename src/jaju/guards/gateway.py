"""Guards at the gateway: PII rules applied to a chat request on the way in and to the answer
on the way out (whole or streamed). Decisions that change or block something are audited
(types and counts, never values). A guard that fails refuses the request (fail closed)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

from jaju.api.protocol import ChatRequest
from jaju.errors import ApiError, InvalidRequest
from jaju.guards.actions import PiiBlocked, PiiPolicy, StreamFilter, Vault, apply
from jaju.guards.pii import TYPE_NAMES
from jaju.store.sqlite import AuditEvent, Store

log = logging.getLogger("jaju")


class GuardFailed(ApiError):
    status_code = 500
    error_type = "guard_error"
    code = "guard_failed"


def _refuse(e: Exception) -> GuardFailed:
    log.exception("PII guard failed")
    return GuardFailed(f"보호 정책을 적용하지 못해 요청을 거부했습니다 / a guard failed, so the "
                       f"request was refused: {type(e).__name__}")


class PiiGate:
    def __init__(self, policy: PiiPolicy, store: Store, actor: str, model: str) -> None:
        self.policy, self.store, self.actor, self.model = policy, store, actor, model
        self.vault = Vault()

    def _audit(self, direction: str, decisions: Counter[str], outcome: str = "changed") -> None:
        if decisions:
            self.store.audit(AuditEvent(self.actor, "guard.pii", outcome, self.model,
                                        {"direction": direction, "decisions": dict(decisions)}))

    def _text(self, text: str, decisions: Counter[str], outbound: bool = False) -> str:
        applied = apply(text, self.policy, self.vault, outbound=outbound)
        decisions.update(applied.decisions)
        return applied.text

    def inbound(self, request: ChatRequest) -> ChatRequest:
        decisions: Counter[str] = Counter()
        try:
            messages = []
            for m in request.messages:
                update: dict[str, Any] = {}
                if isinstance(m.content, str):
                    update["content"] = self._text(m.content, decisions)
                elif isinstance(m.content, list):
                    update["content"] = [
                        {**p, "text": self._text(str(p["text"]), decisions)}
                        if p.get("type") == "text" and "text" in p else p for p in m.content]
                if m.tool_calls:
                    update["tool_calls"] = [c.model_copy(update={"function": c.function.model_copy(
                        update={"arguments": self._text(c.function.arguments, decisions)})})
                        for c in m.tool_calls]
                messages.append(m.model_copy(update=update) if update else m)
        except PiiBlocked as e:
            decisions.update(f"block:{t}" for t in e.types)
            self._audit("inbound", decisions, "blocked")
            names = ", ".join(f"{TYPE_NAMES[t]}({t})" for t in e.types)
            raise InvalidRequest(f"요청에 보호 정책상 보낼 수 없는 개인정보가 있습니다: {names} / "
                                 f"the request contains personal data that policy blocks: "
                                 f"{', '.join(e.types)}", code="pii_blocked") from e
        except Exception as e:
            raise _refuse(e) from e
        self._audit("inbound", decisions)
        return request.model_copy(update={"messages": messages})

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        decisions: Counter[str] = Counter()
        try:
            for choice in result.get("choices") or ():
                message = choice.get("message") or {}
                if isinstance(message.get("content"), str):
                    message["content"] = self._text(self.vault.restore(message["content"]),
                                                    decisions, outbound=True)
                for call in message.get("tool_calls") or ():
                    fn = call.get("function") or {}
                    if isinstance(fn.get("arguments"), str):
                        fn["arguments"] = self.vault.restore(fn["arguments"])
        except Exception as e:
            raise _refuse(e) from e
        self._audit("outbound", decisions)
        return result

    async def outbound_stream(self, chunks: AsyncGenerator[dict[str, Any], None]
                              ) -> AsyncGenerator[dict[str, Any], None]:
        stream = StreamFilter(self.policy, self.vault)
        try:
            async for data in chunks:
                for choice in data.get("choices") or ():
                    if not isinstance(choice.get("delta"), dict):
                        choice["delta"] = {}
                    delta = choice["delta"]
                    if isinstance(delta.get("content"), str):
                        delta["content"] = stream.feed(delta["content"])
                    if choice.get("finish_reason"):
                        rest = stream.flush()
                        if rest:
                            delta["content"] = (delta.get("content") or "") + rest
                    for call in delta.get("tool_calls") or ():
                        fn = call.get("function") or {}
                        if isinstance(fn.get("arguments"), str):
                            fn["arguments"] = self.vault.restore(fn["arguments"])
                yield data
            rest = stream.flush()
            if rest:
                yield {"object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {"content": rest}, "finish_reason": None}]}
        finally:
            await chunks.aclose()
            self._audit("outbound", stream.decisions)


class ContentGate:
    """Content safety on the way in (the last user message) and out (the answer)."""

    REFUSAL = ("이 응답은 콘텐츠 안전 정책에 따라 표시되지 않습니다. / This answer was withheld by "
               "the content-safety policy.")

    def __init__(self, guard: Any, settings: Any, store: Store, actor: str, model: str) -> None:
        self.guard, self.settings = guard, settings
        self.store, self.actor, self.model = store, actor, model

    def _flagged(self, text: str) -> list[str]:
        result = self.guard.check(text)
        return [c for c in self.settings.categories
                if result.categories.get(c, 0.0) > 0
                and result.categories[c] >= self.settings.thresholds.get(
                    c, self.guard.thresholds.get(c, 0.5))]

    def _audit(self, direction: str, categories: list[str], outcome: str) -> None:
        self.store.audit(AuditEvent(self.actor, "guard.content", outcome, self.model,
                                    {"direction": direction, "categories": categories}))

    def inbound(self, request: ChatRequest) -> None:
        text = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        try:
            categories = self._flagged(text) if text else []
        except Exception as e:
            raise _refuse(e) from e
        if not categories:
            return
        if self.settings.action == "block":
            self._audit("inbound", categories, "blocked")
            raise InvalidRequest(f"콘텐츠 안전 정책에 맞지 않는 요청입니다 ({', '.join(categories)}) / "
                                 f"the request violates the content policy", code="content_blocked")
        self._audit("inbound", categories, "flagged")

    def outbound(self, result: dict[str, Any]) -> dict[str, Any]:
        for choice in result.get("choices") or ():
            message = choice.get("message") or {}
            text = message.get("content")
            if not isinstance(text, str) or not text:
                continue
            try:
                categories = self._flagged(text)
            except Exception as e:
                raise _refuse(e) from e
            if not categories:
                continue
            if self.settings.action == "block":
                message["content"] = self.REFUSAL
                choice["finish_reason"] = "content_filter"
                self._audit("outbound", categories, "blocked")
            else:
                self._audit("outbound", categories, "flagged")
        return result

    async def outbound_stream(self, chunks: AsyncGenerator[dict[str, Any], None]
                              ) -> AsyncGenerator[dict[str, Any], None]:
        """Streams cannot be taken back: the finished answer is checked and audited."""
        parts: list[str] = []
        try:
            async for data in chunks:
                for choice in data.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
                yield data
        finally:
            await chunks.aclose()
            text = "".join(parts)
            if text:
                categories = self._flagged(text)
                if categories:
                    self._audit("outbound", categories, "flagged")
