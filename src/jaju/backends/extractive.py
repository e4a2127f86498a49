"""The `extractive` backend: the embedded default when no generative model is configured.

It generates nothing. With knowledge attached it answers by quoting the best evidence; with no
knowledge it says plainly, in Korean and English, that no generative model is configured and how
to add one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from typing import Any

from jaju.api.protocol import (
    ChatRequest,
    chunk,
    completion,
    estimate_tokens,
    new_id,
    usage_dict,
)
from jaju.backends.base import Capabilities
from jaju.errors import InvalidRequest

NO_MODEL_ANSWER = (
    "생성 모델이 설정되어 있지 않습니다. 지금은 jaju의 기본 `extractive` 백엔드가 응답하고 있어, "
    "지식 베이스가 연결되지 않은 질문에는 답을 만들 수 없습니다.\n\n"
    "생성 모델을 추가하려면:\n"
    "1. GGUF 파일 하나로 바로 실행: `jaju serve --model 모델.gguf`\n"
    "2. 또는 `jaju init`으로 만든 jaju.toml에 `[backends.이름]`을 추가하세요 "
    '(`type = "llamacpp"`와 `path`, 또는 `type = "openai"`와 vLLM·Ollama·CLOVA Studio의 `urls`).\n\n'
    "No generative model is configured: jaju's default `extractive` backend is answering. "
    "Serve a GGUF file with `jaju serve --model FILE.gguf`, or add a `[backends.NAME]` section "
    "(llamacpp or openai) to jaju.toml (see `jaju init`)."
)


class ExtractiveBackend:
    capabilities = Capabilities(generative=False)

    def __init__(self, name: str) -> None:
        self.name = name

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _check(self, request: ChatRequest) -> None:
        if request.tool_choice == "required" or (
            request.tool_choice is not None and not isinstance(request.tool_choice, str)
        ):
            raise InvalidRequest(
                f"'{self.name}' 모델은 도구 호출을 지원하지 않습니다 / "
                f"model '{self.name}' cannot call tools",
                param="tool_choice",
                code="unsupported_feature",
            )
        if request.response_format and request.response_format.type != "text":
            raise InvalidRequest(
                f"'{self.name}' 모델은 JSON 응답 형식을 지원하지 않습니다 / "
                f"model '{self.name}' does not support response_format "
                f"{request.response_format.type}",
                param="response_format",
                code="unsupported_feature",
            )

    def _answer(self, request: ChatRequest) -> tuple[str, str]:
        text = NO_MODEL_ANSWER
        finish = "stop"
        for stop in request.stop_list:
            if stop and stop in text:
                text = text[: text.index(stop)]
        limit = request.token_limit
        if limit is not None and estimate_tokens(text) > limit:
            text = text[: max(1, limit * 4 // 3)]
            finish = "length"
        return text, finish

    def _prompt_tokens(self, request: ChatRequest) -> int:
        return sum(estimate_tokens(m.text) for m in request.messages)

    async def complete(self, request: ChatRequest) -> dict[str, Any]:
        self._check(request)
        text, finish = self._answer(request)
        usage = usage_dict(self._prompt_tokens(request), estimate_tokens(text))
        return completion(request.model, {"role": "assistant", "content": text}, finish, usage)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[dict[str, Any], None]:
        self._check(request)
        text, finish = self._answer(request)
        cid = new_id()
        yield chunk(request.model, cid, {"role": "assistant", "content": ""})
        for piece in re.findall(r"\S+\s*|\s+", text):
            yield chunk(request.model, cid, {"content": piece})
        last = chunk(request.model, cid, {}, finish)
        last["usage"] = usage_dict(self._prompt_tokens(request), estimate_tokens(text))
        yield last

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        raise InvalidRequest(
            f"'{self.name}' 모델은 임베딩을 지원하지 않습니다 / "
            f"model '{self.name}' does not serve embeddings",
            param="model",
            code="unsupported_feature",
        )
