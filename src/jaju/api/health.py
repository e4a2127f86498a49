"""GET /health: liveness, the state of each backend and what an operator should fix (no key
needed; names of assistants, backends and knowledge bases only, nothing from a request)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from jaju import __version__
from jaju.api.auth import get_state

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    state = get_state(request)
    backends = {name: ("error" if name in state.failed else "ok") for name in state.backends}
    warnings = await asyncio.to_thread(state.warnings)
    store = await asyncio.to_thread(state.store.unavailable)  # None, or why not
    if store:
        warnings.append(store + " (requests answer 503 store_unavailable until it is back)")
    status = "ok" if not warnings else "degraded"
    return {"status": status, "version": __version__, "backends": backends,
            "store": "ok" if store is None else "unavailable", "warnings": warnings}
