"""Knowledge endpoints: list the caller's knowledge bases and search one.

A knowledge base of another tenant answers 404, exactly like one that does not exist. An admin
key may list every tenant's (`?all=1`) and search one as its tenant (`?tenant=NAME`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from jaju.api.auth import acting_for, authenticate, get_state

router = APIRouter(prefix="/v1/knowledge")


@router.get("")
async def list_knowledge(request: Request) -> dict[str, Any]:
    caller = await authenticate(request)
    index = get_state(request).knowledge
    every = caller.admin and request.query_params.get("all") in ("1", "true")  # admin: all
    data = []
    for kb in await asyncio.to_thread(index.bases, None if every else caller.tenant):
        stats = await asyncio.to_thread(index.stats, kb)
        data.append({"id": kb.name, "object": "knowledge_base", "description": kb.description,
                     "shared": kb.shared, "tenant": None if kb.shared else kb.tenant, **stats})
    return {"object": "list", "data": data}


@router.post("/{kb}/search")
async def search(kb: str, request: Request) -> dict[str, Any]:
    caller = acting_for(request, await authenticate(request))  # ?tenant=: an admin for a tenant
    return await get_state(request).gateway.search(caller, kb, await request.body())
