"""OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/embeddings.

Thin: authenticate, hand the body to the `Gateway` (limits, guards, assistant, usage and
audit), and answer in OpenAI's shape — JSON, or server-sent events ending in `data: [DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from jaju import jsonio
from jaju.api.auth import authenticate, get_state
from jaju.api.errors import sse_event
from jaju.pipeline import ChatStream
from jaju.state import AppState

router = APIRouter(prefix="/v1")


@router.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    await authenticate(request)
    state = get_state(request)
    return {"object": "list", "data": [_model_card(state, name) for name in state.models]}


@router.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    await authenticate(request)
    state = get_state(request)
    state.model(model_id)
    return _model_card(state, model_id)


def _model_card(state: AppState, name: str) -> dict[str, Any]:
    assistant = state.models[name]
    caps = assistant.backend.capabilities
    return {"id": name, "object": "model", "created": 0, "owned_by": assistant.owned_by,
            "jaju": {"backend": assistant.backend.name, "tools": caps.tools,
                     "json_schema": caps.json_schema, "embeddings": caps.embeddings,
                     "description": assistant.description,
                     "available": assistant.backend.name not in state.failed}}


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    caller = await authenticate(request)
    result = await get_state(request).gateway.chat(caller, await request.body())
    if isinstance(result, dict):
        return FastJSONResponse(result)
    return EventStream(coalesced(_events(result)), media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


class EventStream(StreamingResponse):
    """A streaming answer that stops its source when the client goes away, as Starlette's
    `StreamingResponse` does, with one plain watcher task instead of an anyio task group and
    cancel scope per response (those cost about a tenth of a streamed request's time:
    docs/benchmarks.md, second round). The watcher cancels the request's own task at the
    await it is in, inside the body loop; the body's `finally` then closes the source."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await self.stream_response(send)
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()  # our own cancellation, delivered: the request ends normally
        finally:
            watcher.cancel()
        if self.background is not None:
            await self.background()


async def coalesced(events: AsyncIterator[bytes], depth: int = 64) -> AsyncIterator[bytes]:
    """`events`, with those that are ready at once joined into one write. A chunk that comes
    alone (a model generating token by token) goes out as soon as it is made; the chunks of
    one upstream read (a fast upstream, the usage chunk and `[DONE]`) cost one send through
    the ASGI stack and one socket write, not one each. At most `depth` wait unsent."""
    ready: asyncio.Queue[bytes] = asyncio.Queue(maxsize=depth)
    finished = False
    failure: list[BaseException] = []

    async def pump() -> None:
        nonlocal finished
        try:
            async for event in events:
                await ready.put(event)  # does not yield to the loop unless the queue is full
        except Exception as e:
            failure.append(e)
        finally:
            finished = True
            with contextlib.suppress(asyncio.QueueFull):
                ready.put_nowait(b"")  # wakes a waiting reader; an empty write is skipped

    task = asyncio.create_task(pump())
    try:
        while not (finished and ready.empty()):
            parts = [await ready.get()]
            while not ready.empty():
                parts.append(ready.get_nowait())
            data = b"".join(parts)
            if data:
                yield data
        if failure:
            raise failure[0]
    finally:
        if not task.done():  # the client went away: stop the stream (and generation)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _events(stream: ChatStream) -> AsyncIterator[bytes]:
    """Server-sent events: each chunk, then `[DONE]` — or the error as the last event."""
    try:
        async for data in stream:
            yield sse_event(data)
            if "error" in data:
                return
        yield b"data: [DONE]\n\n"
    finally:
        await stream.aclose()  # a client that went away stops generation


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, written by `jaju.jsonio.dumps` (orjson)."""

    def render(self, content: Any) -> bytes:
        return jsonio.dumps(content)


@router.post("/embeddings")
async def embeddings(request: Request) -> Response:
    caller = await authenticate(request)
    return FastJSONResponse(await get_state(request).gateway.embed(caller, await request.body()))
