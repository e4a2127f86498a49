"""An `Assistant` composes a backend with a system prompt, default settings, knowledge and tools.

With knowledge attached, the assistant retrieves evidence for the last user message from the
caller's knowledge bases (and shared ones), passes it through the request's guards, and hands
it to the backend: numbered in the system prompt, for a generative model to cite as [n], and as
`Evidence` for a backend that quotes it (`extractive`). Responses then carry a top-level
`citations` list (in streaming, on the chunk that carries `finish_reason`). With tools, the
tool loop runs them. A bare backend is an assistant with nothing attached, so the gateway has
one kind of model.

Every request the assistant sends its backend passes the guards' `upstream` step first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from jaju.assistants.toolloop import ToolLoop, ToolUse
from jaju.backends.base import Backend, Capabilities
from jaju.caller import Caller
from jaju.errors import NotFound
from jaju.guards.base import GuardChain
from jaju.knowledge.answer import Evidence, evidence_prompt
from jaju.knowledge.index import Hit, KnowledgeIndex
from jaju.knowledge.rerank import CANDIDATES as RERANK_CANDIDATES
from jaju.knowledge.rerank import DEFAULT as RERANK_DEFAULT
from jaju.knowledge.rerank import Weights, rerank
from jaju.protocol import ChatRequest, Message

if TYPE_CHECKING:
    from jaju.config import AssistantSettings


@dataclass(frozen=True)
class Turn:
    """One request as an assistant runs it: who asks, the guards that apply, and the tools
    the request may use (None: no tool loop)."""

    caller: Caller
    guards: GuardChain
    tools: ToolUse | None = None


class GuardedBackend:
    """A backend seen through the request's guards: every request passes `upstream` first."""

    def __init__(self, backend: Backend, guards: GuardChain) -> None:
        self.backend, self.guards = backend, guards
        self.name = backend.name
        self.capabilities: Capabilities = backend.capabilities

    async def complete(self, request: ChatRequest, *,
                       evidence: Evidence | None = None) -> dict[str, Any]:
        return await self.backend.complete(await self.guards.upstream(request), evidence=evidence)

    async def stream(self, request: ChatRequest, *, evidence: Evidence | None = None
                     ) -> AsyncGenerator[dict[str, Any], None]:
        inner = self.backend.stream(await self.guards.upstream(request), evidence=evidence)
        try:
            async for data in inner:
                yield data
        finally:
            await inner.aclose()

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return await self.backend.embed(texts)

    async def start(self) -> None:
        await self.backend.start()

    async def aclose(self) -> None:
        await self.backend.aclose()


