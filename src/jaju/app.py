"""`create_app(settings)`: builds the state and mounts the routers. No globals."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jaju import __version__
from jaju.config import Settings
from jaju.state import AppState

log = logging.getLogger("jaju")


def create_app(settings: Settings | None = None, *, load_plugins: bool = True) -> FastAPI:
    from starlette.routing import Route

    from jaju import console
    from jaju.api import admin, errors, guard, health, knowledge, manage, openai
    from jaju.api.limits import BodyLimit
    from jaju.api.mcp import McpHttp
    from jaju.config import is_loopback

    settings = settings or Settings()
    state = AppState.build(settings, load_plugins=load_plugins)
    mcp = McpHttp(state, loopback_only=is_loopback(settings.server.host))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
            async with mcp.manager.run():
                yield
        finally:
            await state.aclose()

    # /docs and /redoc would load their scripts from a CDN: off (the schema stays at /openapi.json).
    # FastAPI's own OpenTelemetry export is off: nothing leaves the machine unless configured
    # (and checking for a tracer on every request cost time).
    app = Jaju(title="jaju", version=__version__, lifespan=lifespan, docs_url=None,
               redoc_url=None, telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.jaju = state
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    errors.install(app)
    app.include_router(health.router)
    app.include_router(openai.router)
    app.include_router(knowledge.router)
    app.include_router(guard.router)
    app.include_router(admin.router)
    app.include_router(manage.router)
    app.include_router(console.router)
    app.router.routes.append(Route("/mcp", endpoint=mcp, methods=["GET", "POST", "DELETE"]))
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    app.hot = {"/v1/chat/completions": openai.chat_completions,
               "/v1/embeddings": openai.embeddings}
    app.hot_app = BodyLimit(app.serve_hot, max_bytes=settings.server.max_body_bytes)
    return app


class Jaju(FastAPI):
    """The app. `POST /v1/chat/completions` and `/v1/embeddings`, the gateway's busiest
    endpoints, go straight to their handlers: they take the `Request`, read the raw body
    themselves and answer errors as the app's exception handlers would (`error_response`), so
    the framework's stack around them — five middleware layers, the walk through every route,
    dependency solving — bought nothing and cost about a fifth of a chat request's time
    (docs/benchmarks.md, second and third rounds). The body limit applies as to every route.
    Their FastAPI routes stay, for /openapi.json and the schema."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.hot: dict[str, Callable[[Request], Awaitable[Response]]] = {}
        self.hot_app: ASGIApp | None = None
        """`serve_hot` behind the body limit."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] in self.hot
                and self.hot_app is not None):
            scope["app"] = self
            await self.hot_app(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def serve_hot(self, scope: Scope, receive: Receive, send: Send) -> None:
        from jaju.api.errors import error_response
        from jaju.errors import ApiError

        try:
            response = await self.hot[scope["path"]](Request(scope, receive))
        except Exception as e:
            if not isinstance(e, ApiError):
                log.exception("unexpected error")
            response = error_response(e)
        await response(scope, receive, send)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the request bodies the routers read themselves (they take the
    raw body, so that limits are counted before parsing), for clients and API fuzzers."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi
    from pydantic import BaseModel

    from jaju.protocol import (
        ChatRequest,
        CheckRequest,
        EmbeddingRequest,
        SearchRequest,
        ToolCallRequest,
    )

    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    bodies: dict[tuple[str, str], type[BaseModel]] = {
        ("/v1/chat/completions", "post"): ChatRequest,
        ("/v1/embeddings", "post"): EmbeddingRequest,
        ("/v1/knowledge/{kb}/search", "post"): SearchRequest,
        ("/v1/guard/check", "post"): CheckRequest,
        ("/v1/tools/{name}/call", "post"): ToolCallRequest}
    for (path, method), model in bodies.items():
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
        schema["paths"][path][method]["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    app.openapi_schema = schema
    return schema
