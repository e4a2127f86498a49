"""GET /health: liveness, the state of each backend and what an operator should fix (no key
needed; names of assistants, backends and knowledge bases only, nothing from a request). It
answers within a few seconds and stays 200 while the store or the knowledge index is away:
their reads are bounded (`AppState.probe`) and a failure is a warning (docs/scale.md#faults)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from jaju import __version__
from jaju.api.auth import get_state
from jaju.state import HEALTH_WAIT, AppState

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    state = get_state(request)
    backends = {name: ("error" if name in state.failed else "ok") for name in state.backends}
    warnings = await asyncio.to_thread(state.warnings)
    store = await asyncio.to_thread(_store_problem, state)
    if store:
        warnings.append(store + " (requests answer 503 store_unavailable until it is back)")
    redis_down = getattr(state.limiter, "down", None)  # None: limits kept in this process
    if redis_down:
        warnings.append("the shared limits' Redis was unreachable at the last request (" + (
            "requests answer 503 limits_unavailable" if state.settings.limits.fail == "closed"
            else "requests are admitted without the shared limits") + ")")
    status = "ok" if not warnings else "degraded"
    return {"status": status, "version": __version__, "backends": backends,
            "store": "ok" if store is None else "unavailable",
            "limits": "local" if redis_down is None else "unavailable" if redis_down else "ok",
            "warnings": warnings}


def _store_problem(state: AppState) -> str | None:
    """Why the store cannot be used (None: it can), never waiting longer than HEALTH_WAIT."""
    try:
        return state.probe("store", state.store.unavailable)
    except TimeoutError:
        return f"the store did not answer within {HEALTH_WAIT:g} s"
