"""An `Assistant` composes a backend with a system prompt, default settings and knowledge.

With knowledge attached, the assistant retrieves evidence for the last user message from the
caller's knowledge bases (and shared ones) and either puts it, numbered, in front of a
generative model, asking for [n] citations, or — on the `extractive` backend — answers by
quoting the best sentences itself. Responses then carry a top-level `citations` list
(in streaming, on the chunk that carries `finish_reason`). A bare backend is an assistant
with nothing attached, so the gateway has one kind of model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from typing import Any

from jaju.api.protocol import (
    ChatRequest,
    Message,
    chunk,
    completion,
    estimate_tokens,
    new_id,
    usage_dict,
)
from jaju.assistants.toolloop import ToolLoop, ToolUse
from jaju.backends.base import Backend
from jaju.errors import NotFound
from jaju.guards import injection
from jaju.knowledge.answer import cited, evidence_prompt, extractive_answer
from jaju.knowledge.index import Hit, KnowledgeIndex


@dataclass
class Assistant:
    name: str
    backend: Backend
    description: str = ""
    system_prompt: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Request fields applied when the client leaves them out (temperature, top_p, max_tokens)."""
    knowledge: list[str] = field(default_factory=list)
    index: KnowledgeIndex | None = None
    top_k: int = 5
    injection: str = "strip"
    """flag, strip or quarantine retrieved passages and tool results that carry instructions."""
    tools: list[str] = field(default_factory=list)
    """Tool-name globs this assistant offers the model and runs itself (the tool loop)."""
    tool_choice: str = "auto"
    max_tool_rounds: int = 4

    @property
    def owned_by(self) -> str:
        return "jaju" if self.system_prompt or self.defaults or self.knowledge or self.tools \
            else self.backend.name

    def _loop(self, request: ChatRequest, tool_use: ToolUse | None) -> ToolLoop | None:
        """The tool loop, when this assistant runs tools and the client brought none of its
        own (a client's `tools` means plain gateway mode: tool_calls go back untouched)."""
        if not self.tools or tool_use is None or request.tools \
                or not self.backend.capabilities.tools:
            return None
        use = replace(tool_use, policy=tool_use.policy.narrow(self.tools))
        return ToolLoop(self.backend, use, self.max_tool_rounds, self.tool_choice, self.injection)

    def prepare(self, request: ChatRequest, evidence: list[Hit] | None = None) -> ChatRequest:
        updates: dict[str, Any] = {
            k: v for k, v in self.defaults.items() if getattr(request, k, None) is None
        }
        system = "\n\n".join(p for p in (self.system_prompt,
                                         evidence_prompt(evidence) if evidence else "") if p)
        if system:
            updates["messages"] = [Message(role="system", content=system), *request.messages]
        return request.model_copy(update=updates) if updates else request

    # --- knowledge ------------------------------------------------------------------------------

    async def retrieve(self, request: ChatRequest, tenant: str) -> list[Hit]:
        if not self.knowledge or self.index is None:
            return []
        query = _last_user_text(request)
        if not query.strip():
            return []
        return await asyncio.to_thread(self._search, query, tenant)

    def _search(self, query: str, tenant: str) -> list[Hit]:
        assert self.index is not None
        hits: list[Hit] = []
        for name in self.knowledge:
            try:
                kb = self.index.get(tenant, name)
            except NotFound:
                continue  # a knowledge base this tenant cannot see adds nothing
            hits += self.index.search(kb, query, self.top_k)
        hits.sort(key=lambda h: -h.score)
        return self._screen(hits[: self.top_k])

    def _screen(self, hits: list[Hit]) -> list[Hit]:
        """Retrieved text is data, not instructions: strip, drop or flag what reads like an
        injection, as configured. It can never change which tools run or what is allowed."""
        kept = []
        for hit in hits:
            result = injection.check(hit.text)
            if not result.flagged:
                kept.append(hit)
                continue
            hit.source["injection"] = result.categories
            if self.injection == "quarantine":
                continue
            if self.injection == "strip":
                hit.text = injection.strip(hit.text)
            kept.append(hit)
        return kept

    def _synonyms(self, tenant: str) -> dict[str, list[str]]:
        assert self.index is not None
        merged: dict[str, list[str]] = {}
        for name in self.knowledge:
            kb = self.index.find(tenant, name) or self.index.find("*", name)
            if kb is not None:
                merged.update(kb.synonyms)
        return merged

    @property
    def quotes(self) -> bool:
        """Answers by quoting evidence (the backend generates nothing)."""
        return bool(self.knowledge) and not self.backend.capabilities.generative

    async def _quote(self, request: ChatRequest, tenant: str) -> tuple[str, list[dict[str, Any]]]:
        assert self.index is not None
        hits = await self.retrieve(request, tenant)
        query = _last_user_text(request)
        return await asyncio.to_thread(extractive_answer, query, hits, self.index.analyzer,
                                       self._synonyms(tenant))

    # --- generation -----------------------------------------------------------------------------

    async def complete(self, request: ChatRequest, tenant: str = "local",
                       tool_use: ToolUse | None = None) -> dict[str, Any]:
        if self.quotes:
            text, citations = await self._quote(request, tenant)
            prompt = sum(estimate_tokens(m.text) for m in request.messages)
            result = completion(request.model, {"role": "assistant", "content": text}, "stop",
                                usage_dict(prompt, estimate_tokens(text)))
            result["citations"] = citations
            return result
        evidence = await self.retrieve(request, tenant)
        loop = self._loop(request, tool_use)
        prepared = self.prepare(request, evidence)
        result = await (loop.complete(prepared) if loop else self.backend.complete(prepared))
        if self.knowledge:
            message = (result.get("choices") or [{}])[0].get("message") or {}
            result["citations"] = cited(message.get("content") or "", evidence)
        return result

    async def stream(self, request: ChatRequest, tenant: str = "local",
                     tool_use: ToolUse | None = None) -> AsyncGenerator[dict[str, Any], None]:
        if self.quotes:
            text, citations = await self._quote(request, tenant)
            cid = new_id()
            yield chunk(request.model, cid, {"role": "assistant", "content": ""})
            for piece in re.findall(r"\S+\s*|\s+", text):
                yield chunk(request.model, cid, {"content": piece})
            last = chunk(request.model, cid, {}, "stop")
            last["citations"] = citations
            last["usage"] = usage_dict(sum(estimate_tokens(m.text) for m in request.messages),
                                       estimate_tokens(text))
            yield last
            return
        evidence = await self.retrieve(request, tenant)
        parts: list[str] = []
        loop = self._loop(request, tool_use)
        prepared = self.prepare(request, evidence)
        inner = loop.stream(prepared) if loop else self.backend.stream(prepared)
        try:
            async for data in inner:
                for choice in data.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
                    if choice.get("finish_reason") and self.knowledge:
                        data["citations"] = cited("".join(parts), evidence)
                yield data
        finally:
            await inner.aclose()

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return await self.backend.embed(texts)


def _last_user_text(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            return message.text
    return ""
