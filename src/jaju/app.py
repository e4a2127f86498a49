"""`create_app(settings)`: builds the state and mounts the routers. No globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from jaju import __version__
from jaju.config import Settings
from jaju.state import AppState


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

    # /docs and /redoc would load their scripts from a CDN: off (the schema stays at /openapi.json)
    app = FastAPI(title="jaju", version=__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None)
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
    app.router.routes[:0] = _hot_routes(openai)
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    return app


def _hot_routes(openai: Any) -> list[Any]:
    """The gateway's busiest endpoints again, as plain Starlette routes matched first. Their
    handlers take the `Request` and read the raw body themselves, so FastAPI's per-request
    work around them (walking the included routers, solving dependencies) buys nothing; it was
    a tenth of jaju's time per chat request (docs/benchmarks.md, second round). Errors,
    middleware and the exception handlers are the app's as before; the FastAPI routes stay,
    for /openapi.json."""
    from starlette.routing import Route

    return [Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
            Route("/v1/embeddings", openai.embeddings, methods=["POST"])]


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
