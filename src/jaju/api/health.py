"""GET /health: liveness and the state of each backend (no key needed, no details leaked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from jaju import __version__
from jaju.api.auth import get_state

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    state = get_state(request)
    backends = {name: ("error" if name in state.failed else "ok") for name in state.backends}
    status = "ok" if not state.failed else "degraded"
    return {"status": status, "version": __version__, "backends": backends}
