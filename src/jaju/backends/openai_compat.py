"""The `openai` backend: any OpenAI-compatible upstream (vLLM, Ollama, llama.cpp server,
CLOVA Studio's compatible endpoint, another jaju).

Several replica URLs share the load round-robin. A replica that refuses the connection, times
out before answering or answers 502/503/504 is put aside for a few seconds and the request goes
to the next one (at most `retries` more tries). Once an answer has started streaming it is never
retried: a failure mid-stream is reported to the client as an error. The upstream key is read
from the environment variable named in the config and never logged.

The upstream client is aiohttp: on this path it costs about a third of httpx's CPU time per
request (0.21 vs 0.65 ms for a plain answer, 0.30 vs 1.0 ms for a 16-chunk stream:
bench/upstream_client.py), and the gateway spent about half of its own time here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp

from jaju import jsonio
from jaju.backends.base import Capabilities
from jaju.config import OpenAIBackend as OpenAISettings
from jaju.errors import ApiError, InvalidRequest, UpstreamError, UpstreamUnavailable
from jaju.protocol import ChatRequest

RETRY_STATUSES = {502, 503, 504}
JSON_HEADERS = {"Content-Type": "application/json"}
COOLDOWN_SECONDS = 5.0
DRAIN_SECONDS = 1.0
"""After `[DONE]`, how long the rest of an upstream's body is read for before the connection
is closed instead of kept for the next request."""


class _Replica:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.down_until = 0.0
        self.proxy = _env_proxy(self.url)

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
        self._client: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        headers = {}
        if self.settings.api_key_env:
            key = os.environ.get(self.settings.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
        self._client = aiohttp.ClientSession(
            headers=headers, trust_env=False,  # the proxy is read once per replica instead
            timeout=aiohttp.ClientTimeout(total=None, connect=self.settings.connect_timeout,
                                          sock_read=self.settings.timeout),
            connector=aiohttp.TCPConnector(limit=1000),
            read_bufsize=2**20,  # a stream's line may be up to 2 MiB (a long tool call)
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    # --- replica choice -----------------------------------------------------------------------

    def _order(self) -> list[_Replica]:
        """Replicas to try, starting round-robin; ones put aside go last."""
        n = len(self._replicas)
        start = next(self._next) % n
        ring = self._replicas[start:] + self._replicas[:start]
        return [r for r in ring if r.available] + [r for r in ring if not r.available]

    async def _send(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """The first replica's answer that is not a connection failure or 502/503/504; its body
        is not read yet (the caller reads it and releases the response)."""
        assert self._client is not None, "backend not started"
        order = self._order()
        attempts = min(len(order), self.settings.retries + 1)
        if attempts < self.settings.retries + 1:  # one replica: retry the same one
            order = list(itertools.islice(itertools.cycle(order), self.settings.retries + 1))
            attempts = len(order)
        last_error = ""
        payload = jsonio.dumps(body)
        for replica in order[:attempts]:
            try:
                response = await self._client.post(replica.url + path, data=payload,
                                                   headers=JSON_HEADERS, proxy=replica.proxy)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError,
                    aiohttp.ServerDisconnectedError) as e:
                replica.mark_down()
                last_error = f"{replica.url}: {type(e).__name__}"
                continue
            except (TimeoutError, aiohttp.ServerTimeoutError) as e:
                replica.mark_down()
                raise UpstreamUnavailable(
                    f"업스트림 응답 시간 초과 / upstream timed out ({self.name})"
                ) from e
            except aiohttp.ClientError as e:
                replica.mark_down()
                last_error = f"{replica.url}: {type(e).__name__}"
                continue
            if response.status in RETRY_STATUSES:
                response.close()
                replica.mark_down()
                last_error = f"{replica.url}: HTTP {response.status}"
                continue
            if response.status >= 400:
                try:
                    text = await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    text = b""
                finally:
                    response.release()
                raise _upstream_error(self.name, response.status, text)
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

    async def start_stream(self, request: ChatRequest) -> aiohttp.ClientResponse:
        return await self._send("/chat/completions", self._body(request, stream=True))

    async def _json(self, path: str, body: dict[str, Any]) -> Any:
        """POST `body` and read the answer as JSON."""
        response = await self._send(path, body)
        try:
            raw = await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise UpstreamUnavailable(f"업스트림 응답 시간 초과 / upstream timed out ({self.name})"
                                      ) from e
        except aiohttp.ClientError as e:
            raise UpstreamError(f"업스트림 연결이 끊겼습니다 / upstream connection lost "
                                f"({self.name}): {type(e).__name__}") from e
        finally:
            response.release()
        return jsonio.loads(raw)

    async def complete(self, request: ChatRequest, *, evidence: Any = None) -> dict[str, Any]:
        try:
            data: dict[str, Any] = await self._json("/chat/completions",
                                                    self._body(request, stream=False))
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
        try:
            async for raw in _Lines(response.content):
                if not raw.startswith(b"data:"):
                    continue
                payload = raw[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    data = jsonio.loads(payload)
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
        except (TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise UpstreamUnavailable(
                f"업스트림 스트림 시간 초과 / upstream stream timed out ({self.name})"
            ) from e
        except (aiohttp.ClientError, ValueError) as e:  # ValueError: a line over 2 MiB
            raise UpstreamError(
                f"업스트림 연결이 끊겼습니다 / upstream connection lost ({self.name}): "
                f"{type(e).__name__}"
            ) from e
        finally:
            if done:  # the body's end must be in, so that the connection goes back to the
                # pool (released before it, it would be dropped); it usually came with [DONE]
                if not response.content.is_eof():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(response.content.read(), DRAIN_SECONDS)
                response.release()
            else:
                response.close()
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
        try:
            data = await self._json("/embeddings", body)
            vectors = [d["embedding"] for d in sorted(data["data"], key=lambda d: d["index"])]
        except (ValueError, KeyError, TypeError) as e:
            raise UpstreamError(f"업스트림 응답 형식 오류 / malformed upstream answer ({self.name})"
                                ) from e
        tokens = int((data.get("usage") or {}).get("prompt_tokens", 0))
        return vectors, tokens


MAX_LINE = 2 * 2**20
"""Longest line accepted in an upstream stream (a long tool call's arguments come in one)."""


class _Lines:
    """The lines of an upstream stream as its bytes arrive: one await per network read, not
    per line (`async for line in content` awaits each line, blank ones included, and was a
    twentieth of a streamed request's time). Lines keep their `\r`; a line over MAX_LINE is
    a ValueError, as aiohttp's own reader raised."""

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self.content = content
        self.ready: list[bytes] = []
        self.rest = b""
        self.ended = False

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> bytes:
        while not self.ready:
            if self.ended:
                raise StopAsyncIteration
            block = await self.content.readany()
            if not block:
                self.ended = True
                if self.rest:
                    self.ready.append(self.rest)
                    self.rest = b""
                continue
            lines = (self.rest + block).split(b"\n")
            self.rest = lines.pop()
            if len(self.rest) > MAX_LINE:
                raise ValueError(f"a line of the stream is longer than {MAX_LINE} bytes")
            lines.reverse()
            self.ready = lines
        return self.ready.pop()


def _env_proxy(url: str) -> str | None:
    """The proxy HTTP_PROXY / HTTPS_PROXY name for `url` unless NO_PROXY exempts it (as httpx
    read them), read once: aiohttp's `trust_env` would read them, and ~/.netrc, per request."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def _upstream_error(name: str, status: int, body: bytes) -> ApiError:
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = body.decode("utf-8", "replace")[:500]
    if status in (400, 404, 422):
        error = InvalidRequest(f"업스트림이 요청을 거부했습니다 / upstream rejected the request "
                               f"({name}): {message}", code="upstream_rejected")
        error.status_code = 400 if status == 404 else status
        return error
    if status == 429:
        return UpstreamUnavailable(f"업스트림이 과부하 상태입니다 / upstream is rate limiting "
                                   f"({name}): {message}")
    return UpstreamError(f"업스트림 오류 / upstream error ({name}, HTTP {status}): {message}")
