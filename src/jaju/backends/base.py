"""The backend protocol: a few async methods and capability flags.

A backend returns OpenAI-shaped dicts: `complete` one `chat.completion`, `stream` a series of
`chat.completion.chunk` dicts whose last one carries `usage` (the gateway strips it when the
client did not ask for usage). Model quirks stay inside the backend.

Cancelling the task that iterates `stream` (a client disconnected) must stop generation.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from jaju.api.protocol import ChatRequest


@dataclass(frozen=True)
class Capabilities:
    tools: bool = False
    """Answers `tools` with `tool_calls`."""
    json_schema: bool = False
    """Honours `response_format` json_object / json_schema."""
    embeddings: bool = False
    """Serves /v1/embeddings."""
    generative: bool = True
    """Generates text (False for `extractive`, which can only quote evidence)."""


@runtime_checkable
class Backend(Protocol):
    name: str
    capabilities: Capabilities

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        """One whole `chat.completion` dict, with `usage`."""
        ...

    def stream(self, request: ChatRequest) -> AsyncGenerator[dict[str, Any], None]:
        """`chat.completion.chunk` dicts; the last one carries `usage`."""
        ...

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors for `texts` and the prompt tokens they cost."""
        ...

    async def start(self) -> None:
        """Load models, open connections. Called once when the app starts."""
        ...

    async def aclose(self) -> None:
        """Release everything `start` acquired."""
        ...
