"""메아리 백엔드 / a sample jaju backend plugin: the `echo` backend type.

A backend type is a factory and a settings model, registered with `register_backends`. jaju
checks `[backends.NAME]` against the model (errors name the key path) and serves the backend
like a built-in one: as a bare model, or under an assistant. An agency's in-house model server
would be wired the same way.

    [backends.parrot]
    type = "echo"
    prefix = "메아리: "
    max_chars = 200
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jaju.backends.base import Capabilities
from jaju.errors import InvalidRequest
from jaju.hookspecs import hookimpl
from jaju.protocol import ChatRequest, chunk, completion, estimate_tokens, new_id, usage_dict


class EchoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["echo"]
    prefix: str = "메아리: "
    max_chars: int = Field(200, gt=0)


class EchoBackend:
    capabilities = Capabilities()

    def __init__(self, name: str, settings: EchoSettings) -> None:
        self.name, self.settings = name, settings

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _answer(self, request: ChatRequest) -> str:
        last = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        return (self.settings.prefix + last)[: self.settings.max_chars]

    def _usage(self, request: ChatRequest, text: str) -> dict[str, int]:
        return usage_dict(sum(estimate_tokens(m.text) for m in request.messages),
                          estimate_tokens(text))

    async def complete(self, request: ChatRequest, *, evidence: Any = None) -> dict[str, Any]:
        text = self._answer(request)
        return completion(request.model, {"role": "assistant", "content": text}, "stop",
                          self._usage(request, text))

    async def stream(self, request: ChatRequest, *,
                     evidence: Any = None) -> AsyncGenerator[dict[str, Any], None]:
        text, cid = self._answer(request), new_id()
        yield chunk(request.model, cid, {"role": "assistant", "content": ""})
        for i in range(0, len(text), 4):
            yield chunk(request.model, cid, {"content": text[i:i + 4]})
        last = chunk(request.model, cid, {}, "stop")
        last["usage"] = self._usage(request, text)
        yield last

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        raise InvalidRequest(f"'{self.name}' 모델은 임베딩을 지원하지 않습니다 / model "
                             f"'{self.name}' does not serve embeddings", param="model")


@hookimpl
def register_backends(register: Callable[..., None]) -> None:
    register("echo", EchoBackend, EchoSettings)
