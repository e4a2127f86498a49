"""The tool loop: offer the caller's permitted tools to the backend, run the calls the model
makes (each through the registry, so policy, confirmation, PII guard and audit apply), feed the
results back, and repeat up to a limit; then answer. Streaming passes the model's text through
as it comes. The response reports every call made in `tool_runs`
(`[{"name", "arguments", "status", "duration_ms", "result"?, "error"?}]`; the result is the one
the model saw, after the guards).

Tool results are data, not instructions: they pass the request's guards (`tool_result`), so a
result that reads like a prompt injection is stripped or dropped like retrieved evidence, and
whatever it says, it cannot enable a tool.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from jaju.backends.base import Backend
from jaju.caller import Caller
from jaju.errors import ToolError
from jaju.guards.base import GuardChain
from jaju.protocol import ChatRequest, Message, ToolDef, chunk, new_id, usage_dict
from jaju.tools.model import ToolContext
from jaju.tools.policy import ToolPolicy
from jaju.tools.registry import ToolRegistry


@dataclass(frozen=True)
class ToolUse:
    """The tools of one request, and the rules they run under."""

    registry: ToolRegistry
    policy: ToolPolicy
    confirmed: frozenset[str] = frozenset()
    """Write tools the request confirms (`confirm_tools`)."""


@dataclass
class ToolLoop:
    backend: Backend
    use: ToolUse
    caller: Caller
    guards: GuardChain
    max_rounds: int = 4
    first_choice: str = "auto"
    runs: list[dict[str, Any]] = field(default_factory=list)
    wire: dict[str, str] = field(default_factory=dict)
    """Names as the model sees them (OpenAI allows no dots) -> registry names."""
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def offer(self) -> list[ToolDef]:
        defs = []
        caller = ToolContext(self.caller.tenant, self.caller.actor)
        for tool in self.use.registry.visible(self.use.policy):
            if tool.unavailable:
                continue
            wire = re.sub(r"[^A-Za-z0-9_-]", "_", tool.name)[:64]
            while wire in self.wire:
                wire = wire[:60] + f"_{len(self.wire)}"
            self.wire[wire] = tool.name
            defs.append(ToolDef.model_validate({"type": "function", "function": {
                "name": wire, "description": tool.description,
                "parameters": tool.parameters_for(caller)}}))
        return defs

    def _round(self, request: ChatRequest, messages: list[Message], tools: list[ToolDef],
               n: int, stream: bool) -> ChatRequest:
        if not tools or n >= self.max_rounds:
            return request.model_copy(update={"messages": messages, "tools": None,
                                              "tool_choice": None, "stream": stream})
        choice = "required" if n == 0 and self.first_choice == "required" else "auto"
        return request.model_copy(update={"messages": messages, "tools": tools,
                                          "tool_choice": choice, "stream": stream})

    def _count(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)

    async def _run(self, call: dict[str, Any]) -> Message:
        function = call.get("function") or {}
        wire_name = str(function.get("name") or "")
        name = self.wire.get(wire_name, wire_name)
        raw = function.get("arguments") or "{}"
        started = time.perf_counter()
        report: dict[str, Any] = {"name": name, "arguments": _loads(raw)}
        try:
            result = await self.use.registry.call(
                name, raw, caller=self.caller, policy=self.use.policy,
                confirmed=name in self.use.confirmed, guards=self.guards)
            content = json.dumps(result, ensure_ascii=False)
            report["status"], report["result"] = "ok", result
        except ToolError as e:
            content = json.dumps(e.to_dict(), ensure_ascii=False)
            report["status"], report["error"] = e.code, e.message
        report["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        self.runs.append(report)
        return Message(role="tool", tool_call_id=str(call.get("id") or new_id("call")),
                       name=wire_name, content=content)

    async def _after(self, messages: list[Message], content: str | None,
                     calls: list[dict[str, Any]]) -> None:
        messages.append(Message.model_validate(
            {"role": "assistant", "content": content or None, "tool_calls": calls}))
        for call in calls:
            messages.append(await self._run(call))

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        tools = self.offer()
        messages = list(request.messages)
        n = 0
        while True:
            result = await self.backend.complete(self._round(request, messages, tools, n, False))
            self._count(result.get("usage"))
            message = (result.get("choices") or [{}])[0].get("message") or {}
            calls = message.get("tool_calls") or []
            if not calls or n >= self.max_rounds:
                break
            await self._after(messages, message.get("content"), calls)
            n += 1
        result["usage"] = usage_dict(self.prompt_tokens, self.completion_tokens)
        result["tool_runs"] = self.runs
        return result

    async def stream(self, request: ChatRequest) -> AsyncGenerator[dict[str, Any], None]:
        tools = self.offer()
        messages = list(request.messages)
        cid = new_id()
        yield chunk(request.model, cid, {"role": "assistant", "content": ""})
        n = 0
        finish = "stop"
        while True:
            calls: dict[int, dict[str, Any]] = {}
            parts: list[str] = []
            inner = self.backend.stream(self._round(request, messages, tools, n, True))
            try:
                async for data in inner:
                    self._count(data.get("usage"))
                    for choice in data.get("choices") or ():
                        delta = choice.get("delta") or {}
                        if delta.get("content"):
                            parts.append(delta["content"])
                            yield chunk(request.model, cid, {"content": delta["content"]})
                        for piece in delta.get("tool_calls") or ():
                            _merge(calls, piece)
                        if choice.get("finish_reason"):
                            finish = choice["finish_reason"]
            finally:
                await inner.aclose()
            if not calls or n >= self.max_rounds:
                break
            await self._after(messages, "".join(parts), [calls[i] for i in sorted(calls)])
            progress = chunk(request.model, cid, {})
            progress["tool_runs"] = self.runs[-len(calls):]
            yield progress
            n += 1
        last = chunk(request.model, cid, {}, "stop" if finish == "tool_calls" else finish)
        last["tool_runs"] = self.runs
        last["usage"] = usage_dict(self.prompt_tokens, self.completion_tokens)
        yield last


def _merge(calls: dict[int, dict[str, Any]], piece: dict[str, Any]) -> None:
    """Assemble streamed tool-call deltas (OpenAI sends the arguments in fragments)."""
    slot = calls.setdefault(int(piece.get("index") or 0),
                            {"id": "", "type": "function", "function": {"name": "", "arguments": ""}})
    if piece.get("id"):
        slot["id"] = piece["id"]
    function = piece.get("function") or {}
    if function.get("name"):
        slot["function"]["name"] += function["name"]
    if function.get("arguments"):
        slot["function"]["arguments"] += function["arguments"]


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
