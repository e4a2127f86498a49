"""POST /v1/guard/check: every registered guard on one text (offsets in characters)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from jaju.api.auth import get_state
from jaju.api.openai import _begin, _parse
from jaju.errors import ApiError

router = APIRouter(prefix="/v1/guard")


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=1_000_000)


@router.post("/check")
async def check(request: Request) -> dict[str, Any]:
    call = _begin(request, "guard.check")
    try:
        body = await _parse(request, CheckRequest)
        checks = get_state(request).guards
        results = {name: await asyncio.to_thread(fn, body.text) for name, fn in checks.items()}
    except ApiError as e:
        call.fail(e)
        raise
    call.finish(200)
    return results
