"""POST /v1/guard/check: every registered guard on one text (offsets in characters)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from jaju.api.auth import authenticate, get_state

router = APIRouter(prefix="/v1/guard")


@router.post("/check")
async def check(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    return await get_state(request).gateway.check(caller, await request.body())
