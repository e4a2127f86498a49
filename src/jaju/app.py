"""`create_app(settings)`: builds the state and mounts the routers. No globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jaju import __version__
from jaju.config import Settings
from jaju.state import AppState


def create_app(settings: Settings | None = None, *, load_plugins: bool = True) -> FastAPI:
    from jaju.api import errors, guard, health, knowledge, openai
    from jaju.api.limits import BodyLimit

    settings = settings or Settings()
    state = AppState.build(settings, load_plugins=load_plugins)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await state.start()
        try:
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
    app.add_middleware(BodyLimit, max_bytes=settings.server.max_body_bytes)
    return app
