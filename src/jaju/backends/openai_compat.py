"""The `openai` backend: any OpenAI-compatible upstream (vLLM, Ollama, llama.cpp server,
CLOVA Studio's compatible endpoint, another jaju).

Several replica URLs share the load round-robin. A replica that refuses the connection, times
out before answering or answers 502/503/504 is put aside for a few seconds and the request goes
to the next one (at most `retries` more tries). Once an answer has started streaming it is never
retried: a failure mid-stream is reported to the client as an error. The upstream key is read
from the environment variable named in the config and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from jaju.backends.base import Capabilities
from jaju.config import OpenAIBackend as OpenAISettings
from jaju.errors import ApiError, InvalidRequest, UpstreamError, UpstreamUnavailable
from jaju.protocol import ChatRequest

RETRY_STATUSES = {502, 503, 504}
COOLDOWN_SECONDS = 5.0
DRAIN_SECONDS = 1.0
"""After `[DONE]`, how long the rest of an upstream's body is read for before the connection
is closed instead of kept for the next request."""


class _Replica:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self.down_until

    def mark_down(self) -> None:
        self.down_until = time.monotonic() + COOLDOWN_SECONDS


class OpenAICompatBackend:
    def __init__(self, name: str, settings: OpenAISettings) -> None:
        self.name = name
        self.settings = settings
        self.upstream_model = settings.model or name
        self.capabilities = Capabilities(tools=True, json_schema=True,
                                         embeddings=settings.embeddings)
        self._replicas = [_Replica(u) for u in settings.urls]
        self._next = itertools.count()
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        headers = {}
        if self.settings.api_key_env:
            key = os.environ.get(self.settings.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    # --- replica choice -----------------------------------------------------------------------

    def _order(self) -> list[_Replica]:
        """Replicas to try, starting round-robin; ones put aside go last."""
        n = len(self._replicas)
        start = next(self._next) % n
        ring = self._replicas[start:] + self._replicas[:start]
        return [r for r in ring if r.available] + [r for r in ring if not r.available]

    async def _send(self, path: str, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        assert self._client is not None, "backend not started"
        order = self._order()
        attempts = min(len(order), self.settings.retries + 1)
        if attempts < self.settings.retries + 1:  # one replica: retry the same one
            order = list(itertools.islice(itertools.cycle(order), self.settings.retries + 1))
            attempts = len(order)
        last_error = ""
        for replica in order[:attempts]:
            request = self._client.build_request("POST", replica.url + path, json=body)
            try:
                response = await self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as e:
                replica.mark_down()
                last_error = f"{replica.url}: {type(e).__name__}"
                continue
            except httpx.TimeoutException as e:
                replica.mark_down()
                raise UpstreamUnavailable(
                    f"업스트림 응답 시간 초과 / upstream timed out ({self.name})"
                ) from e
            if response.status_code in RETRY_STATUSES:
                await response.aclose()
                replica.mark_down()
                last_error = f"{replica.url}: HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                await response.aread()
                await response.aclose()
                raise _upstream_error(self.name, response)
            return response
        raise UpstreamUnavailable(
            f"사용 가능한 업스트림이 없습니다 / no upstream replica reachable for '{self.name}' "
            f"({last_error})"
        )

    def _body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body = request.model_dump(exclude_none=True, by_alias=True,
                                  exclude={"stream_options", "confirm_tools"})
        body["model"] = self.upstream_model
        body["stream"] = stream
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    # --- the protocol ---------------------------------------------------------------------------

    async def start_stream(self, request: ChatRequest) -> httpx.Response:
        return await self._send("/chat/completions", self._body(request, stream=True),
                                stream=True)

    async def complete(self, request: ChatRequest, *, evidence: Any = None) -> dict[str, Any]:
        response = await self._send("/chat/completions", self._body(request, stream=False),
                                    stream=False)
        try:
            data: dict[str, Any] = response.json()
        except ValueError as e:
            raise UpstreamError(
                f"업스트림이 JSON이 아닌 응답을 보냈습니다 / upstream sent non-JSON ({self.name})"
            ) from e
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) \
                or not data["choices"]:
            raise UpstreamError(f"업스트림 응답 형식 오류 / malformed upstream answer ({self.name})")
        data["model"] = request.model
        return data

    async def stream(self, request: ChatRequest, *,
                     evidence: Any = None) -> AsyncGenerator[dict[str, Any], None]:
        response = await self.start_stream(request)
        done = False
        lines = response.aiter_lines()
        try:
            async for line in lines:
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    done = True
                    break
                try:
                    data = json.loads(payload)
                    if not isinstance(data, dict):
                        raise ValueError("not an object")
                except ValueError as e:
                    raise UpstreamError(
                        f"업스트림 스트림 형식 오류 / malformed upstream stream ({self.name})"
                    ) from e
                if "error" in data and "choices" not in data:
                    raise UpstreamError(
                        f"업스트림 오류 / upstream error ({self.name}): "
                        f"{data['error'].get('message', data['error'])}"
                    )
                data["model"] = request.model
                yield data
        except httpx.TimeoutException as e:
            raise UpstreamUnavailable(
                f"업스트림 스트림 시간 초과 / upstream stream timed out ({self.name})"
            ) from e
        except httpx.HTTPError as e:
            raise UpstreamError(
                f"업스트림 연결이 끊겼습니다 / upstream connection lost ({self.name}): "
                f"{type(e).__name__}"
            ) from e
        finally:
            if done:  # read the body's end, so that the connection goes back to the pool
                with contextlib.suppress(Exception):  # (closing it unread would drop it)
                    await asyncio.wait_for(_drain(lines), DRAIN_SECONDS)
            await response.aclose()
        if not done:
            raise UpstreamError(
                f"업스트림 스트림이 중간에 끝났습니다 / upstream stream ended early ({self.name})"
            )

    async def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        if not self.capabilities.embeddings:
            raise InvalidRequest(
                f"'{self.name}' 모델은 임베딩을 지원하지 않습니다 / "
                f"model '{self.name}' does not serve embeddings",
                param="model", code="unsupported_feature",
            )
        body = {"model": self.upstream_model, "input": texts}
        response = await self._send("/embeddings", body, stream=False)
        try:
            data = response.json()
            vectors = [d["embedding"] for d in sorted(data["data"], key=lambda d: d["index"])]
        except (ValueError, KeyError, TypeError) as e:
            raise UpstreamError(f"업스트림 응답 형식 오류 / malformed upstream answer ({self.name})"
                                ) from e
        tokens = int((data.get("usage") or {}).get("prompt_tokens", 0))
        return vectors, tokens


async def _drain(lines: AsyncIterator[str]) -> None:
    async for _ in lines:
        pass


def _upstream_error(name: str, response: httpx.Response) -> ApiError:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:500]
    status = response.status_code
    if status in (400, 404, 422):
        error = InvalidRequest(f"업스트림이 요청을 거부했습니다 / upstream rejected the request "
                               f"({name}): {message}", code="upstream_rejected")
        error.status_code = 400 if status == 404 else status
        return error
    if status == 429:
        return UpstreamUnavailable(f"업스트림이 과부하 상태입니다 / upstream is rate limiting "
                                   f"({name}): {message}")
    return UpstreamError(f"업스트림 오류 / upstream error ({name}, HTTP {status}): {message}")