@dataclass(kw_only=True)
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
    knowledge_filter: dict[str, list[str]] = field(default_factory=dict)
    """Retrieve only passages whose source matches (e.g. {"title": ["근로기준법"]})."""
    rerank: str = "none"
    """"articles": rank statute articles from the chunks found (`jaju.knowledge.rerank`)."""
    rerank_weights: Weights = RERANK_DEFAULT
    """The reranking's weights (the law pack's unless the assistant sets `rerank_weights`)."""
    tools: list[str] = field(default_factory=list)
    """Tool-name globs this assistant offers the model and runs itself (the tool loop)."""
    tool_choice: str = "auto"
    max_tool_rounds: int = 4
    max_query_chars: int = 2_000
    """Characters of the question used for retrieval (`[limits] max_query_chars`)."""
    idle_tools: list[str] = field(default_factory=list)
    """A pack assistant's tools that its backend cannot call: the evidence says so, and the
    extractive backend's answers name them."""

    @classmethod
    def from_settings(cls, name: str, spec: AssistantSettings, backend: Backend,
                      index: KnowledgeIndex | None, max_query_chars: int = 2_000,
                      idle_tools: list[str] | None = None) -> Assistant:
        """The assistant `[assistants.NAME]` describes, on its backend; `idle_tools`: the
        tools a pack gives it that this backend cannot call."""
        return cls(name=name, backend=backend, description=spec.description,
                   max_query_chars=max_query_chars,
                   system_prompt=spec.system_prompt,
                   defaults={k: v for k in ("temperature", "top_p", "max_tokens")
                             if (v := getattr(spec, k)) is not None},
                   knowledge=list(spec.knowledge), index=index if spec.knowledge else None,
                   top_k=spec.top_k, knowledge_filter=dict(spec.knowledge_filter),
                   rerank=spec.rerank,
                   rerank_weights=replace(RERANK_DEFAULT, **spec.rerank_weights),
                   tools=list(spec.tools), tool_choice=spec.tool_choice,
                   max_tool_rounds=spec.max_tool_rounds, idle_tools=list(idle_tools or []))

    @property
    def owned_by(self) -> str:
        return "jaju" if self.system_prompt or self.defaults or self.knowledge or self.tools \
            else self.backend.name

    def _loop(self, request: ChatRequest, turn: Turn, backend: Backend) -> ToolLoop | None:
        """The tool loop, when this assistant runs tools and the client brought none of its
        own (a client's `tools` means plain gateway mode: tool_calls go back untouched)."""
        if not self.tools or turn.tools is None or request.tools \
                or not self.backend.capabilities.tools:
            return None
        use = replace(turn.tools, policy=turn.tools.policy.narrow(self.tools))
        return ToolLoop(backend, use, turn.caller, turn.guards, self.max_tool_rounds,
                        self.tool_choice)

    def prepare(self, request: ChatRequest, evidence: Evidence | None = None) -> ChatRequest:
        """The request as the backend gets it: defaults filled in, the system prompt and (for
        a generative backend) the numbered evidence in front."""
        updates: dict[str, Any] = {
            k: v for k, v in self.defaults.items() if getattr(request, k, None) is None
        }
        numbered = evidence_prompt(evidence.hits) if evidence is not None and evidence.hits \
            and self.backend.capabilities.generative else ""
        system = "\n\n".join(p for p in (self.system_prompt, numbered) if p)
        if system:
            updates["messages"] = [Message(role="system", content=system), *request.messages]
        return request.model_copy(update=updates) if updates else request

    # --- knowledge ------------------------------------------------------------------------------

    async def evidence(self, request: ChatRequest, turn: Turn) -> Evidence | None:
        """What the knowledge bases say about the last user message (None without knowledge),
        after the guards' `evidence` step (injection screening)."""
        if not self.knowledge or self.index is None:
            return None
        query = _last_user_text(request)[: self.max_query_chars]
        tenant = turn.caller.tenant
        hits = await asyncio.to_thread(self._search, query, tenant) if query.strip() else []
        hits = await turn.guards.evidence(hits)
        return Evidence(query, hits, self.index.analyzer, self._synonyms(tenant),
                        idle_tools=self.idle_tools)

    def _search(self, query: str, tenant: str) -> list[Hit]:
        assert self.index is not None
        hits: list[Hit] = []
        for name in self.knowledge:
            try:
                kb = self.index.get(tenant, name)
            except NotFound:
                continue  # a knowledge base this tenant cannot see adds nothing
            if self.rerank == "articles":  # articles from a few dozen chunk candidates
                found = self.index.search(kb, query, RERANK_CANDIDATES,
                                          filters=self.knowledge_filter or None)
                hits += rerank(query, found, self.index.analyzer, kb.synonyms, k=self.top_k,
                               weights=self.rerank_weights)
                continue
            hits += self.index.search(kb, query, self.top_k,
                                      filters=self.knowledge_filter or None)
        hits.sort(key=lambda h: -h.score)
        return hits[: self.top_k]

    def _synonyms(self, tenant: str) -> dict[str, list[str]]:
        assert self.index is not None
        merged: dict[str, list[str]] = {}
        for name in self.knowledge:
            kb = self.index.find(tenant, name) or self.index.find("*", name)
            if kb is not None:
                merged.update(kb.synonyms)
        return merged

    # --- generation -----------------------------------------------------------------------------

    def _backend(self, turn: Turn) -> Backend:
        """The backend, behind the request's `upstream` guards when there are any."""
        if turn.guards.uses("upstream"):
            return GuardedBackend(self.backend, turn.guards)
        return self.backend

    async def complete(self, request: ChatRequest, turn: Turn) -> dict[str, Any]:
        evidence = await self.evidence(request, turn)
        backend = self._backend(turn)
        prepared = self.prepare(request, evidence)
        loop = self._loop(request, turn, backend)
        result = await (loop.complete(prepared) if loop
                        else backend.complete(prepared, evidence=evidence))
        if evidence is not None and "citations" not in result:
            message = (result.get("choices") or [{}])[0].get("message") or {}
            result["citations"] = evidence.cited(message.get("content") or "")
        return result

    async def stream(self, request: ChatRequest, turn: Turn
                     ) -> AsyncGenerator[dict[str, Any], None]:
        evidence = await self.evidence(request, turn)
        backend = self._backend(turn)
        prepared = self.prepare(request, evidence)
        loop = self._loop(request, turn, backend)
        inner = loop.stream(prepared) if loop else backend.stream(prepared, evidence=evidence)
        parts: list[str] = []
        try:
            async for data in inner:
                for choice in data.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        parts.append(content)
                    if choice.get("finish_reason") and evidence is not None \
                            and "citations" not in data:
                        data["citations"] = evidence.cited("".join(parts))
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
