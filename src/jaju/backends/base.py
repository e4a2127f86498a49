"""The backend protocol: a few async methods and capability flags.

A backend returns OpenAI-shaped dicts: `complete` one `chat.completion`, `stream` a series of
`chat.completion.chunk` dicts whose last one carries `usage` (the gateway strips it when the
client did not ask for usage). Model quirks stay inside the backend.

`evidence` is what the assistant retrieved for the question (`jaju.knowledge.Evidence`), or
None. The assistant has already put it, numbered, into the system prompt; a generative backend
can ignore the argument. The `extractive` backend answers from it by quoting.

Cancelling the task that iterates `stream` (a client disconnected) must stop generation.

A plugin adds a backend type with `register_backends` (see docs/plugins.md).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from jaju.protocol import ChatRequest

if TYPE_CHECKING:
    from jaju.knowledge.answer import Evidence


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

    async def complete(self, request: ChatRequest, *,
                       evidence: Evidence | None = None) -> dict[str, Any]:
        """One whole `chat.completion` dict, with `usage`."""
        ...

    def stream(self, request: ChatRequest, *,
               evidence: Evidence | None = None) -> AsyncGenerator[dict[str, Any], None]:
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
