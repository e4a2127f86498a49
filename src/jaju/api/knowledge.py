"""Knowledge endpoints: list the caller's knowledge bases and search one.

A knowledge base of another tenant answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from jaju.api.auth import authenticate, get_state

router = APIRouter(prefix="/v1/knowledge")


@router.get("")
async def list_knowledge(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    index = get_state(request).knowledge
    data = []
    for kb in await asyncio.to_thread(index.bases, caller.tenant):
        stats = await asyncio.to_thread(index.stats, kb)
        data.append({"id": kb.name, "object": "knowledge_base", "description": kb.description,
                     "shared": kb.shared, **stats})
    return {"object": "list", "data": data}


@router.post("/{kb}/search")
async def search(kb: str, request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    return await get_state(request).gateway.search(caller, kb, await request.body())
