"""`create_app(settings)`: builds the state and mounts the routers. No globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jaju import __version__
from jaju.config import Settings
from jaju.state import AppState


def create_app(settings: Settings | None = None, *, load_plugins: bool = True) -> FastAPI:
    from starlette.routing import Route

    from jaju.api import admin, errors, guard, health, knowledge, openai
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

    app = FastAPI(title="jaju", version=__version__, lifespan=lifespan)
    app.state.jaju = state
    errors.install(app)
    app.include_router(health.router)
    app.include_router(openai.router)
    app.include_router(knowledge.router)
    app.include_router(guard.router)
    app.include_router(admin.router)
    app.router.routes.append(Route("/mcp", endpoint=mcp, methods=["GET", "POST", "DELETE"]))
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    return app
