"""An `Assistant` composes a backend with a system prompt and default sampling settings.

Knowledge bases, tools and guards attach here as they arrive; a bare backend is served as an
assistant with nothing attached, so the gateway has one kind of model.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from jaju.api.protocol import ChatRequest, Message
from jaju.backends.base import Backend


@dataclass
class Assistant:
    name: str
    backend: Backend
    description: str = ""
    system_prompt: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Request fields applied when the client leaves them out (temperature, top_p, max_tokens)."""

    @property
    def owned_by(self) -> str:
        return "jaju" if self.system_prompt or self.defaults else self.backend.name

    def prepare(self, request: ChatRequest) -> ChatRequest:
        updates: dict[str, Any] = {
            k: v for k, v in self.defaults.items() if getattr(request, k, None) is None
        }
        if self.system_prompt:
            system = Message(role="system", content=self.system_prompt)
            updates["messages"] = [system, *request.messages]
        return request.model_copy(update=updates) if updates else request

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        return await self.backend.complete(self.prepare(request))

    def stream(self, request: ChatRequest) -> AsyncGenerator[dict[str, Any], None]:
        return self.backend.stream(self.prepare(request))

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        return await self.backend.embed(texts)
